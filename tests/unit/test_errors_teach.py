"""Errors that teach (issue 23): every refusal of a spec names its field path, and an unknown name
(a field, a connector, an auth spec, a table, a column) comes with the closest known ones."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from aepflow.core.errors import AepNotFound, AepValidationError, SourceMismatch, SpecInvalid
from aepflow.doors.cli.main import validate_file
from aepflow.spec import connectors, suggest, unknown, xdm
from aepflow.spec.auth import choose, choose_auth, shortfalls
from aepflow.spec.connectors import CONNECTORS
from aepflow.spec.model import DataflowSpec
from aepflow.spec.parse import parse_spec, resolve_source
from aepflow.steps.context import Context, StepEvent
from aepflow.steps.source import create_source_connection, explore_and_check
from aepflow.steps.validate import mapping_problems

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _example(prefix: str) -> dict[str, Any]:
    return yaml.safe_load(next(EXAMPLES.glob(f"{prefix}-*.yaml")).read_text())


def _problems(raw: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(SpecInvalid) as refused:
        parse_spec(raw)
    problems = refused.value.problems
    assert len({p["path"] for p in problems}) == len(problems), problems  # one problem a path
    return {p["path"]: p["message"] for p in problems}


# --- suggest ------------------------------------------------------------------------------------

def test_closest_ignores_case_and_separators_and_keeps_the_known_spelling():
    assert suggest.closest("delta_column", ["deltaColumn", "description"]) == ["deltaColumn"]
    assert suggest.closest("CONTACT", ["Account", "Contact", "Lead"])[0] == "Contact"
    assert suggest.closest("zzzz", ["Account", "Contact"]) == []
    assert suggest.did_you_mean("emial", ["email", "name"]) == "; did you mean 'email'?"
    assert suggest.did_you_mean("zzzz", ["email"]) == ""


def test_a_listing_is_bounded_and_puts_the_closest_first():
    names = [f"T{i:02d}" for i in range(30)] + ["Leads"]
    shown = suggest.ranked("Lead", names)
    assert shown.startswith("Leads, ") and shown.endswith("... and 11 more")
    assert shown.count(",") == suggest.LISTED - 1


# --- 1, 2: connectors ---------------------------------------------------------------------------

def test_an_unknown_connector_is_invalid_at_its_path_naming_the_closest():
    raw = _example("004")
    raw["source"]["connector"] = "postgres"
    message = _problems(raw)["source.connector"]
    assert "'postgres'" in message and "did you mean 'postgresql'" in message


def test_a_connector_nothing_is_close_to_lists_them_all():
    raw = _example("004")
    raw["source"]["connector"] = "zzzzzz"
    message = _problems(raw)["source.connector"]
    assert all(name in message for name in CONNECTORS)


@pytest.mark.parametrize("name", ["PostgreSQL", "POSTGRESQL", " postgresql "])
def test_a_connector_name_in_any_case_is_accepted_and_resolves_to_its_name(name):
    raw = _example("004")
    raw["source"]["connector"] = name
    assert resolve_source(parse_spec(raw)).connector == "postgresql"


def test_find_and_closest_give_the_command_a_case_insensitive_lookup():
    found = connectors.find("Salesforce")
    assert found is not None and found.name == "salesforce"
    assert connectors.find("salesforc") is None
    assert connectors.closest("salesforc") == ["salesforce"]
    assert connectors.closest("postgres")[0] == "postgresql"
    assert connectors.closest("Microsoft SQL Server") == ["sqlserver"]  # by label
    assert connectors.closest("zzzzzz") == []


# --- 3: unknown fields --------------------------------------------------------------------------

def _set(raw: dict[str, Any], path: list[Any], key: str, value: Any = "x") -> None:
    node: Any = raw
    for part in path:
        node = node[part]
    node[key] = value


# (where the typo goes, the typo, the path reported, the field it must name)
UNKNOWN_FIELDS = [
    ([], "sandobx", "sandobx", "sandbox"),
    (["source"], "tabel", "source.tabel", "table"),
    (["source", "columns", 1], "nmae", "source.columns[1].name", "name"),
    (["target"], "datset", "target.datset", "dataset"),
    (["target", "schema"], "ids", "target.schema.ids", "id"),
    (["target", "dataset"], "ids", "target.dataset.ids", "id"),
    (["mapping", 0], "destinaton", "mapping[0].destinaton", "destination"),
    (["deltaColumn"], "timezon", "deltaColumn.timezon", "timezone"),
    (["schedule"], "backfil", "schedule.backfil", "backfill"),
    (["alerts"], "failedRecordsPercen", "alerts.failedRecordsPercen", "failedRecordsPercent"),
]


@pytest.mark.parametrize("where, typo, path, meant", UNKNOWN_FIELDS, ids=[u[1] for u in UNKNOWN_FIELDS])
def test_an_unknown_field_of_every_model_names_the_closest_field_at_its_path(where, typo, path, meant):
    raw = _example("001")
    raw.setdefault("alerts", {})
    if path.startswith("source.columns[1]"):
        path = f"source.columns[1].{typo}"
    _set(raw, where, typo)
    problems = _problems(raw)
    assert list(problems) == [path]
    assert f"unknown field {typo!r}" in problems[path] and f"did you mean {meant!r}" in problems[path]
    assert "Extra inputs" not in problems[path]


@pytest.mark.parametrize("where, typo, path, meant", [
    (["options"], "partialIngestion", "options.partialIngestion", "partialIngestionPercent"),
    (["onDelete"], "datasets", "onDelete.datasets", "dataset"),
    (["resources", "flow"], "nam", "resources.flow.nam", "name"),
    (["target", "schema", "create"], "classs", "target.schema.create.classs", "class"),
])
def test_optional_models_too(where, typo, path, meant):
    raw = _example("004")
    raw["options"], raw["onDelete"], raw["resources"] = {}, {}, {"flow": {}}
    _set(raw, where, typo)
    assert f"did you mean {meant!r}" in _problems(raw)[path]


def test_a_typo_of_a_missing_field_is_one_problem_not_two():
    raw = _example("001")
    raw["deltaColum"] = raw.pop("deltaColumn")
    problems = _problems(raw)
    assert list(problems) == ["deltaColum"]  # not also "deltaColumn: ... need a Copy deltaColumn"
    message = problems["deltaColum"]
    assert "did you mean 'deltaColumn'" in message and "need a Copy deltaColumn" in message
    raw = _example("001")
    raw["schedlue"] = raw.pop("schedule")
    problems = _problems(raw)
    assert list(problems) == ["schedlue"] and "did you mean 'schedule'" in problems["schedlue"]


def test_a_field_put_in_the_wrong_model_says_where_it_belongs():
    raw = _example("001")
    raw["source"]["deltaColum"] = "updatedAt"
    message = _problems(raw)["source.deltaColum"]
    assert "deltaColumn is a field of the top level of the spec, not of source" in message


def test_an_unknown_field_nothing_is_close_to_lists_what_the_model_takes():
    raw = _example("001")
    raw["schedule"]["qqqqqqqq"] = 1
    message = _problems(raw)["schedule.qqqqqqqq"]
    assert all(name in message for name in ("frequency", "interval", "startTime", "backfill"))


def test_the_allowed_fields_come_from_the_model_with_its_aliases():
    assert unknown.model_at(("target", "schema", "create")).__name__ == "SchemaCreate"
    assert unknown.model_at(("mapping", 3)).__name__ == "MappingRule"
    assert "class" in unknown.field_names(unknown.model_at(("target", "schema", "create")))
    assert set(unknown.field_names(DataflowSpec)) >= {"name", "source", "deltaColumn", "schedule"}


def test_a_value_outside_a_fields_choices_names_the_closest():
    raw = _example("001")
    raw["schedule"]["frequency"] = "minutes"
    assert "did you mean 'minute'" in _problems(raw)["schedule.frequency"]


# --- 4: auth specs and credentials ---------------------------------------------------------------

def test_an_unknown_auth_spec_name_names_the_closest_of_that_connector():
    raw = _example("001")
    raw["source"]["authSpecName"] = "basic authentication"
    message = _problems(raw)["source.authSpecName"]
    assert "did you mean 'Basic Authentication'" in message and "'OAuth2 Client Credential'" in message


def test_the_credentials_check_names_the_closest_auth_spec_and_params():
    salesforce = CONNECTORS["salesforce"]
    basic = salesforce.auth_spec("Basic Authentication")
    assert basic is not None
    refused = choose(salesforce.auth_specs, {}, "Basic Auth", "Salesforce")
    assert refused.spec is None and "did you mean 'Basic Authentication'" in refused.problems[0]
    secret = {"usrname": "VALUE-1", "password": "VALUE-2", "securityToken": "VALUE-3"}
    [lacks] = shortfalls(basic, secret)
    assert lacks.startswith("lacks username") and "(the secret has usrname: did you mean username?)" in lacks
    assert "VALUE-" not in lacks  # key names only, never a value


def test_a_secret_key_an_auth_spec_does_not_define_is_warned_with_the_closest_param():
    spec = parse_spec(_example("001"))
    salesforce = CONNECTORS["salesforce"]
    basic = salesforce.auth_spec("Basic Authentication")
    assert basic is not None
    secret = {name: "value" for name in basic.required} | {"passwrd": "value"}
    _, problems, warnings = choose_auth(spec, (basic,), "Salesforce", secret)
    assert problems == [] and "did you mean password for passwrd?" in warnings[0]["message"]


# --- 5, 6: tables and columns explore sees ------------------------------------------------------

class FakeExplore:
    """Flow Service's explore as the emulator and AEP answer it: the root lists the tables; a table
    that is not one of them is 404."""

    sandbox = "prod"

    def __init__(self, tables: dict[str, list[str]]):
        self.tables = tables
        self.asked: list[dict[str, Any]] = []

    def get(self, service: str, path: str, params: Any = None, **_: Any) -> Any:
        assert service == "flowservice" and path.endswith("/explore")
        self.asked.append(dict(params))
        if params["objectType"] == "root":
            return [{"type": "table", "name": n, "path": n, "canPreview": True} for n in self.tables]
        if params["object"] not in self.tables:
            raise AepNotFound("GET /connections/c/explore: Object not found", status=404)
        return {"format": "flat", "schema": {"columns": [{"name": c, "type": "string"}
                                                          for c in self.tables[params["object"]]]}}

    def post(self, service: str, path: str, json: Any = None, **_: Any) -> Any:
        assert path == "/sourceConnections"
        if json["params"]["tableName"] not in self.tables:  # as the emulator and AEP refuse it
            raise AepValidationError(f"Invalid source params: Table {json['params']['tableName']} not found",
                                     status=400)
        return {"id": "source-connection"}


def _context(raw: dict[str, Any], client: FakeExplore) -> Context:
    spec = parse_spec(raw)
    state = {"spec": spec.model_dump(mode="json", by_alias=True, exclude_none=True),
             "resolved": resolve_source(spec).model_dump(mode="json"), "ids": {"baseConnectionId": "c"}}
    context = Context(StepEvent(state), client=client)  # type: ignore[arg-type]
    context.ensure = lambda kind, name, create, find=None: create()  # type: ignore[method-assign]
    return context


def test_an_unknown_table_lists_the_tables_explore_sees_closest_first():
    tables = {"Account": ["id"], "Contact": ["id"], "Lead": ["id"]} | {f"Custom{i:02d}__c": ["id"] for i in range(25)}
    raw = _example("001")
    raw["source"]["table"] = "Leads"
    with pytest.raises(SourceMismatch) as refused:
        explore_and_check(_context(raw, FakeExplore(tables)), "c")
    [problem] = refused.value.problems
    assert problem["path"] == "source.table"
    message = problem["message"]
    assert "no table 'Leads'; did you mean 'Lead'?" in message
    assert "(it has Lead, " in message and message.endswith("... and 8 more)")
    assert "Object not found" not in message


def test_the_source_connection_refused_for_an_unknown_table_says_the_same():
    """With the columns given, "Create the source connection" runs beside the explore, and AEP refuses
    the table there too: whichever branch sees it first, the refusal lists the tables at source.table."""
    raw = _example("001")
    raw["source"]["table"] = "Contacts"
    client = FakeExplore({"Contact": ["id"], "Account": ["id"]})
    with pytest.raises(SourceMismatch) as refused:
        create_source_connection.__wrapped__(_context(raw, client))
    assert refused.value.problems[0]["path"] == "source.table"
    assert "did you mean 'Contact'?" in refused.value.message
    raw["source"]["table"] = "Contact"
    raw["source"]["columns"] = [{"name": "id"}]
    assert create_source_connection.__wrapped__(_context(raw, client))["sourceConnectionId"] == "source-connection"


def test_a_404_for_a_table_the_root_lists_is_not_called_an_unknown_table():
    client = FakeExplore({"Accounts": ["id"]})
    context = _context(_example("001"), client)
    client.get = lambda service, path, params=None, **_: (  # type: ignore[method-assign]
        [{"type": "table", "name": "Accounts", "path": "Accounts"}] if params["objectType"] == "root"
        else (_ for _ in ()).throw(AepNotFound("connection gone", status=404)))
    with pytest.raises(AepNotFound):
        explore_and_check(context, "c")


def test_a_column_typo_names_its_field_path_and_the_closest_columns():
    raw = _example("001")  # columns first_name, last_name, email; mapping[2] maps email
    raw["mapping"][2]["source"] = "emial"
    raw["source"]["columns"][1]["name"] = "lastname"
    client = FakeExplore({"Accounts": ["first_name", "last_name", "email", "updatedAt"]})
    with pytest.raises(SourceMismatch) as refused:
        explore_and_check(_context(raw, client), "c")
    problems = {p["path"]: p["message"] for p in refused.value.problems}
    assert set(problems) == {"mapping[2].source", "source.columns[1].name"}
    assert "'emial' is not a column of Accounts; did you mean 'email'?" == problems["mapping[2].source"]
    assert "did you mean 'last_name'?" in problems["source.columns[1].name"]
    assert "has no column emial, lastname;" in refused.value.message


def test_validation_warns_of_a_mapped_attribute_the_specs_own_columns_lack():
    raw = _example("001")
    raw["mapping"][2]["source"] = "emial"
    spec = parse_spec(raw)
    resolved = resolve_source(spec)
    assert mapping_problems(spec, resolved) == []
    [warning] = resolved.warnings
    assert warning["path"] == "mapping[2].source" and "did you mean 'email'?" in warning["message"]
    resolved = resolve_source(parse_spec(_example("001")))
    mapping_problems(parse_spec(_example("001")), resolved)
    assert resolved.warnings == []


def test_a_mapping_destination_typo_names_the_closest_xdm_field():
    fields = xdm.standard_fields(["https://ns.adobe.com/xdm/context/profile",
                                  "https://ns.adobe.com/xdm/context/profile-person-details"])
    assert fields is not None
    node, why = xdm.field_at(fields, "person.name.fullNme")
    assert node is None and "did you mean 'fullName'?" in str(why)


# --- aepflow validate shows them ------------------------------------------------------------------

def test_aepflow_validate_shows_the_teaching_messages(tmp_path):
    raw = _example("001")
    raw["source"]["connector"] = "Salesforcee"
    raw["deltaColum"] = raw.pop("deltaColumn")
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(raw))
    result = validate_file(str(path))
    errors = {e["path"]: e["message"] for e in result["errors"]}
    assert result["status"] == "INVALID"
    assert "did you mean 'salesforce'" in errors["source.connector"]
    assert "did you mean 'deltaColumn'" in errors["deltaColum"]
