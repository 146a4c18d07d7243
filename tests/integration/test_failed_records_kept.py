"""Failed records kept (issue 24, "the failed records of a failed run are in the bucket, and the
alert says where"): on the local stack, a failed run of a flow whose spec keeps error diagnostics
has its batch's Catalog errors, failed rows and row errors copied into the stack's
FailedRecordsBucket before its alert is sent, and the alert names the place; a flow without
diagnostics has nothing copied."""
import json
import uuid

import boto3
import pytest

from aepflow.core import settings
from aepflow.store.keys import RECORD, dataflow
from local.monitor_scenario import start_clock_at
from tests.integration.test_monitor import Stack

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
