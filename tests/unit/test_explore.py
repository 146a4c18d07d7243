"""The explore operation (ops/explore.py) against an in-memory Flow Service that answers from the local
emulator's seed sources: a connector's tables, columns and rows through a transient base connection that
is always deleted, a dataflow's through its own; every refusal by field path; AEP's answers cut to their
bounds or refused when they are not what Flow Service documents."""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from aepflow.core.errors import AepNotFound, AepServerError, DataflowNotFound, SpecInvalid, error_for_status
from aepflow.ops import explore as explore_mod
from local.examples import example
from tests.fakes import FakeStore, fake_secrets

SAMPLES = Path(__file__).resolve().parents[2] / "local" / "emulator" / "sample_sources"
SECRETS = json.loads((Path(__file__).resolve().parents[2] / "local" / "fixtures" / "secrets.json").read_text())


def sample(name: str) -> dict[str, Any]:
    return json.loads((SAMPLES / f"{name}.json").read_text())


class FakeFlowService:
    """POST/DELETE /connections and GET /connections/{id}/explore, answering one source's tables."""

    def __init__(self, tables: dict[str, Any], *, sandbox: str = "prod") -> None:
        self.tables, self.sandbox = tables, sandbox
        self.connections: dict[str, dict[str, Any]] = {}
        self.calls: list[tuple[str, str, Any]] = []
        self.fail_explore: int | None = None
        self.fail_delete: int | None = None
        self.answer: Any = None  # an explore answer in place of the tables'

    def post(self, service: str, path: str, json: Any = None, **_: Any) -> Any:
        self.calls.append(("POST", path, json))
        assert path == "/connections"
        connection_id = str(uuid.uuid4())
        self.connections[connection_id] = json
        return {"id": connection_id, "etag": '"1"'}

    def delete(self, service: str, path: str, **_: Any) -> None:
        self.calls.append(("DELETE", path, None))
        if self.fail_delete:
            raise error_for_status(self.fail_delete)(f"DELETE {path}: refused", status=self.fail_delete)
        if self.connections.pop(path.rsplit("/", 1)[-1], None) is None:
            raise AepNotFound(f"DELETE {path}: not found", status=404)

    def get(self, service: str, path: str, params: Any = None, **_: Any) -> Any:
        self.calls.append(("GET", path, params))
        if self.fail_explore:
            raise error_for_status(self.fail_explore)(f"GET {path}: failed", status=self.fail_explore)
        if self.answer is not None:
            return copy.deepcopy(self.answer)
        kind = params["objectType"]
        if kind == "root":
            return [{"type": "table", "name": n, "path": n, "canPreview": True} for n in self.tables]
        if kind == "rest":
            return copy.deepcopy(next(iter(self.tables.values())))
        if params["object"] not in self.tables:
            raise AepNotFound(f"GET {path}: Object not found", status=404)
        answer = copy.deepcopy(self.tables[params["object"]])
        if params.get("preview") != "true":
            answer.pop("data", None)
        return answer

    def paginate(self, service: str, path: str, **_: Any) -> Any:
        return iter(())


@pytest.fixture
def aep(monkeypatch):
    def install(tables: dict[str, Any]) -> FakeFlowService:
        flow_service = FakeFlowService(tables)
        monkeypatch.setattr(explore_mod, "aep_client", lambda sandbox=None: flow_service)
        return flow_service
    fake_secrets(monkeypatch, SECRETS)
    return install


def test_a_connector_is_explored_through_a_transient_base_connection_that_is_deleted(aep):
    flow_service = aep(sample("salesforce"))
    answer = explore_mod.explore({"connector": "SalesForce", "credentialsSecret": "aep/sources/acme-salesforce"})
    assert answer["objectType"] == "root" and answer["connector"] == "salesforce"
    assert answer["tables"] == list(sample("salesforce"))
    [(_, _, body)] = [c for c in flow_service.calls if c[0] == "POST"]
    assert body["name"].startswith("aepflow-explore-salesforce-") and body["name"] == answer["baseConnection"]["name"]
    assert body["auth"]["specName"] == "Basic Authentication"
    assert set(body["auth"]["params"]) == set(SECRETS["aep/sources/acme-salesforce"])
    assert body["connectionSpec"]["id"] == "cfc0fee1-7dc0-40ef-b73e-d8b134c436f5"
    assert flow_service.connections == {}  # deleted, and said so
    assert answer["baseConnection"]["transient"] and answer["baseConnection"]["deleted"] and not answer["leftBehind"]


