"""Failed records kept (issue 24, "the failed records of a failed run are in the bucket, and the
alert says where"): on the local stack, a failed run of a flow whose spec keeps error diagnostics
has its batch's Catalog errors, failed rows and row errors copied into the stack's
FailedRecordsBucket before its alert is sent, and the alert names the place; a flow without
diagnostics has nothing copied."""
import io
import json
import uuid

import boto3
import pytest

from aepflow.core import settings
from aepflow.doors.cli import render
from aepflow.store.keys import RECORD, dataflow
from local.monitor_scenario import start_clock_at
from tests.integration.test_monitor import Stack
from tests.signed_http import in_process

pytestmark = pytest.mark.stack(seed=11)


@pytest.fixture
def stack(stack):
    settings.forget()
    start_clock_at(stack.emulator)
    yield Stack(stack)


def _objects(bucket):
    pages = boto3.client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return sorted(o["Key"] for page in pages for o in page.get("Contents", []))


def test_a_failed_runs_records_are_in_the_bucket_and_the_alert_says_where(stack):
    bucket = stack.local.buckets["FailedRecordsBucket"]
    kept = stack.flow("crm-kept", outcomes=["failed-promotion"])
    plain = stack.flow("crm-plain", outcomes=["failed-promotion"])
    stack.emu._sandboxes["prod"].flows[kept]["options"] = {"errorDiagnosticsEnabled": True}
    key = dataflow("crm-kept", RECORD)
    spec = json.loads(stack.table.get_item(Key=key)["Item"]["spec"])
    stack.table.update_item(Key=key, UpdateExpression="SET spec = :s",
                            ExpressionAttributeValues={":s": json.dumps({**spec, "options": {
                                "errorDiagnosticsEnabled": True}})})
    stack.emu.advance(minutes=10)
    stack.poll()
    alerts = {a["doc"]["alert"]["dataflow"]: a for a in stack.drain()}
    run_id = alerts["crm-kept"]["doc"]["alert"]["runId"]
    where = f"s3://{bucket}/dataflows/crm-kept/runs/{run_id}/"
    assert f"Failed records kept in {where}" in alerts["crm-kept"]["doc"]["text"]
    assert "Failed records kept" not in alerts["crm-plain"]["doc"]["text"]
    keys = _objects(bucket)
    assert f"dataflows/crm-kept/runs/{run_id}/summary.json" in keys
    assert any(k.endswith("/batch.json") for k in keys)
    assert any("/failed/part-00000-" in k for k in keys) and any("/row_errors/" in k for k in keys)
    assert not any(k.startswith("dataflows/crm-plain/") for k in keys)
    summary = json.loads(boto3.client("s3").get_object(
        Bucket=bucket, Key=f"dataflows/crm-kept/runs/{run_id}/summary.json")["Body"].read())
    assert summary["location"] == where and summary["errorCodes"] and summary["samples"]
    assert uuid.UUID(plain)  # the other flow alerted as before
    # GET /dataflows/{name}/runs/{runId}/errors reads the summary back (aepflow runs NAME --errors RUN_ID).
    status, answer = in_process(stack.local, "GET", f"/dataflows/crm-kept/runs/{run_id}/errors")
    assert status == 200 and answer["location"] == where, answer
    assert answer["errorCodes"] == summary["errorCodes"] and answer["samples"] == summary["samples"][:5]
    shown = io.StringIO()
    render.run_errors(shown, answer, as_json=False)
    assert where in shown.getvalue() and next(iter(summary["errorCodes"])) in shown.getvalue()
    # A run with nothing kept, a run id that is not one, a dataflow that is not one: refused by name.
    status, refused = in_process(stack.local, "GET", f"/dataflows/crm-plain/runs/{run_id}/errors")
    assert status == 404 and refused["code"] == "FailedRecordsNotKept", refused
    assert in_process(stack.local, "GET", "/dataflows/crm-kept/runs/..%2F..%2Fx/errors")[0] in (400, 404)
    assert in_process(stack.local, "GET", f"/dataflows/nobody/runs/{run_id}/errors")[1]["code"] == "DataflowNotFound"
