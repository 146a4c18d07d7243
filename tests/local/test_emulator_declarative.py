"""The emulator's endpoints the declarative features use, held to Adobe's documents: POST /runs
(flow-service.yaml createFlowRun; on-demand-ingestion.md: one-time flows only, the Copy deltaColumn
fixed), GET /connections/{id}/test (testConnection: {"result": bool}), PATCH /connections as the
spec types its body (one PatchInstruction) with If-Match and 412, PATCH /sourceConnections as an
array, and who changed a resource (updatedBy: the API client, or the UI's exc_app)."""

import pytest
import requests

from local.emulator import AepEmulator

T = 5
SECRET = "declarative-test-secret"
FS = "/data/foundation/flowservice"
ORACLE = "d6b52d86-f0f8-475f-89d4-ce54c8527328"


@pytest.fixture
def emu():
    e = AepEmulator(client_secret=SECRET, seed=5)
    e.start()
    yield e
    e.stop()


@pytest.fixture
def call(emu):
    token = requests.post(emu.base_url + "/ims/token/v3", data={
        "grant_type": "client_credentials", "client_id": emu.client_id, "client_secret": SECRET,
        "scope": "openid"}, timeout=T).json()["access_token"]
    headers = {"Authorization": "Bearer " + token, "x-api-key": emu.client_id, "x-gw-ims-org-id": emu.org_id,
               "x-sandbox-name": "prod"}

    def _call(method, path, body=None, **extra):
        return requests.request(method, emu.base_url + FS + path, json=body, headers={**headers, **extra}, timeout=T)
    return _call


def code(answer):
    return answer.json()["type"].rsplit("/", 1)[1]


