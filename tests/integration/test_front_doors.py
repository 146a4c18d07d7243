"""The front doors on the local stack: the API over real HTTP on 127.0.0.1 (python -m local
serve's server), the specs bucket through S3 -> EventBridge -> intake, and custom events."""

import json
import time

import boto3
import pytest
import yaml

from aepflow.core import settings
from local.examples import example
from local.serve import Server
from tests import signed_http

FLOW_SCHEDULE_KEYS = ("frequency", "interval")


def http(method: str, url: str, body: bytes | None = None, content_type: str = "application/json") -> tuple[int, dict]:
    status, answer, _, _ = signed_http.call(method, url, body, content_type)
    return status, answer


def wait_for(check, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out")


def executions(server: Server) -> list[dict]:
    arn = server.stack.state_machines["ProvisionDataflowStateMachine"]
    return boto3.client("stepfunctions").list_executions(stateMachineArn=arn)["executions"]


def _names(state: dict, kind: str) -> set[str]:
    return {r.get("name") or r.get("title") for r in state[kind]}


def _announcements(queue_url: str) -> list[dict]:
    sqs = boto3.client("sqs")
    found = []
    for _ in range(20):
        batch = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        if not batch:
            return found
        found += [json.loads(m["Body"]) for m in batch]
    return found


@pytest.fixture(scope="module")
def doors(module_stack):
    """The HTTP doors of `python -m local serve`, opened once on the module's local stack."""
    with Server(stack=module_stack) as running:
        yield running


@pytest.fixture
def server(doors, stack):
    # `stack` has reset the local stack under the doors: listen to what provisioning announces
    # on the bus, as another system would.
    sqs, events = boto3.client("sqs"), boto3.client("events")
    url = sqs.create_queue(QueueName="aepflow-test-announcements")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="aepflow-test-announcements", EventPattern=json.dumps({"source": ["aepflow"]}))
    events.put_targets(Rule="aepflow-test-announcements", Targets=[{"Id": "q", "Arn": arn}])
    doors.announcements = url
    return doors


