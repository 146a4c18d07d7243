"""Failed records kept (monitor/diagnostics.py): what is copied into the bucket for a failed run,
bounded, scrubbed, and what the alert says of it."""
import json

from aepflow.core import scrub
from aepflow.core.errors import AepNotFound
from aepflow.monitor import alerts, diagnostics
from aepflow.store import failed_records
from tests.fakes import FakeS3

BUCKET = "failed-records"
RUN = {"id": "run-1", "flowId": "flow-1", "activities": [
    {"id": "copyActivity"},
    {"id": "promotionActivity", "targetInfo": [{"reference": {"type": "Batch", "ids": ["B1", "../x", "B2"]}}]}]}
ROW = {"contact_id": "C-1", "email": None, "password": "hunter22", "note": "key sk-live-secret-value",
       "_validationErrors": [{"code": "INGEST-1555-400", "message": "required"}]}


class FakeAep:
    """Answers as the emulator does; `broken` batches are unknown to Catalog and Data Access."""

    def __init__(self, files=2, broken=()):
        self.calls: list[tuple] = []
        self.files, self.broken = files, set(broken)

    def get(self, service, path, params=None):
        self.calls.append((service, path, params))
        batch = path.split("/")[2]
        if batch in self.broken:
            raise AepNotFound("no such batch", code="CAT-1002-404", status=404)
        if service == "catalog":
            return {batch: {"status": "failed", "metrics": {"failedRecordCount": 7},
                            "errors": [{"code": "INGEST-1212-400", "description": "7 errors"},
                                       {"code": "INGEST-1555-400", "recordCount": 4},
                                       {"code": "MAPPER-3700-400", "recordCount": 3}]}}
        if not params or params.get("path") == "row_errors":
            names = ["_SUCCESS", "../../etc", *(f"part-{n}.json" for n in range(self.files))]
            return {"data": [{"name": n} for n in names], "_page": {"count": len(names)}}
        return "\n".join(json.dumps(ROW) for _ in range(3)) + "\nnot json\n"


def test_a_failed_runs_batches_are_copied_scrubbed_and_summarised():
    scrub.remember({"apiKey": "sk-live-secret-value"})
    try:
        s3, aep = FakeS3(), FakeAep()
        where = diagnostics.Keeper(aep, s3, BUCKET).keep("crm-contacts", RUN)
    finally:
        scrub.forget()
    assert where == f"s3://{BUCKET}/dataflows/crm-contacts/runs/run-1/"
    keys = sorted(k for _, k in s3.objects)
    assert "dataflows/crm-contacts/runs/run-1/batches/B1/batch.json" in keys
    assert "dataflows/crm-contacts/runs/run-1/batches/B2/failed/part-1.json" in keys
    assert "dataflows/crm-contacts/runs/run-1/batches/B1/row_errors/part-0.json" in keys
    assert not any(".." in k or "_SUCCESS" in k for k in keys)  # a hostile name is not a key
    summary = json.loads(s3.body(BUCKET, failed_records.summary_key("crm-contacts", "run-1")))
    # Catalog's recordCount per code, summed over the two batches (rows are not counted again)
    assert summary["errorCodes"] == {"INGEST-1555-400": 8, "MAPPER-3700-400": 6}
    assert 1 <= len(summary["samples"]) <= diagnostics.SAMPLES
    sample = summary["samples"][0]
    assert sample["password"] == "***" and "sk-live-secret-value" not in json.dumps(summary)
    every_body = b"".join(s3.body(BUCKET, k) for k in keys)
    assert b"hunter22" not in every_body and b"sk-live-secret-value" not in every_body


def test_bounded_files_and_aep_refusals_are_kept_in_the_summary():
    s3, aep = FakeS3(), FakeAep(files=40, broken={"B2"})
    diagnostics.Keeper(aep, s3, BUCKET).keep("f", RUN)
    downloads = [c for c in aep.calls if c[2] and c[2].get("path") not in (None, "row_errors")]
    assert len(downloads) == 2 * diagnostics.MAX_FILES  # one batch's two lists, each bounded
    summary = json.loads(s3.body(BUCKET, failed_records.summary_key("f", "run-1")))
    (b2,) = [b for b in summary["batches"] if b["id"] == "B2"]
    assert b2["problems"] == ["catalog: CAT-1002-404", "failed: CAT-1002-404", "meta: CAT-1002-404"]


def test_a_run_without_batches_or_with_a_hostile_id_is_not_copied():
    s3 = FakeS3()
    assert diagnostics.Keeper(FakeAep(), s3, BUCKET).keep("f", {"id": "r", "activities": []}) is None
    assert diagnostics.Keeper(FakeAep(), s3, BUCKET).keep("f", {**RUN, "id": "../r"}) is None
    assert s3.objects == {}


def test_enabled_reads_the_specs_options():
    assert diagnostics.enabled({"spec": json.dumps({"options": {"errorDiagnosticsEnabled": True}})})
    assert not diagnostics.enabled({"spec": json.dumps({"options": {"errorDiagnosticsEnabled": "yes"}})})
    assert not diagnostics.enabled({"spec": "not json"})
    assert not diagnostics.enabled({})


def test_the_alert_says_where_the_failed_records_are():
    flow = {"name": "crm", "sandbox": "prod", "flowId": "flow-1", "connector": "salesforce"}
    alert = alerts.build_alert("failed", flow, RUN, now_ms=0)
    assert "Failed records kept" not in alerts.text(alert)
    kept = {**alert, "failedRecordsKept": f"s3://{BUCKET}/dataflows/crm/runs/run-1/"}
    assert f"Failed records kept in s3://{BUCKET}/dataflows/crm/runs/run-1/" in alerts.text(kept)
    assert "not kept: copy failed" in alerts.text({**alert, "failedRecordsNotKept": "copy failed (ClientError)"})
