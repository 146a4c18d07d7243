"""The spec intake on the shared sample events: which events it takes, the idempotency key,
an invalid spec (report beside it + SNS, nothing started), and duplicates absorbed."""

import json
from pathlib import Path

import pytest
import yaml

from aepflow.core import aws as aws_factory
from aepflow.core import settings
from aepflow.doors import intake
from aepflow.ops import delete, start
from local.stack import FakeLambdaContext, load_handler
from tests.fakes import FakeS3, FakeSns, FakeStore, fake_clients, fake_secrets

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
    """The store, the bucket and the alerts topic, in memory; a cold start before and after."""
    aws_factory.reset()
    s3, sns = FakeS3(), FakeSns()
    store = FakeStore().install(monkeypatch)
    fake_clients(monkeypatch, s3=s3, sns=sns)
    fake_secrets(monkeypatch, json.loads((ROOT / "local" / "fixtures" / "secrets.json").read_text()))
    yield {"s3": s3, "sns": sns, "store": store}
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


@pytest.mark.parametrize("bucket", [None, "", {"name": None}, {"name": ""}, {"name": 7}, {}, "specs-bucket"])
def test_an_s3_event_that_names_no_bucket_is_ignored_not_sent_on_to_s3(bucket):
    malformed = event("s3_object_created")
    if bucket is None:
        del malformed["detail"]["bucket"]
    else:
        malformed["detail"]["bucket"] = bucket
    assert intake.event_kind(malformed) is None
    assert intake.handle(malformed, None)["action"] == "ignored"


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
    report = json.loads(aws["s3"].body(BUCKET, "dataflows/acme-oracle-e2e.yaml.errors.json"))
    assert report["status"] == "INVALID" and report["versionId"] == ev["detail"]["object"]["version-id"]
    assert report["code"] == "SpecInvalid" and report["message"]
    assert {p["path"] for p in report["problems"]} == {"schedule.interval", "target"}
    [message] = aws["sns"].published
    assert "invalid spec" in message["Subject"]
    assert message["TopicArn"] == settings.load(settings.IntakeSettings).alerts_topic_arn
    assert "schedule.interval" in message["Message"] and "target" in message["Message"]
    # The same event again: answered from the idempotency record, no second report or notification.
    assert handler(ev, _context()) == first
    assert len(aws["sns"].published) == 1 and len(aws["store"].persistence.records) == 1


def test_deleting_a_spec_keeps_the_dataflow_unless_the_stack_parameter_says_so(aws, monkeypatch):
    deleted = []
    monkeypatch.setattr(delete, "delete", lambda name: deleted.append(name) or {"name": name, "status": "DELETED"})
    origin = f"s3://{BUCKET}/dataflows/acme-oracle-e2e.yaml"
    store = aws["store"]
    store.applied_from(origin, "acme-oracle-e2e")
    store.hold("acme-oracle-e2e", "h", "arn:aws:states:us-east-1:123456789012:execution:m:x", 0, None, origin)
    monkeypatch.setenv("TEARDOWN_ON_SPEC_DELETE", "false")
    settings.forget()
    assert intake.handle(event("s3_object_deleted"), None)["action"] == "kept" and deleted == []
    monkeypatch.setenv("TEARDOWN_ON_SPEC_DELETE", "true")
    settings.forget()
    # Another object (or the API) applied the dataflow since: this file's delete tears nothing down.
    for last in (f"s3://{BUCKET}/dataflows/a-copy.yaml", "api"):
        store.set_claim_hash("acme-oracle-e2e", "h", origin=last)
        other = event("s3_object_deleted")
        other["detail"]["object"]["version-id"] = f"delete-marker-{last}"
        answer = intake.handle(other, None)
        assert answer["action"] == "kept" and last in answer["reason"] and deleted == []
    store.set_claim_hash("acme-oracle-e2e", "h", origin=origin)
    again = event("s3_object_deleted")
    again["detail"]["object"]["version-id"] = "another-delete-marker"
    assert intake.handle(again, None)["action"] == "delete" and deleted == ["acme-oracle-e2e"]


def test_a_spec_put_is_validated_once_then_provisioned_and_names_its_object_as_origin(aws, monkeypatch):
    """One validation per door: the intake's (the state machine's own comes after, in the execution)."""
    from aepflow.steps import validate

    validations, started = [], []
    real = validate.validate_spec
    monkeypatch.setattr(start, "validate_spec", lambda raw: validations.append(1) or real(raw))
    monkeypatch.setattr(start, "_start_execution", lambda spec, *a: started.append(spec["name"]) or {
        "name": spec["name"], "executionArn": "arn:aws:states:us-east-1:123456789012:execution:m:e",
        "status": "PROVISIONING", "started": True})
    body = (ROOT / "examples" / "004-oracle-table.yaml").read_bytes()
    answer = _handler()(_put(aws["s3"], "dataflows/acme-oracle-e2e.yaml", body), _context())
    assert answer["action"] == "provision", answer
    assert started == ["acme-oracle-e2e"] and validations == [1]
    assert aws["store"].dataflow_from(f"s3://{BUCKET}/dataflows/acme-oracle-e2e.yaml") == "acme-oracle-e2e"
    # The record holds this spec now: the same spec under another key changes nothing, and is no origin.
    spec = yaml.safe_load(body)
    aws["store"].put_record("acme-oracle-e2e", real(spec)["spec"])
    again = _handler()(_put(aws["s3"], "dataflows/copy.yaml", body), _context())
    assert again["action"] == "none" and started == ["acme-oracle-e2e"]
    assert aws["store"].dataflow_from(f"s3://{BUCKET}/dataflows/copy.yaml") is None
