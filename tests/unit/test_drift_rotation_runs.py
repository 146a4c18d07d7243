"""Pure parts of drift, rotation, runs on demand, adopt and the bucket's plans/ prefix, against
in-memory resources: what a drift is and its fingerprint, the alert's shape, which Secrets Manager
events rotate, what a run request may ask, how an adopted flow is named."""

import copy
import json

import pytest

from aepflow.core.errors import SpecInvalid
from aepflow.doors import intake
from aepflow.ops import adopt, dataflow_runs, drift, rotation
from aepflow.store import claims, records
from local.examples import example
from tests.unit.test_plan import ids_of, live_of


def record_of(raw: dict, **item) -> records.Record:
    return records.Record(name=raw["name"], item={"name": raw["name"], "flowId": "f-1", **item}, spec=raw,
                          ids=ids_of(raw))


def test_a_dataflow_as_recorded_has_no_drift():
    for prefix in ("000", "002", "004"):
        spec = example(prefix)
        assert drift.differences(record_of(spec), live_of(spec)) == [], prefix


def test_each_change_behind_aepflows_back_is_a_difference_old_to_new_with_who_and_when():
    spec = example("004")
    live = live_of(spec)
    live.flow.update(state="disabled", updatedBy="jane.doe@acme.example", updatedAt=1_700_000_000_000)
    live.flow["scheduleParams"]["interval"] = "60"
    found = drift.differences(record_of(spec), live)
    assert [(d["kind"], d["field"], d["old"], d["new"]) for d in found] == [
        ("flow", "state", "enabled", "disabled"), ("flow", "scheduleParams.interval", "15", "60")]
    assert found[0]["changedBy"] == "jane.doe@acme.example" and found[0]["changedAt"] == "2023-11-14T22:13:20Z"
    live.flow = None
    live.missing.add("flow")
    assert [(d["field"], d["new"]) for d in drift.differences(record_of(spec), live)] == [("(resource)", "deleted")]


def test_a_connection_whose_etag_moved_without_a_visible_change_drifted():
    spec = example("004")
    live = live_of(spec)
    rec = record_of(spec)
    rec.etags = {"baseConnection": '"b1"'}
    assert drift.differences(rec, live) == []
    live.baseConnection["etag"] = '"b2"'
    [difference] = drift.differences(rec, live)
    assert (difference["kind"], difference["field"], difference["old"], difference["new"]) == (
        "baseConnection", "etag", '"b1"', '"b2"')


def test_a_drift_has_one_fingerprint_whoever_made_it_and_whenever_it_is_seen():
    spec = example("004")
    live = live_of(spec)
    live.flow.update(state="disabled", updatedBy="a@x", updatedAt=1)
    first = drift.fingerprint(drift.differences(record_of(spec), live))
    live.flow.update(updatedBy="b@x", updatedAt=2)
    assert drift.fingerprint(drift.differences(record_of(spec), live)) == first
    live.flow["description"] = "another change"
    assert drift.fingerprint(drift.differences(record_of(spec), live)) != first


def test_the_drift_alert_is_one_sns_message_for_people_and_machines(monkeypatch):
    monkeypatch.setattr(drift, "aep_client", lambda sandbox=None: type("C", (), {"sandbox": "prod"})())
    spec = example("004")
    live = live_of(spec)
    live.flow.update(state="disabled", updatedBy="jane.doe@acme.example", updatedAt=1_700_000_000_000)
    found = drift.differences(record_of(spec), live)
    alert = {"fingerprint": drift.fingerprint(found), "detectedAt": "2026-01-01T00:00:00Z", "differences": found,
             "reverted": False}
    args = drift.publish_args("arn:aws:sns:us-east-1:1:alerts", record_of(spec, connector="oracle"), alert)
    assert args["Subject"] == "Dataflow drifted: acme-oracle-e2e (prod)"
    attributes = {k: v["StringValue"] for k, v in args["MessageAttributes"].items()}
    assert attributes == {"problem": "drift", "severity": "warning", "dataflow": "acme-oracle-e2e", "sandbox": "prod",
                          "flowId": "f-1"}
    message = json.loads(args["Message"])
    assert 'flow state: "enabled" -> "disabled" (changed by jane.doe@acme.example at 2023-11-14T22:13:20Z)' \
        in message["default"]
    assert json.loads(message["sqs"])["alert"]["differences"][0]["field"] == "state"
    fifo = drift.publish_args("arn:aws:sns:us-east-1:1:alerts.fifo", record_of(spec), alert)
    assert fifo["MessageDeduplicationId"] == alert["fingerprint"]


