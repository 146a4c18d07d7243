"""The emulator's re-trigger of a flow run (run_retrigger.py), as Adobe's retry-flows.md documents it:
a failed run of a batch flow is re-run, answering the new run's {id, etag}; a run in progress, one
that succeeded with records, and an unknown run are refused; every request matches the OpenAPI."""
import pytest

from local.aep_contract import Contract
from local.stack import emulator_running
from tests.emulator_http import caller

SECRET = "retrigger-test-secret"
RUNS = "/data/foundation/flowservice/runs"


@pytest.fixture
def emu():
    with emulator_running(client_secret=SECRET, seed=5) as e:
        yield e


@pytest.fixture
def call(emu):
    return caller(emu, SECRET, headers={"Content-Type": "application/json"})


def _runs(call, fid):
    items = call("GET", RUNS, {"property": f"flowId=={fid}", "orderby": "createdAt"}).json()["items"]
    return sorted(items, key=lambda r: r["createdAt"])


def _code(r):
    return r.json()["type"].rsplit("/", 1)[1]


def test_a_failed_run_is_re_run_with_the_flows_next_outcome(emu, call):
    fid = emu.add_scheduled_flow({"startTime": emu.now_ms // 1000 + 60, "frequency": "hour", "interval": "1"})
    emu.set_run_outcomes(fid, ["failed-copy", "failed-promotion", "success"])
    emu.advance(minutes=6)
    (failed,) = _runs(call, fid)
    assert failed["metrics"]["statusSummary"]["status"] == "failed"

    r = call("POST", f"{RUNS}/{failed['id']}/action", {"op": "re-trigger"})
    assert r.status_code == 200, r.text
    first = r.json()
    assert set(first) == {"id", "etag"} and first["id"] != failed["id"]
    run = call("GET", f"{RUNS}/{first['id']}").json()["items"][0]
    assert run["flowId"] == fid and run["state"] == "inProgress" and run["etag"] == first["etag"]
    # in progress: refused until it ends
    assert _code(call("POST", f"{RUNS}/{first['id']}/action", {"op": "re-trigger"})) == "FLOW-1428-400"
    emu.advance(minutes=5)
    run = call("GET", f"{RUNS}/{first['id']}").json()["items"][0]
    assert run["metrics"]["statusSummary"]["errors"][0]["code"] == "CONNECTOR-2001-500"  # the queue's second

    # the OpenAPI's spelling of the op is accepted too; the re-run succeeds (the queue's third)
    second = call("POST", f"{RUNS}/{first['id']}/action", {"op": "RE_TRIGGER"}).json()
    emu.advance(minutes=5)
    done = call("GET", f"{RUNS}/{second['id']}").json()["items"][0]
    assert done["metrics"]["statusSummary"]["status"] == "success"
    assert done["metrics"]["recordSummary"]["outputRecordCount"] > 0
    # a run that succeeded with records cannot be retried
    assert _code(call("POST", f"{RUNS}/{second['id']}/action", {"op": "re-trigger"})) == "FLOW-1429-400"
    assert len(_runs(call, fid)) == 3

    contract = Contract.load()
    posts = [x for x in emu.records if x["method"] == "POST" and x["path"].endswith("/action")]
    assert len(posts) == 4
    assert all(contract.validate_request("POST", x["path"], x["query"], x["headers"], x["body"]) == [] for x in posts)


def test_refusals(emu, call):
    fid = emu.add_scheduled_flow({"startTime": emu.now_ms // 1000 + 60, "frequency": "hour", "interval": "1"})
    emu.set_run_outcomes(fid, ["failed"])
    emu.advance(minutes=6)
    (failed,) = _runs(call, fid)
    assert call("POST", f"{RUNS}/no-such-run/action", {"op": "re-trigger"}).status_code == 404
    bad_op = call("POST", f"{RUNS}/{failed['id']}/action", {"op": "cancel"})
    assert bad_op.status_code == 400 and _code(bad_op) == "FLOW-1400-400"
    # the contract requires the op
    assert call("POST", f"{RUNS}/{failed['id']}/action").status_code == 400
    assert len(_runs(call, fid)) == 1