def test_a_tables_columns_carry_their_xdm_types_and_a_preview_at_most_the_rows_asked(aep):
    flow_service = aep(sample("database"))
    answer = explore_mod.explore({"connector": "oracle", "credentialsSecret": "aep/sources/acme-oracle",
                                  "table": "ADMIN.E2E", "rows": 1})
    assert [(c["name"], c["xdmType"]) for c in answer["columns"]] == [
        ("ID", "string"), ("NAME", "string"), ("DOB", "date"), ("updatedAt", "date-time")]
    assert answer["rows"] == [sample("database")["ADMIN.E2E"]["data"][0]]
    answer = explore_mod.explore({"connector": "oracle", "credentialsSecret": "aep/sources/acme-oracle",
                                  "table": "ADMIN.E2E", "rows": 0})
    assert answer["rows"] == [] and len(answer["columns"]) == 4
    explores = [c[2] for c in flow_service.calls if c[0] == "GET"]
    assert explores[0]["preview"] == "true" and "preview" not in explores[1]
    assert flow_service.connections == {}


def test_an_unknown_table_is_a_404_listing_the_tables_the_closest_first_and_nothing_is_left(aep):
    flow_service = aep(sample("salesforce"))
    with pytest.raises(DataflowNotFound) as refused:
        explore_mod.explore({"connector": "salesforce", "credentialsSecret": "aep/sources/acme-salesforce",
                             "table": "Leads"})
    assert (refused.value.status, refused.value.code) == (404, "TableNotFound")
    [problem] = refused.value.problems
    assert problem["path"] == "table" and "did you mean 'Lead'" in problem["message"]
    assert problem["message"].index("it has Lead") < problem["message"].index("Contact")
    assert flow_service.connections == {}


def test_the_transient_connection_is_deleted_when_the_explore_fails_and_reported_when_aep_keeps_it(aep):
    flow_service = aep(sample("salesforce"))
    flow_service.fail_explore = 500
    with pytest.raises(AepServerError):
        explore_mod.explore({"connector": "salesforce", "credentialsSecret": "aep/sources/acme-salesforce"})
    assert flow_service.connections == {} and flow_service.calls[-1][0] == "DELETE"
    flow_service.fail_explore, flow_service.fail_delete = None, 403
    answer = explore_mod.explore({"connector": "salesforce", "credentialsSecret": "aep/sources/acme-salesforce"})
    [left] = answer["leftBehind"]
    assert left["id"] == answer["baseConnection"]["id"] and left["kind"] == "baseConnection"
    assert answer["baseConnection"]["deleted"] is False and answer["tables"]


def test_a_rest_source_answers_its_leaf_paths_and_sample_records(aep):
    aep(sample("mixpanel"))
    answer = explore_mod.explore({"connector": "mixpanel", "credentialsSecret": "aep/sources/acme-mixpanel",
                                  "params": {"projectId": "2671127", "timezone": "UTC"}, "rows": 2})
    names = [c["name"] for c in answer["columns"]]
    assert answer["objectType"] == "rest" and "properties.distinct_id" in names and "event" in names
    assert next(c for c in answer["columns"] if c["name"] == "properties.time")["type"] == "integer"
    assert len(answer["rows"]) == 2 and answer["rows"][0]["properties"]["distinct_id"] == "test@test.com"