@pytest.mark.parametrize("event, secret", [
    ({"source": "aws.secretsmanager", "detail-type": "AWS API Call via CloudTrail",
      "detail": {"eventName": "PutSecretValue", "requestParameters": {"secretId": "aep/sources/a"}}}, "aep/sources/a"),
    ({"source": "aws.secretsmanager", "detail-type": "AWS API Call via CloudTrail",
      "detail": {"eventName": "UpdateSecret", "responseElements": {
          "arn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:aep/sources/b-AbCdEf"}}},
     "arn:aws:secretsmanager:us-east-1:123456789012:secret:aep/sources/b-AbCdEf"),
    ({"source": "aws.secretsmanager", "detail-type": "AWS Service Event via CloudTrail",
      "detail": {"eventName": "RotationSucceeded", "additionalEventData": {"SecretId": "aep/sources/c"}}},
     "aep/sources/c"),
    ({"source": "aws.secretsmanager", "detail": {"eventName": "GetSecretValue",
                                                  "requestParameters": {"secretId": "aep/sources/a"}}}, None),
    ({"source": "com.acme", "detail": {"eventName": "PutSecretValue"}}, None),
])
def test_which_secrets_manager_events_rotate_credentials(event, secret):
    assert rotation.secret_of(event) == secret


def test_a_secret_named_by_arn_is_the_secret_a_spec_names_by_name():
    assert rotation._same_secret("arn:aws:secretsmanager:us-east-1:123456789012:secret:aep/sources/b-AbCdEf",
                                 "aep/sources/b")
    assert not rotation._same_secret("aep/sources/b", "aep/sources/bb")


def test_only_a_source_secret_is_rotated_and_never_aepflows_own(monkeypatch):
    monkeypatch.setattr(rotation, "users_of", lambda secret: pytest.fail("must not look for users"))
    event = {"source": "aws.secretsmanager", "detail": {"eventName": "PutSecretValue",
                                                        "requestParameters": {"secretId": "aepflow/aep-credentials"}}}
    assert rotation.handle(event)["action"] == "ignored"
    assert rotation.handle({"source": "aws.s3"})["action"] == "ignored"


@pytest.mark.parametrize("body, problem", [
    ({"windowStartTime": 1}, "give both"), ({"windowStartTime": 10, "windowEndTime": 5}, "after"),
    ({"windowStartTime": 1700000000000, "windowEndTime": 1700000000001}, "less than"),
    ({"window": 1}, "Extra inputs"), ({"startTime": -1}, "greater than"),
    ({"windowStartTime": True, "windowEndTime": 5}, "valid integer"), ({"startTime": "1"}, "valid integer"),
    ({"windowStartTime": 1.0, "windowEndTime": 5}, "valid integer"),
    ({"windowStartTime": 1_600_000_000, "windowEndTime": 1_700_000_000}, "366 days"),
])
def test_a_run_request_is_a_window_in_epoch_seconds(body, problem):
    with pytest.raises(SpecInvalid) as refused:
        dataflow_runs.start("acme-x", body)
    assert problem in json.dumps(refused.value.problems)