def test_the_api_provisions_changes_and_deletes_a_dataflow(server):
    api = server.info["api"]
    spec_yaml = (example_path := "examples/000-salesforce-contacts.yaml") and open(example_path, "rb").read()
    spec = example("000")
    before = server.stack.emulator.dump_state()

    status, first = http("POST", f"{api}/dataflows", spec_yaml, "application/x-www-form-urlencoded")
    assert status == 202 and first["name"] == "acme-salesforce-contacts" and first["executionArn"]
    status, second = http("POST", f"{api}/dataflows", json.dumps(spec).encode())
    assert status == 202 and second["executionArn"] == first["executionArn"]

    view = wait_for(lambda: (v := http("GET", f"{api}/dataflows/acme-salesforce-contacts")[1])["status"] == "ACTIVE"
                    and v)
    assert view["flow"]["state"] == "enabled" and view["flow"]["scheduleParams"]["frequency"] == "minute"
    first_flow_id = view["ids"]["flowId"]
    assert len(executions(server)) == 1
    status, _ = http("POST", f"{api}/dataflows", json.dumps(spec).encode())  # finished: still the same answer
    assert status == 202 and len(executions(server)) == 1
    # Another spec under the name: provisioned again, and the state machine applies its plan in place.
    changed = dict(spec, description="another spec under the same name")
    status, applied = http("POST", f"{api}/dataflows", json.dumps(changed).encode())
    assert status == 202 and applied["started"] is True and applied["executionArn"] != first["executionArn"]
    assert server.stack.wait(applied["executionArn"])["status"] == "SUCCEEDED"
    view = http("GET", f"{api}/dataflows/acme-salesforce-contacts")[1]
    assert view["flow"]["description"] == "another spec under the same name"
    assert view["ids"]["flowId"] == first_flow_id and len(executions(server)) == 2
    assert any(a["detail-type"] == "aepflow.DataflowProvisioned"
               and a["detail"]["name"] == "acme-salesforce-contacts"
               for a in _announcements(server.announcements))

    flow_id, etag = view["ids"]["flowId"], view["flow"]["etag"]
    status, updated = http("PATCH", f"{api}/dataflows/acme-salesforce-contacts",
                           json.dumps({"schedule": {"frequency": "day", "interval": 1}}).encode(),
                           "application/merge-patch+json")
    assert status == 200, updated
    assert updated["changed"] == ["schedule"] and updated["etag"] != etag
    flow = next(f for f in server.stack.emulator.dump_state()["flows"] if f["id"] == flow_id)
    assert {k: flow["scheduleParams"][k] for k in FLOW_SCHEDULE_KEYS} == {"frequency": "day", "interval": "1"}
    assert flow["etag"] == updated["etag"]
    status, view = http("GET", f"{api}/dataflows/acme-salesforce-contacts")
    assert view["spec"]["schedule"]["frequency"] == "day" and view["flow"]["etag"] == updated["etag"]

    status, refused = http("PATCH", f"{api}/dataflows/acme-salesforce-contacts",
                           json.dumps({"schedule": {"startTime": 1500000000}}).encode())
    assert status == 400 and [p["path"] for p in refused["problems"]] == ["schedule.startTime"]
    status, refused = http("PATCH", f"{api}/dataflows/acme-salesforce-contacts",
                           json.dumps({"target": {"dataset": {"id": "5c8c3c555033b814b69f947f"}}}).encode())
    assert status == 400 and refused["problems"][0]["path"] == "target"

    status, runs = http("GET", f"{api}/dataflows/acme-salesforce-contacts/runs")
    assert status == 200 and runs["flowId"] == flow_id

    # With deleteData=true the dataset aepflow created goes too (by default it is kept: see the command's test).
    status, deleted = http("DELETE", f"{api}/dataflows/acme-salesforce-contacts?deleteData=true")
    assert status == 200, deleted
    assert [d["kind"] for d in deleted["deleted"]] == ["flow", "targetConnection", "sourceConnection", "dataset"]
    assert {k["kind"] for k in deleted["kept"]} == {"baseConnection", "schema"}
    after = server.stack.emulator.dump_state()
    prefix = "aepflow:acme-salesforce-contacts:"
    for kind in ("flows", "sourceConnections", "targetConnections"):
        assert not any(n.startswith(prefix) for n in _names(after, kind)), kind
    assert "ACME Target Dataset" not in _names(after, "dataSets")
    assert _names(before, "connections") <= _names(after, "connections")  # the referenced account stays
    assert spec["target"]["schema"]["id"] in {s["$id"] for s in after["schemas"]}  # the referenced schema stays
    status, again = http("DELETE", f"{api}/dataflows/acme-salesforce-contacts")
    assert status == 200 and again["alreadyDeleted"] is True
    assert http("GET", f"{api}/dataflows/acme-salesforce-contacts")[0] == 404
    assert http("GET", f"{api}/nowhere")[0] == 403  # API Gateway's answer for an unknown route