@pytest.mark.parametrize("body, path, words", [
    ({"connector": "postgres", "credentialsSecret": "aep/sources/x"}, "connector", "did you mean 'postgresql'"),
    ({"connector": "salesforce"}, "credentialsSecret", "give its name"),
    ({"connector": "salesforce", "credentialsSecret": "aepflow/aep-credentials"}, "credentialsSecret",
     "own AEP credentials"),
    ({"connector": "salesforce", "credentialsSecret": "aep/sources/missing"}, "credentialsSecret", "does not exist"),
    ({"connector": "salesforce", "credentialsSecret": "aep/sources/acme-oracle"}, "credentialsSecret", "fits no auth"),
    ({"connector": "salesforce", "credentialsSecret": "aep/sources/acme-salesforce", "authSpec": "Nope"}, "authSpec",
     "is not an auth spec"),
    ({"connector": "mixpanel", "credentialsSecret": "aep/sources/acme-mixpanel"}, "params.projectId", "needs"),
    ({"connector": "zendesk", "credentialsSecret": "aep/sources/acme-zendesk", "table": "users"}, "table", "REST"),
    ({"dataflow": "acme-x", "connector": "salesforce"}, "connector", "not both"),
    ({"connector": "salesforce", "credentialsSecret": "aep/sources/acme-salesforce", "rows": 21}, "rows", "20"),
    ({"connector": "salesforce", "credentialsSecret": "aep/sources/acme-salesforce", "extra": 1}, "extra", ""),
])
def test_a_request_is_refused_by_field_path_before_anything_is_made(aep, body, path, words):
    flow_service = aep(sample("salesforce"))
    with pytest.raises(SpecInvalid) as refused:
        explore_mod.explore(body)
    assert refused.value.code == "RequestInvalid"
    assert any(p["path"] == path and words in p["message"] for p in refused.value.problems), refused.value.problems
    assert flow_service.calls == []


def test_a_dataflow_is_explored_through_its_own_base_connection(aep, monkeypatch):
    store = FakeStore().install(monkeypatch)
    store.put_record("acme-oracle-e2e", example("004"), {"baseConnectionId": "b0c0ffee-0000-4000-8000-000000000001"})
    flow_service = aep(sample("database"))
    answer = explore_mod.explore({"dataflow": "acme-oracle-e2e", "table": "ADMIN.E2E", "rows": 2})
    assert answer["dataflow"] == "acme-oracle-e2e" and answer["connector"] == "oracle" and len(answer["rows"]) == 2
    assert answer["baseConnection"] == {"id": "b0c0ffee-0000-4000-8000-000000000001", "transient": False}
    assert not [c for c in flow_service.calls if c[0] != "GET"]
    assert {c[1] for c in flow_service.calls} == {"/connections/b0c0ffee-0000-4000-8000-000000000001/explore"}
    with pytest.raises(DataflowNotFound):
        explore_mod.explore({"dataflow": "acme-nothing"})


def test_aeps_answers_are_cut_to_their_bounds_or_refused(aep):
    flow_service = aep({})
    wide = {"schema": {"columns": [{"name": f"c{i}", "type": "string"} for i in range(explore_mod.MAX_COLUMNS + 5)]},
            "data": [{"c0": "x" * 5000, "deep": {"a": {"b": {"c": {"d": {"e": {"f": {"g": 1}}}}}}}}] * 40}
    flow_service.answer = wide
    answer = explore_mod.explore({"connector": "oracle", "credentialsSecret": "aep/sources/acme-oracle",
                                  "table": "T", "rows": 20})
    assert len(answer["columns"]) == explore_mod.MAX_COLUMNS and len(answer["rows"]) == 20
    assert len(answer["rows"][0]["c0"]) == explore_mod.MAX_TEXT
    assert "..." in json.dumps(answer["rows"][0]["deep"])
    for hostile in ({"schema": {"columns": "all of them"}}, {"schema": {"columns": [{"name": ""}]}},
                    {"schema": {"columns": [{"name": "x", "type": ["not", "text"]}]}}):
        flow_service.answer = hostile
        with pytest.raises(AepServerError, match="not what Flow Service documents"):
            explore_mod.explore({"connector": "oracle", "credentialsSecret": "aep/sources/acme-oracle", "table": "T"})
    assert flow_service.connections == {}