def test_an_adopted_flow_gets_a_name_of_the_spec_pattern():
    assert adopt.name_for("Salesforce contacts (made in the UI)") == "salesforce-contacts-made-in-the-ui"
    assert adopt.name_for("!!!") == "adopted-flow"
    assert len(adopt.name_for("x" * 200)) == 64
    with pytest.raises(SpecInvalid):
        adopt.describe("../../flows")


@pytest.mark.parametrize("key, detail_type, kind", [
    ("plans/oracle.yaml", "Object Created", "plan"), ("plans/oracle.yaml.plan.json", "Object Created", None),
    ("plans/oracle.yaml.errors.json", "Object Created", None), ("plans/oracle.yaml", "Object Deleted", None),
    ("dataflows/oracle.yaml", "Object Created", "created"), ("dataflows/a.plan.json", "Object Created", None),
])
def test_a_spec_under_plans_is_planned_and_its_plan_is_not(key, detail_type, kind):
    event = {"source": "aws.s3", "detail-type": detail_type,
             "detail": {"bucket": {"name": "aepflow-specs"}, "object": {"key": key}}}
    assert intake.event_kind(event) == kind


def test_a_claim_holder_has_finished_when_it_recorded_rolled_back_or_outlived_any_execution(monkeypatch):
    monkeypatch.setattr(claims.journal, "has_outcome", lambda arn: arn == "failed")
    now = 1_800_000_000
    fresh = "2027-01-15T08:00:00.000000Z"  # 1800000000 - 0
    rec = "done"  # the execution that recorded the dataflow
    assert claims.holder_finished({"executionArn": "done", "updatedAt": fresh}, rec, now=now)
    assert claims.holder_finished({"executionArn": "failed", "updatedAt": fresh}, None, now=now)
    assert not claims.holder_finished({"executionArn": "running", "updatedAt": fresh}, None, now=now)
    assert claims.holder_finished({"executionArn": "running", "updatedAt": "2026-01-01T00:00:00.000000Z"}, None,
                                   now=now)
    # Reserved, its execution not started yet: held for a few minutes, whatever held it before.
    assert not claims.holder_finished({"executionArn": "done", "pendingSince": fresh}, rec, now=now)
    assert claims.holder_finished({"executionArn": "done", "pendingSince": "2027-01-15T07:50:00.000000Z"}, rec,
                                   now=now)
    assert claims.holder_finished({"status": "CLAIMED", "updatedAt": fresh}, rec, now=now)  # adopted


def test_a_record_keeps_the_etags_and_credentials_the_apply_step_put_in_its_ids():
    spec = copy.deepcopy(example("004"))
    item = {"name": "x", "spec": json.dumps(spec), "ids": json.dumps({
        "flowId": "f", "etags": {"flow": '"e"'}, "credentials": {"version": "v1"}, "applied": {"action": "update"}})}
    rec = records.Record.of(item)
    assert rec.ids == {"flowId": "f"} and rec.etags == {"flow": '"e"'} and rec.credentials == {"version": "v1"}
    item["credentials"] = json.dumps({"version": "v2"})  # a rotation's, set since
    assert records.Record.of(item).credentials == {"version": "v2"}


@pytest.mark.parametrize("sample", ["secrets_manager_put_secret_value", "secrets_manager_rotation_succeeded"])
def test_the_sample_secrets_manager_events_match_the_rule_and_name_the_secret(sample):
    from pathlib import Path

    from local import template as cfn

    event = json.loads((Path(__file__).resolve().parents[2] / "events" / f"{sample}.json").read_text())
    rule = cfn.load()["Resources"]["RotateCredentialsFunction"]["Properties"]["Events"]["SecretValueChanged"]
    pattern = rule["Properties"]["Pattern"]
    assert event["source"] in pattern["source"] and event["detail-type"] in pattern["detail-type"]
    assert event["detail"]["eventName"] in pattern["detail"]["eventName"]
    assert rotation._same_secret(rotation.secret_of(event), "aep/sources/acme-oracle")