def test_the_bucket_provisions_rejects_and_absorbs_duplicates(server):
    stack, bucket = server.stack, server.info["bucket"]
    s3 = boto3.client("s3")
    bad = example("004")
    bad["schedule"] = {"frequency": "minute", "interval": 5, "startTime": 1590523836}
    s3.put_object(Bucket=bucket, Key="dataflows/oracle.yaml", Body=yaml.safe_dump(bad).encode())
    report = json.loads(s3.get_object(Bucket=bucket, Key="dataflows/oracle.yaml.errors.json")["Body"].read())
    assert [e["path"] for e in report["problems"]] == ["schedule.interval"]
    assert executions(server) == []
    assert any("invalid spec" in m["Subject"] for m in stack.messages())

    good = example("004")
    version = s3.put_object(Bucket=bucket, Key="dataflows/oracle.yaml", Body=yaml.safe_dump(good).encode())["VersionId"]
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="dataflows/oracle.yaml.errors")
    [execution] = executions(server)
    assert stack.wait(execution["executionArn"])["status"] == "SUCCEEDED"
    # The same S3 event delivered again (EventBridge is at-least-once): provisions nothing more.
    event = {"version": "0", "id": "dup-1", "detail-type": "Object Created", "source": "aws.s3",
             "account": "123456789012", "time": "2025-11-24T16:00:00Z", "region": "us-east-1", "resources": [],
             "detail": {"bucket": {"name": bucket}, "object": {"key": "dataflows/oracle.yaml", "version-id": version}}}
    posts_before = sum(r["method"] == "POST" for r in stack.emulator.records)
    first = stack.deliver_async("aepflow-local-SpecIntakeFunction", event)
    second = stack.deliver_async("aepflow-local-SpecIntakeFunction", dict(event, id="dup-2"))
    assert first == second
    assert len(executions(server)) == 1
    assert sum(r["method"] == "POST" for r in stack.emulator.records) == posts_before

    # A new version changing the schedule is provisioned, and applied in place: same flow, new etag.
    view_before = server.stack.emulator.dump_state()["flows"]
    changed = dict(good, schedule={"frequency": "hour", "interval": 2, "startTime": 1590523836})
    s3.put_object(Bucket=bucket, Key="dataflows/oracle.yaml", Body=yaml.safe_dump(changed).encode())
    second = [e for e in executions(server) if e["executionArn"] != execution["executionArn"]]
    assert len(second) == 1 and stack.wait(second[0]["executionArn"])["status"] == "SUCCEEDED"
    flows = server.stack.emulator.dump_state()["flows"]
    assert [f["id"] for f in flows] == [f["id"] for f in view_before]
    assert flows[0]["scheduleParams"]["frequency"] == "hour" and flows[0]["etag"] != view_before[0]["etag"]
    queue = stack.queues["SpecIntakeDeadLetterQueue"]
    assert "Messages" not in boto3.client("sqs").receive_message(QueueUrl=queue)


def test_a_custom_event_starts_provisioning_and_a_failing_intake_lands_in_the_dlq(server, monkeypatch):
    events = boto3.client("events")
    bus = server.stack.refs["DataflowRequestsBus"]
    # Only the stack's own bus and source: the same request on the default bus, or from another
    # source on the stack's bus, reaches nothing and changes nothing.
    for foreign in ({"Source": "aepflow.requests"}, {"Source": "com.evil", "EventBusName": bus}):
        events.put_events(Entries=[{**foreign, "DetailType": "aepflow.DataflowRequested",
                                    "Detail": json.dumps({"spec": example("002")})}])
    server.stack.settle()
    assert executions(server) == [] and server.stack.emulator.records == []
    events.put_events(Entries=[{"Source": "aepflow.requests", "EventBusName": bus,
                                "DetailType": "aepflow.DataflowRequested",
                                "Detail": json.dumps({"spec": example("002")})}])
    [execution] = executions(server)
    assert server.stack.wait(execution["executionArn"])["status"] == "SUCCEEDED"

    from aepflow.ops import start


    def broken(*args, **kwargs):
        raise RuntimeError("state machine unreachable")

    monkeypatch.setattr(start, "start_if_changed", broken)
    events.put_events(Entries=[{"Source": "aepflow.requests", "EventBusName": bus,
                                "DetailType": "aepflow.DataflowRequested",
                                "Detail": json.dumps({"spec": example("003")})}])
    queue = server.stack.queues["SpecIntakeDeadLetterQueue"]
    [message] = boto3.client("sqs").receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    assert json.loads(message["Body"])["detail"]["spec"]["name"] == example("003")["name"]


def test_get_and_patch_send_an_etag_and_a_stale_if_match_is_a_412(server):
    api = server.info["api"]
    status, started = http("POST", f"{api}/dataflows", json.dumps(example("004")).encode())
    assert server.stack.wait(started["executionArn"])["status"] == "SUCCEEDED"
    status, view, headers, _ = signed_http.call("GET", f"{api}/dataflows/acme-oracle-e2e")
    assert status == 200 and headers["ETag"] == view["flow"]["etag"]
    patch = json.dumps({"description": "changed by someone who read the latest"}).encode()
    status, updated, after, _ = signed_http.call("PATCH", f"{api}/dataflows/acme-oracle-e2e", patch,
                                                 headers={"If-Match": headers["ETag"]})
    assert status == 200 and after["ETag"] == updated["etag"] != headers["ETag"]
    stale = json.dumps({"description": "changed by someone who read an old version"}).encode()
    status, refused, _, _ = signed_http.call("PATCH", f"{api}/dataflows/acme-oracle-e2e", stale,
                                             headers={"If-Match": headers["ETag"]})
    assert status == 412 and refused["code"] == "PreconditionFailed"
    flow = next(f for f in server.stack.emulator.dump_state()["flows"] if f["id"] == view["ids"]["flowId"])
    assert flow["description"] == "changed by someone who read the latest"
    assert http("DELETE", f"{api}/dataflows/never-was-here") == (404, {
        "code": "DataflowNotFound", "message": "no dataflow named 'never-was-here'", "problems": []})


