"""Draft flows in the emulator, as help/sources/tutorials/api/draft.md describes them: POST /flows?mode=draft
where the flow spec's attributes.isDraftModeSupported is true (CRMToAEP, so a Salesforce draft; not
RestStorageToAEP, whose attributes say nothing of drafts), a draft that makes no run, op=publish that makes
it an enabled flow running on its schedule, and the refusals of the invented codes (aep_errors.INVENTED_CODES)."""

from tests.local import test_emulator as base
from tests.local.test_emulator import MIXPANEL, REST_FLOW_SPEC, SECRET, flow_code, full_flow

emu, api = base.emu, base.api  # its fixtures: an emulator, and calls to it as aepflow makes them
RUNS = "/data/foundation/flowservice/runs"


def _runs(api, fid):
    return api.req("GET", RUNS, params={"property": f"flowId=={fid}"}).json()["items"]


def test_a_draft_makes_no_run_until_published_then_runs_on_its_schedule(api, emu):
    *_, body = full_flow(api, {"startTime": emu.now_ms // 1000 + 60, "frequency": "minute", "interval": "15"})
    r = api.fs("POST", "/flows?mode=draft", json=body)
    assert r.status_code == 201 and set(r.json()) == {"id", "etag"}, r.text  # draft.md's answer
    fid = r.json()["id"]
    assert api.fs("GET", f"/flows/{fid}").json()["items"][0]["state"] == "draft"
    for op in ("ENABLE", "DISABLE"):
        r = api.fs("POST", f"/flows/{fid}/action?op={op}")
        assert r.status_code == 400 and flow_code(r) == "FLOW-1472-400", r.text
    emu.advance(hours=2)
    assert _runs(api, fid) == []
    r = api.fs("POST", f"/flows/{fid}/action?op=publish")
    assert r.status_code == 200 and set(r.json()) == {"id", "etag"}, r.text
    assert api.fs("GET", f"/flows/{fid}").json()["items"][0]["state"] == "enabled"
    emu.advance(minutes=60)
    assert len(_runs(api, fid)) == 4  # every 15 minutes from its publish on, none for the draft's two hours
    r = api.fs("POST", f"/flows/{fid}/action?op=publish")  # published already
    assert r.status_code == 400 and flow_code(r) == "FLOW-1471-400"
    r = api.fs("POST", "/flows?mode=live", json=body)
    assert r.status_code == 400 and flow_code(r) == "FLOW-1400-400"


def test_a_draft_of_a_flow_spec_that_does_not_support_drafts_is_refused_saying_so(api):
    r = api.fs("POST", "/connections", json={"name": "mp", "connectionSpec": {"id": MIXPANEL, "version": "1.0"},
                                             "auth": {"specName": "Basic Authentication",
                                                      "params": {"username": "u", "password": SECRET}}})
    source = api.fs("POST", "/sourceConnections", json={
        "name": "mp-src", "baseConnectionId": r.json()["id"], "data": {"format": "json"},
        "params": {"projectId": "2671127", "timezone": "UTC"},
        "connectionSpec": {"id": MIXPANEL, "version": "1.0"}}).json()["id"]
    *_, crm = full_flow(api)
    body = {**crm, "flowSpec": {"id": REST_FLOW_SPEC, "version": "1.0"}, "sourceConnectionIds": [source],
            "transformations": crm["transformations"][1:]}
    r = api.fs("POST", "/flows?mode=draft", json=body)
    assert r.status_code == 400 and flow_code(r) == "FLOW-1470-400", r.text
    assert "RestStorageToAEP" in r.json()["errorMessage"] and "isDraftModeSupported" in r.json()["errorMessage"]
    assert api.fs("GET", "/flows").json()["items"] == []
    assert api.fs("POST", "/flows", json=body).status_code == 201, "the same flow, not a draft, is made"
