"""Flow runs in the emulator: the emulated clock, schedules, outcomes, run shapes, and the
/runs listing semantics of FACTS §2."""
import base64
import json
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from local.emulator import AepEmulator
from local.stack import emulator_running
from tests.emulator_http import aep_headers

T = 5
SECRET = "runs-test-secret"
RUNS = "/data/foundation/flowservice/runs"


@pytest.fixture
def emu():
    with emulator_running(client_secret=SECRET, seed=3) as e:
        yield e


@pytest.fixture
def get(emu):
    h = aep_headers(emu, SECRET)

    def _get(path=RUNS, params=None, sandbox="prod"):
        return requests.get(emu.base_url + path, params=params, headers={**h, "x-sandbox-name": sandbox}, timeout=T)
    return _get


def every(emu, minutes=15, offset_min=0):
    return {"startTime": emu.now_ms // 1000 + offset_min * 60, "frequency": "minute", "interval": str(minutes)}


def code(r):
    return r.json()["type"].rsplit("/", 1)[1]


def test_clock_and_schedule(emu, get):
    t0 = emu.now_ms
    fid = emu.add_scheduled_flow(every(emu, 15, offset_min=1))
    once = emu.add_scheduled_flow({"startTime": t0 // 1000 + 120, "frequency": "once"})
    off = emu.add_scheduled_flow(every(emu, 15), state="disabled")
    assert get().json() == {"items": [], "_links": {}}
    assert emu.advance(minutes=60) == t0 + 3_600_000
    runs = get(params={"property": f"flowId=={fid}"}).json()["items"]
    starts = sorted(r["metrics"]["durationSummary"]["startedAtUTC"] for r in runs)
    assert starts == [t0 + 60_000 + k * 900_000 for k in range(4)]
    assert len(get(params={"property": f"flowId=={once}"}).json()["items"]) == 1
    assert get(params={"property": f"flowId=={off}"}).json()["items"] == []
    emu.advance(hours=5)
    assert len(get(params={"property": f"flowId=={once}"}).json()["items"]) == 1
    assert len(get(params={"property": f"flowId=={fid}"}).json()["items"]) == 24
    with pytest.raises(ValueError):
        emu.advance(minutes=-1)


def test_outcomes_and_shapes(emu, get):
    fid = emu.add_scheduled_flow(every(emu, 15, offset_min=1))
    emu.set_run_outcomes(fid, ["failed-copy", "failed-promotion", "partial", "partial-low", "stuck", "skipped"])
    emu.advance(minutes=92)  # the 7th tick, at 91 min, has just started
    runs = sorted(get(params={"property": f"flowId=={fid}"}).json()["items"],
                  key=lambda r: r["metrics"]["durationSummary"]["startedAtUTC"])
    assert len(runs) == 6  # the skipped tick made no run; the 7th tick (success) is still in progress
    copy_fail, promo_fail, partial, low, stuck, in_progress = runs
    assert copy_fail["metrics"]["statusSummary"]["status"] == "failed"
    assert copy_fail["metrics"]["statusSummary"]["errors"][0]["code"] == "CONNECTOR-1001-500"
    assert promo_fail["metrics"]["statusSummary"]["errors"][0]["code"] == "CONNECTOR-2001-500"
    # partial: the seed-002 shape, success with failed records and both activities
    m = partial["metrics"]
    assert m["statusSummary"]["status"] == "success" and "state" not in partial
    rs = m["recordSummary"]
    assert rs["failedRecordCount"] > 0 and rs["inputRecordCount"] == rs["outputRecordCount"] + rs["failedRecordCount"]
    assert rs["failedRecordCount"] * 100 / rs["inputRecordCount"] > 1
    promo = partial["activities"][1]
    assert [a["id"] for a in partial["activities"]] == ["copyActivity", "promotionActivity"]
    ext = promo["statusSummary"]["extensions"]
    assert {e["code"] for e in ext["errors"]} == {"INGEST-1212-400", "MAPPER-3700-400"}
    assert ext["manifest"]["failedRecords"].endswith("path=row_errors")
    assert "sampleErrors" in ext["manifest"]
    assert partial["etag"].startswith('"') and partial["sandboxName"] == "prod"
    assert m["durationSummary"]["completedAtUTC"] > m["durationSummary"]["startedAtUTC"]
    lrs = low["metrics"]["recordSummary"]
    assert lrs["failedRecordCount"] == 1 and lrs["inputRecordCount"] >= 1000
    for r in (stuck, in_progress):
        assert r["state"] == "inProgress" and r["metrics"]["statusSummary"]["status"] == "inProgress"
        assert "completedAtUTC" not in r["metrics"]["durationSummary"]
    emu.advance(minutes=10)
    again = get(f"{RUNS}/{stuck['id']},{in_progress['id']}").json()["items"]
    by_id = {r["id"]: r for r in again}
    assert by_id[stuck["id"]]["state"] == "inProgress"
    done = by_id[in_progress["id"]]
    assert "state" not in done and done["metrics"]["statusSummary"]["status"] == "success"
    assert done["etag"] != in_progress["etag"]
    assert emu.run_outcomes()[stuck["id"]] == "stuck"
    r = get(f"{RUNS}/nope")
    assert r.status_code == 404 and code(r) == "FLOW-1439-404"
    with pytest.raises(ValueError):
        emu.set_run_outcomes(fid, ["exploded"])


def test_random_outcomes_are_deterministic():
    def draw(seed):
        e = AepEmulator(client_secret=SECRET)
        e.set_random_outcomes({"success": 2, "failed": 1, "partial": 1, "stuck": 1}, seed=seed)
        ids = [e.add_scheduled_flow(every(e, 15), flow_id=f"00000000-0000-4000-8000-{i:012d}") for i in range(20)]
        # the same clock origin for both emulators
        e._clock_ms = 1_700_000_000_000
        for fid in ids:
            e._sandboxes["prod"].flows[fid]["scheduleParams"]["startTime"] = 1_700_000_000
        e._run_stores.clear()
        e.advance(minutes=60)
        return sorted(e.run_outcomes().values())
    a, b, c = draw(7), draw(7), draw(8)
    assert a == b and a != c
    assert {"success", "stuck", "partial"} <= set(a) and {"failed-copy", "failed-promotion"} & set(a)


def test_filters_order_paging_count(emu, get):
    flows = [emu.add_scheduled_flow(every(emu, 15, offset_min=1)) for _ in range(5)]
    other = emu.add_scheduled_flow(every(emu, 15, offset_min=1), sandbox="dev")
    emu.set_run_outcomes(flows[0], ["failed", "success", "failed"])
    emu.set_run_outcomes(flows[1], ["stuck"])
    t0 = emu.now_ms
    emu.advance(minutes=60)
    assert get(params={"count": "true"}).json() == {"count": 20}
    assert get(params={"count": "true"}, sandbox="dev").json() == {"count": 4}
    assert get(params={"property": f"flowId=={other}"}).json()["items"] == []
    two = get(params={"property": f"flowId=={flows[0]},{flows[1]}"}).json()["items"]
    assert len(two) == 8 and {r["flowId"] for r in two} == set(flows[:2])
    since = t0 + 60_000 + 900_000
    r = get(params={"property": [f"metrics.durationSummary.startedAtUTC>{since}", f"flowId=={flows[0]}"]})
    assert len(r.json()["items"]) == 2
    r = get(params={"property": [f"metrics.durationSummary.startedAtUTC>={since}", f"flowId=={flows[0]}"]})
    assert len(r.json()["items"]) == 3
    r = get(params={"property": [f"metrics.durationSummary.startedAtUTC<{since}"]})
    assert len(r.json()["items"]) == 5
    failed = get(params={"property": "metrics.statusSummary.status==Failed"}).json()["items"]
    assert len(failed) == 2 and all(r["flowId"] == flows[0] for r in failed)
    assert len(get(params={"property": "metrics.statusSummary.status==failed"}).json()["items"]) == 2
    # only the stuck run: every other run finished within 4 minutes
    inprog = get(params={"property": "state==inProgress"}).json()["items"]
    assert len(inprog) == 1 and inprog[0]["flowId"] == flows[1]
    ids = [r["id"] for r in failed]
    assert {r["id"] for r in get(params={"property": "id==" + ",".join(ids)}).json()["items"]} == set(ids)

    # orderby and keyset paging: no run twice, none missed, even when runs appear between pages
    asc = get(params={"orderby": "+metrics.durationSummary.startedAtUTC"}).json()["items"]
    starts = [r["metrics"]["durationSummary"]["startedAtUTC"] for r in asc]
    assert starts == sorted(starts)
    seen, params, pages = [], {"limit": "3", "property": f"metrics.durationSummary.startedAtUTC>{t0}"}, 0
    while True:
        body = get(params=params).json()
        pages += 1
        seen += [r["id"] for r in body["items"]]
        if pages == 2:
            emu.advance(minutes=15)  # five new runs sort first (createdAt desc): they must not shift pages
        nxt = body["_links"].get("next")
        if not nxt:
            break
        assert nxt["href"].startswith("/runs?")
        params = {**params, "continuationToken": parse_qs(urlsplit(nxt["href"]).query)["continuationToken"][0]}
    assert len(seen) == len(set(seen)) == 20 and pages == 7


def test_refusals(emu, get):
    emu.add_scheduled_flow(every(emu))
    cases = [
        ({"count": "true", "limit": "5"}, "FLOW-1401-400"),
        ({"property": "id>=abc"}, "FLOW-1448-400"),
        ({"property": "createdAt<=1,2"}, "FLOW-1443-400"),
        ({"property": "flowId~abc"}, "FLOW-1440-400"),
        ({"property": "flowId!>abc"}, "FLOW-1450-400"),
        ({"property": "createdAt==a,b"}, "FLOW-1452-400"),
        ({"property": "metrics.durationSummary.startedAtUTC>yesterday"}, "FLOW-1452-400"),
        ({"property": "createdAt=="}, "FLOW-1453-400"),
        ({"orderby": "sizeSummary"}, "FLOW-1432-400"),
        ({"orderby": "-"}, "FLOW-1433-400"),
        ({"limit": "0"}, "FLOW-1400-400"),
        ({"continuationToken": "garbage!"}, "FLOW-1400-400"),
    ]
    for params, want in cases:
        r = get(params=params)
        assert r.status_code == 400 and code(r) == want, (params, r.text)


def test_dump_state_has_runs(emu):
    fid = emu.add_scheduled_flow(every(emu, 15, offset_min=1))
    emu.advance(minutes=20)
    runs = emu.dump_state()["runs"]
    assert len(runs) == 2 and {r["flowId"] for r in runs} == {fid} and "metrics" in runs[0]
    assert emu.dump_state("dev")["runs"] == []
    json.dumps(emu.dump_state())
    assert base64  # imported for parity with the listing tests