def test_a_run_on_demand_is_made_for_a_one_time_flow_and_listed_with_its_window(emu, call):
    once = emu.add_scheduled_flow({"startTime": emu.now_ms // 1000 - 3600, "frequency": "once"})
    every = emu.add_scheduled_flow({"startTime": emu.now_ms // 1000, "frequency": "minute", "interval": "15"})
    emu.advance(seconds=0)
    created = call("POST", "/runs", {"flowId": once, "params": {"startTime": emu.now_ms // 1000,
                                                                "windowStartTime": 1700000000,
                                                                "windowEndTime": 1700003600}})
    assert created.status_code == 201 and set(created.json()) == {"id", "etag"}
    run_id = created.json()["id"]
    [run] = call("GET", f"/runs/{run_id}").json()["items"]
    assert run["flowId"] == once and run["params"]["windowStartTime"] == 1700000000
    emu.advance(minutes=10)
    [run] = call("GET", f"/runs/{run_id}").json()["items"]
    window = run["activities"][0]["durationSummary"]["extensions"]
    assert window == {"windowStart": 1700000000_000, "windowEnd": 1700003600_000}
    assert run["metrics"]["statusSummary"]["status"] == "success"
    # Two runs on demand at one moment are two runs.
    again = call("POST", "/runs", {"flowId": once, "params": {}})
    assert again.status_code == 201 and again.json()["id"] != run_id
    # Only a flow scheduled for one-time ingestion gets runs on demand.
    refused = call("POST", "/runs", {"flowId": every, "params": {}})
    assert refused.status_code == 400 and code(refused) == "FLOW-1425-400"
    assert code(call("POST", "/runs", {"flowId": "nope", "params": {}})) == "FLOW-1413-400"
    # The spec types the times as integers (the tutorial's strings are refused by the contract).
    assert call("POST", "/runs", {"flowId": once, "params": {"windowStartTime": "1651584991"}}).status_code == 400
    backwards = call("POST", "/runs", {"flowId": once, "params": {"windowStartTime": 20, "windowEndTime": 10}})
    assert code(backwards) == "FLOW-1427-400"


def test_the_delta_column_of_a_run_on_demand_is_the_flows_own(emu, call):
    fid = emu.add_scheduled_flow({"startTime": emu.now_ms // 1000, "frequency": "once"})
    emu._sandboxes["prod"].flows[fid]["transformations"] = [
        {"name": "Copy", "params": {"deltaColumn": {"name": "updatedAt"}}}]
    assert call("POST", "/runs", {"flowId": fid, "params": {"deltaColumn": {"name": "updatedAt"}}}).status_code == 201
    other = call("POST", "/runs", {"flowId": fid, "params": {"deltaColumn": {"name": "DOB"}}})
    assert code(other) == "FLOW-1426-400"


def _connection(call):
    created = call("POST", "/connections", {"name": "oracle", "connectionSpec": {"id": ORACLE, "version": "1.0"},
                                            "auth": {"specName": "ConnectionString",
                                                     "params": {"connectionString": "Driver=Oracle;Password=a"}}})
    assert created.status_code == 201, created.text
    return created.json()


def test_a_connection_test_says_whether_aep_can_connect(emu, call):
    connection = _connection(call)
    assert call("GET", f"/connections/{connection['id']}/test").json() == {"result": True}
    emu.set_connection_test(connection["id"], False)  # the source refuses the credentials
    assert call("GET", f"/connections/{connection['id']}/test").json() == {"result": False}
    assert call("GET", "/connections/00000000-0000-4000-8000-000000000000/test").status_code == 404


def test_patch_connections_takes_one_instruction_with_if_match_and_answers_412_when_stale(emu, call):
    connection = _connection(call)
    path = f"/connections/{connection['id']}"
    instruction = {"op": "replace", "path": "/auth/params", "value": {"connectionString": "Driver=Oracle;Password=b"}}
    assert code(call("PATCH", path, instruction)) == "FLOW-1403-400"  # If-Match is required
    patched = call("PATCH", path, instruction, **{"If-Match": connection["etag"]})
    assert patched.status_code == 200 and patched.json()["etag"] != connection["etag"]
    stale = call("PATCH", path, instruction, **{"If-Match": connection["etag"]})
    assert stale.status_code == 412 and code(stale) == "FLOW-1404-412"
    # flow-service.yaml types this body as one PatchInstruction; seed 002's array is refused.
    assert call("PATCH", path, [instruction], **{"If-Match": patched.json()["etag"]}).status_code == 400
    bad = {"op": "replace", "path": "/auth/params", "value": {"nothing": "valid"}}
    assert code(call("PATCH", path, bad, **{"If-Match": patched.json()["etag"]})) == "FLOW-1412-400"
    [after] = call("GET", path).json()["items"]
    assert after["updatedBy"] == f"{emu.client_id}@AdobeID" and after["auth"]["params"]["connectionString"] == "***"


def test_a_change_made_in_the_ui_says_who_made_it(emu, call):
    fid = emu.add_scheduled_flow({"startTime": emu.now_ms // 1000, "frequency": "minute", "interval": "15"})
    etag = emu.ui_action(fid, "DISABLE", user="jane.doe@acme.example")
    [flow] = call("GET", f"/flows/{fid}").json()["items"]
    assert flow["state"] == "disabled" and flow["etag"] == etag
    assert (flow["updatedBy"], flow["updatedClient"]) == ("jane.doe@acme.example", "exc_app")
    emu._sandboxes["prod"].flows[fid]["transformations"] = [  # CRMToAEP flows carry a Copy
        {"name": "Copy", "params": {"deltaColumn": {"name": "updatedAt"}}}]
    emu.ui_patch("flow", fid, [{"op": "replace", "path": "/name", "value": "renamed"}])
    [flow] = call("GET", f"/flows/{fid}").json()["items"]
    assert flow["name"] == "renamed" and flow["updatedClient"] == "exc_app"
    assert call("POST", f"/flows/{fid}/action?op=ENABLE").json()["etag"]
    [flow] = call("GET", f"/flows/{fid}").json()["items"]
    assert flow["updatedClient"] == emu.client_id  # the API client again
