"""Row filters at the source on the local stack (issue 26, filter.md): a BigQuery spec with a source.filter
provisions ACTIVE with the filter in its source connection's params.filters, its preview shows only the rows
it keeps (POST /explore and `aepflow plan --preview`), a filter on a column the table lacks fails naming it, a
changed filter is applied in place (one PATCH /sourceConnections with If-Match: same source connection, same
flow) and plans none after, and a filter on Mixpanel is INVALID before any AEP request.

test_replace.py runs these tests on its module's stack (a stack of their own would cost 3 s more)."""

from __future__ import annotations

import copy
import io
import json
from typing import Any

import pytest
import yaml

from aepflow.doors.cli import main
from aepflow.doors.cli import source as source_commands
from aepflow.doors.cli.remote import Answer
from aepflow.spec.filters import compile_filter
from local import sigv4
from local.stack import REGION
from tests.signed_http import in_process as api

TABLE = "acme.customers"
SOURCES = {"bigquery": {TABLE: {
    "columns": [{"name": "customer_id", "type": "long"}, {"name": "first_name", "type": "string"},
                {"name": "city", "type": "string"}, {"name": "age", "type": "long"},
                {"name": "updated_at", "type": "string", "xdmType": "date-time"}],
    "rows": [{"customer_id": i, "first_name": name, "city": city, "age": age,
              "updated_at": f"2024-05-01T1{i}:00:00Z"}
             for i, name, city, age in ((1, "Katherine", "DDN", 41), (2, "Dorothy", "DDN", 28), (3, "Mary", "MUM", 35),
                                        (4, "Christine", "PUD", 52))]}}}
FILTER = 'city = "DDN" and age > 30'
SPEC: dict[str, Any] = {
    "name": "acme-bigquery-customers", "description": "BigQuery customers of DDN over 30",
    "source": {"connector": "bigquery", "credentialsSecret": "aep/sources/acme-bigquery", "table": TABLE,
               "filter": FILTER},
    "target": {"schema": {"id": "https://ns.adobe.com/acme/schemas/52b59140414aa6a370ef5e21155fd7a686744b8739ecc168"},
               "dataset": {"create": {"name": "BigQuery customers"}}},
    "mapping": [{"source": "customer_id", "destination": "_id"},
                {"source": "first_name", "destination": "person.name.fullName"}],
    "deltaColumn": {"name": "updated_at", "dateFormat": "YYYY-MM-DD", "timezone": "UTC"},
    "schedule": {"frequency": "hour", "interval": 1, "startTime": 1590523836}}


class InProcessApi:
    """The aepflow command's Api, answered by the local stack's API in this process (no socket)."""

    def __init__(self, stack):
        self.stack = stack

    def call(self, method: str, path: str, *, query: dict[str, Any] | None = None, body: bytes | None = None,
             content_type: str = "application/json", headers: dict[str, str] | None = None) -> Answer:
        from urllib.parse import urlencode

        from local.serve import dispatch

        full = path + (f"?{urlencode(query)}" if query else "")
        sent = sigv4.sign(method, f"http://127.0.0.1{full}", body, {"Content-Type": content_type, **(headers or {})},
                          access_key=sigv4.LOCAL_ACCESS_KEY, secret_key=sigv4.LOCAL_SECRET_KEY, region=REGION)
        status, got, raw = dispatch(self.stack, method, full, sent, body)
        return Answer(status, json.loads(raw or b"null"), dict(got))


def plan_preview(stack, monkeypatch, path) -> list[dict]:
    monkeypatch.setattr(main, "api_of", lambda args: InProcessApi(stack))
    args = main.parser().parse_args(["plan", "--preview", "--json", str(path)])
    out = io.StringIO()
    assert args.run(args, out) == 0, out.getvalue()
    return [json.loads(line) for line in out.getvalue().splitlines()]


def requests_since(stack, mark: int) -> list[dict]:
    return stack.emulator.records[mark:]


