"""The spec intake on the shared sample events: which events it takes, the idempotency key,
an invalid spec (report beside it + SNS, nothing started), and duplicates absorbed."""

import json
import os
from pathlib import Path

import boto3
import pytest
import yaml
from moto import mock_aws

os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")

from aepflow.doors import intake
from aepflow.ops import delete, start
from aepflow.core import aws as aws_factory
from local import template as cfn  # noqa: E402
from local.stack import FakeLambdaContext, load_handler  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"
BUCKET = "aepflow-specsbucket-1a2b3c4d5e6f"


def event(name: str) -> dict:
    return json.loads((EVENTS / f"{name}.json").read_text())


def _handler():
    return load_handler("functions/spec_intake/", "app.lambda_handler")


def _context() -> FakeLambdaContext:
    return FakeLambdaContext("aepflow-SpecIntakeFunction", 256, 60)


@pytest.fixture
def aws(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, "testing")
    with mock_aws():
        monkeypatch.setenv("DATAFLOWS_TABLE", "aepflow-test")
        boto3.client("dynamodb").create_table(**cfn.table_kwargs(cfn.load(), "DataflowsTable", "aepflow-test"))
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        sns, sqs = boto3.client("sns"), boto3.client("sqs")
        topic = sns.create_topic(Name="alerts")["TopicArn"]
        queue = sqs.create_queue(QueueName="inbox")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
        monkeypatch.setenv("ALERTS_TOPIC_ARN", topic)
        aws_factory.reset()
        yield {"s3": s3, "sqs": sqs, "queue": queue}
        aws_factory.reset()


def _put(s3, key: str, body: bytes) -> dict:
    version = s3.put_object(Bucket=BUCKET, Key=key, Body=body)["VersionId"]
    ev = event("s3_object_created")
    ev["detail"]["object"].update({"key": key, "version-id": version})
    return ev


def test_the_intake_takes_spec_objects_and_requested_events_only():
    assert intake.event_kind(event("s3_object_created")) == "created"
    assert intake.event_kind(event("s3_object_deleted")) == "deleted"
    assert intake.event_kind(event("dataflow_requested")) == "requested"
    assert intake.event_kind(event("dataflow_provisioned")) is None
    assert intake.event_kind(event("scheduled_monitor")) is None
    report = event("s3_object_created")
    report["detail"]["object"]["key"] = "dataflows/acme-oracle-e2e.yaml.errors.json"
    assert intake.event_kind(report) is None
    elsewhere = event("s3_object_created")
    elsewhere["detail"]["object"]["key"] = "notes/readme.yaml"
    assert intake.event_kind(elsewhere) is None


def test_idempotency_keys_are_bucket_key_version_or_the_event_id():
    created = event("s3_object_created")
    assert intake.idempotency_key(created) == (
        f"s3://{BUCKET}/dataflows/acme-oracle-e2e.yaml#Object Created#IYV3p45BT0ac8hjHg1houSdS1a.Mro8e")
    assert intake.idempotency_key(event("dataflow_requested")) == "event:3f1e2d4c-5b6a-4978-8a9b-0c1d2e3f4a5b"


def test_an_invalid_spec_writes_errors_json_beside_it_notifies_and_starts_nothing(aws, monkeypatch):
    started = []
    monkeypatch.setattr(start, "_start_execution", lambda *a, **k: started.append(a))
    spec = yaml.safe_load((ROOT / "examples" / "004-oracle-table.yaml").read_text())
    spec["schedule"]["interval"] = 5
    del spec["target"]
    ev = _put(aws["s3"], "dataflows/acme-oracle-e2e.yaml", yaml.safe_dump(spec).encode())
    handler = _handler()
    first = handler(ev, _context())
    assert first["action"] == "rejected" and started == []
    report = json.loads(aws["s3"].get_object(Bucket=BUCKET, Key="dataflows/acme-oracle-e2e.yaml.errors.json")["Body"].read())
    assert report["status"] == "INVALID" and report["versionId"] == ev["detail"]["object"]["version-id"]
    assert report["code"] == "SpecInvalid" and report["message"]
    assert {p["path"] for p in report["problems"]} == {"schedule.interval", "target"}
    messages = aws["sqs"].receive_message(QueueUrl=aws["queue"], MaxNumberOfMessages=10)["Messages"]
    assert len(messages) == 1 and "invalid spec" in json.loads(messages[0]["Body"])["Subject"]
    # The same event again: answered from the idempotency record, no second report or notification.
    assert handler(ev, _context()) == first
    assert "Messages" not in aws["sqs"].receive_message(QueueUrl=aws["queue"], MaxNumberOfMessages=10)


def test_deleting_a_spec_keeps_the_dataflow_unless_the_stack_parameter_says_so(aws, monkeypatch):
    deleted = []
    monkeypatch.setattr(delete, "delete", lambda name: deleted.append(name) or {"name": name, "status": "DELETED"})
    origin = f"s3://{BUCKET}/dataflows/acme-oracle-e2e.yaml"
    table = boto3.resource("dynamodb").Table("aepflow-test")
    table.put_item(Item={"pk": f"SPECKEY#{origin}", "sk": "DATAFLOW", "name": "acme-oracle-e2e"})
    table.put_item(Item={"pk": "DATAFLOW#acme-oracle-e2e", "sk": "CLAIM", "name": "acme-oracle-e2e",
                         "status": "CLAIMED", "origin": origin})
    monkeypatch.setenv("TEARDOWN_ON_SPEC_DELETE", "false")
    assert intake.handle(event("s3_object_deleted"), None)["action"] == "kept" and deleted == []
    monkeypatch.setenv("TEARDOWN_ON_SPEC_DELETE", "true")
    # Another object (or the API) applied the dataflow since: this file's delete tears nothing down.
    for last in (f"s3://{BUCKET}/dataflows/a-copy.yaml", "api"):
        table.update_item(Key={"pk": "DATAFLOW#acme-oracle-e2e", "sk": "CLAIM"}, UpdateExpression="SET origin = :o",
                          ExpressionAttributeValues={":o": last})
        other = event("s3_object_deleted")
        other["detail"]["object"]["version-id"] = f"delete-marker-{last}"
        answer = intake.handle(other, None)
        assert answer["action"] == "kept" and last in answer["reason"] and deleted == []
    table.update_item(Key={"pk": "DATAFLOW#acme-oracle-e2e", "sk": "CLAIM"}, UpdateExpression="SET origin = :o",
                      ExpressionAttributeValues={":o": origin})
    again = event("s3_object_deleted")
    again["detail"]["object"]["version-id"] = "another-delete-marker"
    assert intake.handle(again, None)["action"] == "delete" and deleted == ["acme-oracle-e2e"]
