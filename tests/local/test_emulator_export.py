"""The batches the emulator's runs make: Catalog's GET /batches/{id} and Data Access's error
diagnostics, in the shapes of Adobe's pages (help/ingestion/quality/error-diagnostics.md,
retrieve-failed-batches.md; catalog.yaml retrieveBatch)."""
import functools
import json

import pytest

from local.aep_contract import Contract
from local.stack import emulator_running
from tests.emulator_http import caller

SECRET = "export-test-secret"
RUNS = "/data/foundation/flowservice/runs"
EXPORT = "/data/foundation/export/batches"


@pytest.fixture(scope="module")
def world():
    with emulator_running(client_secret=SECRET, seed=5) as emu:
        get = functools.partial(caller(emu, SECRET), "GET")

        every = {"startTime": emu.now_ms // 1000 + 60, "frequency": "minute", "interval": "15"}
        kept, plain = emu.add_scheduled_flow(every), emu.add_scheduled_flow(every)
        emu._sandboxes["prod"].flows[kept]["options"] = {"errorDiagnosticsEnabled": True,
                                                         "partialIngestionPercent": 50}
        for fid in (kept, plain):
            emu.set_run_outcomes(fid, ["partial", "failed-promotion", "failed-copy", "success"])
        emu.advance(minutes=61)
        runs = {}
        for fid in (kept, plain):
            items = get(RUNS, {"property": f"flowId=={fid}"}).json()["items"]
            items.sort(key=lambda r: r["metrics"]["durationSummary"]["startedAtUTC"])
            runs[fid] = items
        yield emu, get, runs, kept, plain


def batch_of(run):
    return next((a["targetInfo"][0]["reference"]["ids"][0] for a in run["activities"] if a.get("targetInfo")), None)


def test_catalog_batch_of_a_partial_run_with_diagnostics(world):
    emu, get, runs, kept, plain = world
    partial = runs[kept][0]
    bid = batch_of(partial)
    r = get(f"/data/foundation/catalog/batches/{bid}")
    assert r.status_code == 200, r.text
    batch = r.json()[bid]
    rs = partial["metrics"]["recordSummary"]
    assert batch["status"] == "success"  # "the status will be success" with the errors beside it
    assert batch["tags"] == {"acp_enableErrorDiagnostics": True, "acp_partialIngestionPercent": 50}
    assert batch["metrics"]["failedRecordCount"] == rs["failedRecordCount"]
    assert batch["metrics"]["outputRecordCount"] == rs["outputRecordCount"]
    codes = [e["code"] for e in batch["errors"]]
    assert codes[0] == "INGEST-1212-400"
    assert sum(e.get("recordCount", 0) for e in batch["errors"][1:]) == rs["failedRecordCount"]
    failed_batch = get(f"/data/foundation/catalog/batches/{batch_of(runs[kept][1])}").json()
    assert next(iter(failed_batch.values()))["status"] == "failed"
    # without diagnostics, INGEST-1211-400 alone and no record counts per code
    other = get(f"/data/foundation/catalog/batches/{batch_of(runs[plain][0])}").json()
    assert [e["code"] for e in next(iter(other.values()))["errors"]] == ["INGEST-1211-400"]
    # a run that failed at copy made no batch; an unknown id is a Catalog 404
    assert batch_of(runs[kept][2]) is None
    assert get("/data/foundation/catalog/batches/NOSUCHBATCH").status_code == 404


def test_failed_files_and_row_errors(world):
    emu, get, runs, kept, plain = world
    bid = batch_of(runs[kept][0])
    listing = get(f"{EXPORT}/{bid}/failed").json()
    names = [f["name"] for f in listing["data"]]
    assert names[0] == "_SUCCESS" and names[1].startswith("part-00000-") and listing["_page"]["count"] == 2
    part = listing["data"][1]
    assert part["_links"]["self"]["href"].endswith(f"/{bid}/failed?path={part['name']}")
    body = get(f"{EXPORT}/{bid}/failed", {"path": part["name"]})
    assert body.status_code == 200 and len(body.content) == int(part["length"])
    rows = [json.loads(line) for line in body.text.splitlines()]
    assert 1 <= len(rows) <= 3 and all(row["_validationErrors"][0]["code"] for row in rows)
    assert {"contact_id", "email", "first_name"} <= set(rows[0])
    assert body.text == get(f"{EXPORT}/{bid}/failed", {"path": part["name"]}).text  # deterministic
    parse = [json.loads(x) for x in get(f"{EXPORT}/{bid}/failed", {"path": "parse_errors"}).text.splitlines()]
    assert parse[0]["_errors"][0]["code"] == "1401" and "_corrupt_record" in parse[0]
    errors = get(f"{EXPORT}/{bid}/meta", {"path": "row_errors"}).json()
    assert [f["name"] for f in errors["data"]] == ["conversion_errors_0.json", "parsing_errors_0.json"]
    one = get(f"{EXPORT}/{bid}/meta", {"path": "row_errors/parsing_errors_0.json"})
    assert json.loads(one.text.splitlines()[0])["_filename"] == "parsing_errors_0.json"
    assert get(f"{EXPORT}/{bid}/failed", {"path": "nope.json"}).status_code == 404
    # a flow without diagnostics keeps none
    assert get(f"{EXPORT}/{batch_of(runs[plain][0])}/failed").json()["data"] == []
    # a success has no failed records to list
    assert get(f"{EXPORT}/{batch_of(runs[kept][3])}/failed").json()["_page"]["count"] == 0
    # the gateway checks Data Access's requests as every other service's
    assert get(f"{EXPORT}/{bid}/failed", headers={"x-api-key": "wrong"}).status_code == 403
    # ... 30 days on, AEP has deleted them
    emu.advance(hours=24 * 31)
    assert get(f"{EXPORT}/{bid}/failed").json()["data"] == []


def test_contract_lists_data_access_as_outside_the_specs():
    c = Contract.load()
    h = {"Authorization": "Bearer x", "x-api-key": "k", "x-gw-ims-org-id": "o", "x-sandbox-name": "prod"}
    assert c.validate_request("GET", f"{EXPORT}/B1/failed", {"path": "a"}, h) == []
    assert c.validate_request("GET", f"{EXPORT}/B1/meta", {}, {**h, "x-sandbox-name": None}) == \
        ["missing required header x-sandbox-name"]
    assert c.validate_request("DELETE", f"{EXPORT}/B1/failed", {}, h)[0].startswith("operation DELETE")
    assert c.validate_request("GET", "/data/foundation/catalog/batches/B1", {}, h) == []
