"""The API handler on the shared sample events of events/: routing, validation, the error
shape (a stable `code`, never a stack trace), YAML bodies, and the OpenAPI document."""

import json
import os
from pathlib import Path

import pytest

os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

from aepflow.core.errors import (  # noqa: E402
    AepPreconditionFailed,
    AepServerError,
    DataflowConflict,
    DataflowNotFound,
    SpecInvalid,
)
from aepflow.doors.api import openapi, routes
from aepflow.ops import adopt, dataflow_runs, delete, describe, start
from aepflow.ops.apply import patch as apply_patch
from aepflow.ops.plan import read as plan_read
from local.stack import FakeLambdaContext, load_handler  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"


def _handler():
    return load_handler("functions/api/", "app.lambda_handler")


def _context() -> FakeLambdaContext:
    return FakeLambdaContext("aepflow-ApiFunction", 256, 29)


HANDLER = _handler()


def event(name: str) -> dict:
    return json.loads((EVENTS / f"{name}.json").read_text())


def call(ev: dict) -> tuple[int, dict]:
    result = HANDLER(ev, _context())
    return result["statusCode"], json.loads(result["body"])


def test_post_answers_202_with_name_execution_and_status(monkeypatch):
    seen = {}

    def fake_start(spec, origin=None):
        seen["spec"] = spec
        return {"name": spec["name"], "executionArn": "arn:aws:states:us-east-1:123456789012:execution:sm:x",
                "status": "PROVISIONING", "started": True}

    monkeypatch.setattr(start, "start", fake_start)
    status, body = call(event("api_post_dataflows"))
    assert status == 202
    assert body == {"name": "acme-oracle-e2e", "executionArn": "arn:aws:states:us-east-1:123456789012:execution:sm:x",
                    "status": "PROVISIONING", "started": True}
    assert seen["spec"]["source"]["connector"] == "oracle"


def test_post_accepts_a_yaml_body_as_curl_sends_it(monkeypatch):
    monkeypatch.setattr(start, "start", lambda spec, origin=None: {
        "name": spec["name"], "executionArn": "arn:x", "status": "PROVISIONING", "started": True})
    status, body = call(event("api_post_dataflows_yaml"))
    assert status == 202 and body["name"] == "acme-oracle-e2e"


def test_an_invalid_spec_is_a_400_listing_every_problem_by_path():
    ev = event("api_post_dataflows")
    spec = json.loads(ev["body"])
    spec["schedule"]["interval"] = 5
    spec["source"]["connector"] = "nope"
    ev["body"] = json.dumps(spec)
    status, body = call(ev)
    assert status == 400 and body["code"] == "SpecInvalid"
    assert {p["path"] for p in body["problems"]} == {"schedule.interval", "source.connector"}


def test_a_body_that_is_not_an_object_is_a_400_request_invalid():
    ev = event("api_post_dataflows")
    ev["body"] = "[1, 2"
    status, body = call(ev)
    assert status == 400 and body["code"] == "RequestInvalid"


@pytest.mark.parametrize("error, status, code", [
    (DataflowConflict("exists", code="DataflowExists", status=409), 409, "DataflowExists"),
    (DataflowNotFound("none", code="DataflowNotFound", status=404), 404, "DataflowNotFound"),
    (AepPreconditionFailed("stale", code="1404-412", status=412), 412, "PreconditionFailed"),
    (AepServerError("boom", status=503), 502, "AepServerError"),
    (RuntimeError("Traceback secret=hunter2"), 500, "InternalError"),
])
def test_errors_are_json_with_a_stable_code_and_no_trace(monkeypatch, error, status, code):
    def fail(name):
        raise error

    monkeypatch.setattr(describe, "describe", fail)
    got, body = call(event("api_get_dataflow"))
    assert (got, body["code"]) == (status, code)
    assert "Traceback" not in json.dumps(body) and "hunter2" not in json.dumps(body)