@pytest.mark.stack(sources=SOURCES)
def test_a_filter_reaches_the_source_connection_previews_its_rows_and_changes_in_place(stack, tmp_path, monkeypatch):
    written = tmp_path / "customers.yaml"
    written.write_text(yaml.safe_dump(SPEC))
    [line] = plan_preview(stack, monkeypatch, written)[1:]  # not provisioned: nothing to preview through yet
    assert line["preview"]["rows"] is None and "needs its base connection" in line["preview"]["message"]

    [result] = stack.provision([SPEC])
    assert result["status"] == "ACTIVE", result
    source_id, flow_id = result["sourceConnectionId"], result["flowId"]
    [source] = [s for s in stack.emulator.dump_state()["sourceConnections"] if s["id"] == source_id]
    assert source["params"] == {"path": TABLE, "filters": compile_filter(FILTER)}
    assert source["params"]["filters"]["value"]["fnName"] == "and"

    plan, shown = plan_preview(stack, monkeypatch, written)
    assert plan["action"] == "none", plan
    assert [row["first_name"] for row in shown["preview"]["rows"]] == ["Katherine"]
    status, answer = api(stack, "POST", "/explore", {"dataflow": SPEC["name"], "table": TABLE, "rows": 20,
                                                     "filter": 'city in ("DDN", "MUM") and not first_name like "K%"'})
    assert status == 200 and [row["first_name"] for row in answer["rows"]] == ["Dorothy", "Mary"], answer
    args = main.parser().parse_args(["explore", SPEC["name"], TABLE, "--filter", "age >= 52", "--json"])
    monkeypatch.setattr(source_commands, "api_of", lambda args: InProcessApi(stack))
    out = io.StringIO()
    assert args.run(args, out) == 0
    assert [json.loads(line)["row"]["first_name"] for line in out.getvalue().splitlines() if '"row"' in line] == [
        "Christine"]

    changed = copy.deepcopy(SPEC)
    changed["source"]["filter"] = 'city in ("DDN", "MUM")'
    status, planned = api(stack, "POST", "/dataflows?dryRun=true", changed)
    [source_plan] = [r for r in planned["resources"] if r["kind"] == "sourceConnection"]
    assert source_plan["action"] == "update" and [c["field"] for c in source_plan["changes"]] == ["params.filters"]
    mark = len(stack.emulator.records)
    [result] = stack.provision([changed])
    assert result["status"] == "ACTIVE", result
    assert (result["sourceConnectionId"], result["flowId"]) == (source_id, flow_id)
    writes = [r for r in requests_since(stack, mark) if r["method"] in ("POST", "PATCH", "PUT", "DELETE")
              and "/ims/" not in r["path"]]
    [patch] = [r for r in writes if r["method"] == "PATCH"]
    assert patch["path"].endswith(f"/sourceConnections/{source_id}") and patch["status"] == 200
    assert {k.lower(): v for k, v in patch["headers"].items()}["if-match"] == source["etag"]
    assert patch["body"] == [{"op": "replace", "path": "/params/filters", "value": compile_filter(changed["source"]
                                                                                                   ["filter"])}]
    assert writes == [patch]  # nothing else written: no new source connection, no new flow
    status, planned = api(stack, "POST", "/dataflows?dryRun=true", changed)
    assert status == 200 and planned["action"] == "none", planned
    # The API's PATCH changes it in place too (a JSON Merge Patch of source.filter).
    status, answer = api(stack, "PATCH", f"/dataflows/{SPEC['name']}", {"source": {"filter": "age > 50"}})
    assert status == 200 and answer["aepChanges"] == ["sourceConnection.params.filters"], answer
    assert (answer["ids"]["sourceConnectionId"], answer["ids"]["flowId"]) == (source_id, flow_id)
    [source] = [s for s in stack.emulator.dump_state()["sourceConnections"] if s["id"] == source_id]
    assert source["params"]["filters"] == compile_filter("age > 50")


@pytest.mark.stack(sources=SOURCES)
def test_a_filter_on_a_column_the_table_lacks_fails_naming_it_and_mixpanel_takes_no_filter(stack):
    lacking = copy.deepcopy(SPEC)
    lacking["name"], lacking["source"]["filter"] = "acme-bigquery-cities", 'cty = "DDN" or age > 30'
    [result] = stack.provision([lacking])
    assert result["status"] == "FAILED", result
    [error] = result["errors"]
    assert error["problems"] == [{"path": "source.filter",
                                  "message": f"'cty' is not a column of {TABLE}; did you mean 'city'?"}], error

    mixpanel = yaml.safe_load(open("examples/003-mixpanel-events.yaml"))
    mixpanel["source"]["filter"] = 'event = "signup"'
    mark = len(stack.emulator.records)
    status, answer = api(stack, "POST", "/dataflows", mixpanel)
    assert status == 400 and answer["code"] == "SpecInvalid", answer
    [problem] = answer["problems"]
    assert problem["path"] == "source.filter" and "Mixpanel does not filter rows at the source" in problem["message"]
    assert "Google BigQuery, Microsoft Dynamics, Salesforce" in problem["message"]
    assert requests_since(stack, mark) == []  # no AEP request at all