def test_a_stale_etag_is_re_read_and_the_patch_retried_once(server):
    from aepflow.aep.client import aep_client

    api = server.info["api"]
    status, started = http("POST", f"{api}/dataflows", json.dumps(example("001")).encode())
    assert server.stack.wait(started["executionArn"])["status"] == "SUCCEEDED"
    flow_id = http("GET", f"{api}/dataflows/acme-salesforce-accounts")[1]["ids"]["flowId"]
    # Someone changes the flow behind aepflow's back: the recorded etag is now stale.
    aep_client().post("flowservice", f"/flows/{flow_id}/action", params={"op": "DISABLE"})
    status, updated = http("PATCH", f"{api}/dataflows/acme-salesforce-accounts",
                           json.dumps({"description": "re-read after a 412", "enabled": True}).encode())
    assert status == 200, updated
    patches = [r for r in server.stack.emulator.records if r["method"] == "PATCH" and "/flows/" in r["path"]]
    assert [r["status"] for r in patches] == [412, 200]
    # The spec's description is its source connection's too: that changes in place as well.
    [source_patch] = [r for r in server.stack.emulator.records if r["method"] == "PATCH"
                      and "/sourceConnections/" in r["path"]]
    assert source_patch["status"] == 200 and source_patch["headers"]["If-Match"]
    flow = next(f for f in server.stack.emulator.dump_state()["flows"] if f["id"] == flow_id)
    assert flow["description"] == "re-read after a 412" and flow["state"] == "enabled"
    assert flow["etag"] == updated["etag"]


def test_deleting_a_copy_of_a_spec_file_deletes_nothing_and_delete_waits_for_a_provisioning(server, monkeypatch):
    """A spec file's delete tears its dataflow down only when that object last applied it: an identical
    copy changed nothing (its put answers none and is no origin), so deleting it deletes nothing. A
    DELETE while an execution provisions the name is a 409, and changes nothing."""
    monkeypatch.setenv("TEARDOWN_ON_SPEC_DELETE", "true")
    settings.forget()  # read at a cold start: a new value is a new container
    stack, s3 = server.stack, boto3.client("s3")
    bucket = stack.buckets["SpecsBucket"]
    spec = example("004")
    s3.put_object(Bucket=bucket, Key="dataflows/oracle.yaml", Body=yaml.safe_dump(spec).encode())
    stack.settle()
    [execution] = executions(server)
    assert stack.wait(execution["executionArn"])["status"] == "SUCCEEDED"
    s3.put_object(Bucket=bucket, Key="dataflows/oracle-copy.yaml", Body=yaml.safe_dump(spec).encode())
    stack.settle()
    assert len(executions(server)) == 1
    before = stack.emulator.dump_state()
    s3.delete_object(Bucket=bucket, Key="dataflows/oracle-copy.yaml")
    stack.settle()
    assert stack.emulator.dump_state() == before
    status, view = http("GET", f"{server.info['api']}/dataflows/{spec['name']}")
    assert status == 200 and view["status"] == "ACTIVE"

    # A new version starts a re-provisioning: a DELETE meanwhile is refused, and deletes nothing.
    from aepflow.spec import digest
    from aepflow.store import claims
    changed = {**spec, "description": "version two"}
    claim = claims.claim(spec["name"])
    claims.hold(spec["name"], digest.spec_hash(changed), "arn:aws:states:us-east-1:123456789012:execution:"
                 "aepflow-local-ProvisionDataflowStateMachine:still-running", 0, claim, "api")
    status, refused = http("DELETE", f"{server.info['api']}/dataflows/{spec['name']}")
    assert status == 409 and refused["code"] == "ProvisioningInProgress", refused
    assert stack.emulator.dump_state() == before