def test_patch_passes_the_merge_patch_with_explicit_nulls(monkeypatch):
    seen = {}

    def update(name, patch, if_match=None):
        seen.update(name=name, patch=patch, if_match=if_match)
        return {"name": name, "status": "ACTIVE", "changed": ["schedule"], "etag": "\"e2\"", "ids": {}, "spec": {}}

    monkeypatch.setattr(apply_patch, "patch", update)
    ev = event("api_patch_dataflow")
    ev["body"] = json.dumps({"schedule": {"frequency": "day", "interval": 1, "backfill": None}})
    status, body = call(ev)
    assert status == 200 and body["changed"] == ["schedule"]
    assert seen == {"name": "acme-oracle-e2e",
                    "patch": {"schedule": {"frequency": "day", "interval": 1, "backfill": None}},
                    "if_match": None}
    ev["headers"]["If-Match"] = '"e1"'
    ev["multiValueHeaders"]["If-Match"] = ['"e1"']
    status, body = call(ev)
    assert status == 200 and seen["if_match"] == '"e1"'


def test_patch_refuses_an_enabled_that_is_not_a_boolean():
    ev = event("api_patch_dataflow")
    ev["body"] = json.dumps({"enabled": "yes"})
    status, body = call(ev)
    assert status == 400 and body["code"] == "RequestInvalid" and body["problems"][0]["path"] == "enabled"


def test_another_method_of_a_known_path_is_a_405_with_allow():
    ev = event("api_get_dataflow")
    ev["httpMethod"] = ev["requestContext"]["httpMethod"] = "PUT"
    result = HANDLER(ev, _context())
    assert result["statusCode"] == 405 and json.loads(result["body"])["code"] == "MethodNotAllowed"
    headers = {**(result.get("headers") or {}),
               **{k: ", ".join(v) for k, v in (result.get("multiValueHeaders") or {}).items()}}
    assert headers["Allow"] == "DELETE, GET, PATCH"


def test_patch_of_a_field_aep_cannot_change_names_the_field():
    ev = event("api_patch_dataflow")
    ev["body"] = json.dumps({"source": {"baseConnectionId": "6990abad-977d-41b9-a85d-17ea8cf1c0e4"}})
    status, body = call(ev)
    assert status == 400 and body["code"] == "FieldNotChangeable"
    assert [p["path"] for p in body["problems"]] == ["source"]


def test_delete_and_runs_and_list_route_to_their_operations(monkeypatch):
    asked = []
    monkeypatch.setattr(delete, "delete", lambda name, delete_data: asked.append(delete_data) or {
        "name": name, "status": "DELETED", "deleted": [], "kept": [], "leftBehind": [], "alreadyDeleted": True})
    monkeypatch.setattr(dataflow_runs, "recent", lambda name, limit=20: {"name": name, "flowId": "f", "runs": [
        {"id": "r1", "status": "failed", "problem": "failed",
         "errors": [{"code": "CONNECTOR-2001-500", "message": "x"}]}]})
    monkeypatch.setattr(describe, "list_dataflows", lambda limit, cursor: {"items": [{"name": "a"}], "next": None})
    assert call(event("api_delete_dataflow")) == (200, {"name": "acme-oracle-e2e", "status": "DELETED", "deleted": [],
                                                       "kept": [], "leftBehind": [], "alreadyDeleted": True})
    with_data = event("api_delete_dataflow")
    with_data["queryStringParameters"] = {"deleteData": "true"}
    with_data["multiValueQueryStringParameters"] = {"deleteData": ["true"]}
    assert call(with_data)[0] == 200 and asked == [False, True]  # the data is kept unless asked for
    status, body = call(event("api_get_runs"))
    assert status == 200 and body["runs"][0]["problem"] == "failed"
    status, body = call(event("api_list_dataflows"))
    assert status == 200 and body["items"][0]["name"] == "a"


def test_a_bad_name_or_limit_is_refused_before_any_work():
    ev = event("api_get_dataflow")
    ev["path"], ev["pathParameters"] = "/dataflows/Bad_Name", {"name": "Bad_Name"}
    status, body = call(ev)
    assert status == 400 and body["code"] == "RequestInvalid"
    ev = event("api_list_dataflows")
    ev["queryStringParameters"], ev["multiValueQueryStringParameters"] = {"limit": "0"}, {"limit": ["0"]}
    assert call(ev)[0] == 400


def test_the_committed_openapi_document_is_generated_from_the_code():
    committed = json.loads((ROOT / "functions" / "api" / "openapi.json").read_text())
    assert committed == openapi.openapi_document(), (
        "functions/api/openapi.json is stale: "
        "PYTHONPATH=.:layers/aepflow python -m aepflow.doors.api.openapi > functions/api/openapi.json")


def test_the_openapi_document_and_the_template_name_the_same_routes():
    from local import template as cfn

    doc = openapi.openapi_document()
    documented = {(method.upper(), path) for path, ops in doc["paths"].items() for method in ops}
    fn = cfn.load()["Resources"]["ApiFunction"]["Properties"]["Events"]
    routed = {(e["Properties"]["Method"].upper(), e["Properties"]["Path"]) for e in fn.values() if e["Type"] == "Api"}
    assert documented == {route for route in routed if route[0] != "ANY"}
    # Every documented path takes every other method too, to answer it with a 405.
    assert {path for _, path in documented} == {path for method, path in routed if method == "ANY"}


def test_spec_invalid_is_never_a_500():
    assert routes._status_for(SpecInvalid("x", problems=[]))[0] == 400


def test_dry_run_answers_the_plan_and_starts_nothing(monkeypatch):
    monkeypatch.setattr(start, "start", lambda spec, origin=None: pytest.fail("a dry run starts nothing"))
    monkeypatch.setattr(plan_read, "of", lambda spec: {
        "name": spec["name"], "sandbox": None, "action": "update", "managed": True, "calls": 4, "resources": [
            {"kind": "flow", "id": "f", "action": "update", "changes": [
                {"field": "scheduleParams.interval", "old": "15", "new": "30", "how": "PATCH /flows/{id}"}]}]})
    status, body = call(event("api_post_dataflows_dry_run"))
    assert status == 200 and body["action"] == "update" and body["resources"][0]["changes"][0]["new"] == "30"


def test_adopt_and_runs_route_to_their_operations(monkeypatch):
    monkeypatch.setattr(adopt, "adopt", lambda flow_id, name=None, sandbox=None: {
        "name": "adopted", "flowId": flow_id, "status": "ACTIVE", "spec": {"name": "adopted"},
        "yaml": "name: adopted\n",
        "plan": {"name": "adopted", "action": "none", "managed": True, "resources": [], "calls": 4}})
    status, body = call(event("api_adopt_dataflow"))
    assert status == 201 and body["flowId"] == "b08a30a9-d716-43b6-8dc2-2073ea56638f"
    assert body["plan"]["action"] == "none"
    seen = {}

    def start_run(name, window=None):
        seen.update(name=name, window=window)
        return {"name": name, "flowId": "f", "runId": "r", "etag": '"e"', "params": window, "status": "STARTED",
                "links": {"runs": f"/dataflows/{name}/runs"}}

    monkeypatch.setattr(dataflow_runs, "start", start_run)
    status, body = call(event("api_post_runs"))
    assert status == 202 and body["runId"] == "r"
    assert seen == {"name": "acme-salesforce-accounts-once",
                    "window": {"windowStartTime": 1700000000, "windowEndTime": 1700086400}}
    bad = event("api_post_runs")
    bad["body"] = json.dumps({"windowStartTime": 1700000000})
    status, body = call(bad)
    assert status == 400 and body["code"] == "RequestInvalid"
