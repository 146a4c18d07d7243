"""The run monitor against the real emulator (127.0.0.1) and moto: every problem alerted
exactly once across repeated and overlapping polls, none missed, readable alert text, AEP
calls per poll = pages + re-check chunks (one paged query per 100 flows), and a poll that
reads only the state and records it needs. A poll here runs the steps of the "Poll the runs"
state machine in this process (Stack.poll); test_monitor_scenario.py runs the real one.

Each test gets the module's local stack, reset (tests/conftest.py), with the emulator's clock
at a fixed instant and flow ids made from the flows' names: the runs, their ids and the
outcomes drawn for them are the same on every run of the suite."""
import json
import math
import os
import threading
import uuid
from datetime import UTC, datetime

import boto3
import pytest

from aepflow.core import settings
from aepflow.store.keys import record_item as dataflow_record
from local.monitor_scenario import start_clock_at

RUNS = "/data/foundation/flowservice/runs"
# Long enough for any poll here; a poll still running after it fails the test instead of overlapping the next.
POLL_JOIN_SECONDS = 120

pytestmark = pytest.mark.stack(seed=11)


@pytest.fixture
def stack(stack, monkeypatch):
    """The module's LocalStack (reset), seen as the monitor sees it: flows, polls, alerts."""
    monkeypatch.setenv("MONITOR_PAGE_SIZE", "50")
    settings.forget()  # read at a cold start: a new value is a new container
    start_clock_at(stack.emulator)
    yield Stack(stack)


class Stack:
    def __init__(self, local):
        self.local, self.emu, self.queue = local, local.emulator, local.topic_queues["AlertsTopic"]
        self.table = boto3.resource("dynamodb").Table(local.refs["DataflowsTable"])
        self.alerts: list[dict] = []

    def flow(self, name, *, interval=15, sandbox=None, alerts=None, state="enabled", connector="salesforce",
             outcomes=None):
        sched = {"frequency": "minute", "interval": interval, "startTime": self.emu.now_ms // 1000 + 60}
        fid = self.emu.add_scheduled_flow({**sched, "interval": str(interval)}, sandbox=sandbox or "prod",
                                          name=name, state=state, flow_id=str(uuid.uuid5(uuid.NAMESPACE_URL, name)))
        if outcomes:
            self.emu.set_run_outcomes(fid, outcomes)
        spec = {"name": name, "source": {"connector": connector, "credentialsSecret": "aep/sources/" + name},
                "schedule": sched, "alerts": alerts or {}}
        if sandbox:
            spec["sandbox"] = sandbox
        updated = datetime.fromtimestamp(self.emu.now_ms / 1000, tz=UTC).isoformat().replace("+00:00", "Z")
        self.table.put_item(Item=dataflow_record(
            name, status="ACTIVE", connector=connector, flowId=fid,
            ids=json.dumps({"flowId": fid, "datasetId": "5c8c3c555033b814b69f947f"}),
            spec=json.dumps(spec), executionId="arn:exec:" + name, updatedAt=updated))
        return fid

    def poll(self, lease_seconds=900):
        """One poll, step by step as statemachine/monitor_poll.asl.json runs it."""
        from aepflow.monitor import check, finish, poll_plan, registry
        from aepflow.monitor.models import CheckEvent, FinishEvent, PlanEvent
        now = self.emu.now_ms
        planned = poll_plan.plan_poll(PlanEvent(now=now), lease_seconds=lease_seconds)
        if planned.syncDue:
            synced = [registry.sync_segment(segment) for segment in planned.sync]
            planned = poll_plan.plan_poll(PlanEvent(now=now, synced=synced), lease_seconds=lease_seconds)
        reports = [check.check_unit(CheckEvent(unit=unit, now=now), lease_seconds=lease_seconds)
                   for unit in planned.units]
        return finish.finish_poll(FinishEvent(**planned.model_dump(), reports=reports))

    def drain(self):
        """The alerts that reached SNS since the last drain."""
        sqs = boto3.client("sqs")
        new: list[dict] = []
        while True:
            msgs = sqs.receive_message(QueueUrl=self.queue, MaxNumberOfMessages=10,
                                       MessageAttributeNames=["All"]).get("Messages", [])
            if not msgs:
                self.alerts += new
                return new
            for m in msgs:
                env = json.loads(m["Body"])
                doc = json.loads(env["Message"])  # the machine (sqs) form of MessageStructure=json
                new.append({"Subject": env["Subject"], "doc": doc,
                                    "attrs": {k: v["Value"] for k, v in env["MessageAttributes"].items()}})
                sqs.delete_message(QueueUrl=self.queue, ReceiptHandle=m["ReceiptHandle"])

    def keys(self):
        return [(a["doc"]["alert"]["problem"], a["doc"]["alert"]["flowId"], a["doc"]["alert"].get("runId"))
                for a in self.drain()]


def test_failed_run_alert_text(stack):
    fid = stack.flow("acme-salesforce-contacts", outcomes=["failed-promotion", "failed-copy"])
    stack.emu.advance(minutes=10)
    report = stack.poll()
    assert report.alerts_sent == {"failed": 1}
    [alert] = stack.drain()
    run = stack.emu.dump_state()["runs"][0]
    rs = run["metrics"]["recordSummary"]
    doc, body = alert["doc"]["alert"], alert["doc"]["text"]
    assert len(alert["Subject"]) < 100
    assert alert["Subject"] == "Dataflow run failed: acme-salesforce-contacts (prod)"
    for needle in ("acme-salesforce-contacts", fid, run["id"], "prod", "salesforce", "Status:     failed",
                   f"read {rs['inputRecordCount']}, written 0, failed {rs['inputRecordCount']}",
                   "CONNECTOR-2001-500", "MAPPER-3700-400", "INGEST-1212-400", "path=row_errors",
                   "row_error_samples.json"):
        assert needle in body, needle
    assert doc["records"] == {"read": rs["inputRecordCount"], "written": 0, "failed": rs["inputRecordCount"],
                              "failedPercent": 100.0}
    assert {e["code"] for e in doc["errors"]} == {"CONNECTOR-2001-500", "INGEST-1212-400", "MAPPER-3700-400"}
    assert alert["attrs"] == {"severity": "critical", "problem": "failed", "dataflow": "acme-salesforce-contacts",
                              "sandbox": "prod", "connector": "salesforce", "flowId": fid, "runId": run["id"]}
    everything = json.dumps(alert)
    assert stack.emu.client_secret not in everything and "aep/sources/" not in everything
    stack.emu.advance(minutes=15)
    stack.poll()
    [copy_failure] = stack.drain()
    assert "CONNECTOR-1001-500" in copy_failure["doc"]["text"]


def test_partial_like_seed_002_and_threshold(stack):
    stack.flow("partial", outcomes=["partial", "partial-low"])
    loose = stack.flow("loose", outcomes=["partial"], alerts={"failedRecordsPercent": 50})
    stack.emu.advance(minutes=35)
    stack.poll()
    [alert] = stack.drain()
    doc = alert["doc"]["alert"]
    assert doc["problem"] == "partial" and doc["status"] == "success" and doc["severity"] == "warning"
    assert doc["flowId"] != loose and doc["records"]["failed"] > 0
    assert {"INGEST-1212-400", "MAPPER-3700-400"} <= {e["code"] for e in doc["errors"]}
    assert "failed records over 0.5% of input records" in alert["doc"]["text"]


def _scenario(stack, overlapping: bool):
    """Every kind of problem, polled every 5 emulated minutes for 3 hours."""
    f_fail = stack.flow("fails-then-recovers", outcomes=["success", "failed", "success", "failed"],
                        alerts={"notifyRecovered": True})
    f_part = stack.flow("partial", outcomes=["partial", "partial-low", "partial"])
    f_stuck = stack.flow("stuck", outcomes=["success", "stuck"], alerts={"stuckAfterMinutes": 30})
    f_off = stack.flow("disabled-in-aep", state="disabled")
    f_hour = stack.flow("hourly", interval=60, outcomes=["skipped", "skipped", "skipped"])
    for i in range(5):
        stack.flow(f"healthy-{i}")
    for _ in range(36):
        stack.emu.advance(minutes=5)
        if overlapping:
            reports, errors = [], []

            def run(reports=reports, errors=errors):
                try:
                    reports.append(stack.poll())
                except Exception as exc:  # pragma: no cover - surfaced below
                    errors.append(exc)
            threads = [threading.Thread(target=run) for _ in range(2)]
            [t.start() for t in threads]
            [t.join(POLL_JOIN_SECONDS) for t in threads]
            assert not any(t.is_alive() for t in threads), "a poll did not end"
            assert not errors, errors
            assert len(reports) == 2
        else:
            stack.poll()
            if _ % 7 == 0:
                stack.poll()  # a repeated poll at the same instant
    got = stack.keys()
    assert len(got) == len(set(got)), "duplicate alerts"
    outcomes = stack.emu.run_outcomes()
    runs = {r["id"]: r for r in stack.emu.dump_state()["runs"]}
    expected = {("failed", runs[r]["flowId"], r) for r, o in outcomes.items() if o.startswith("failed")}
    expected |= {("partial", runs[r]["flowId"], r) for r, o in outcomes.items() if o == "partial"}
    expected |= {("stuck", f_stuck, r) for r, o in outcomes.items() if o == "stuck"}
    assert len(expected) == 2 + 2 + 1
    by_kind = {}
    for k in got:
        by_kind.setdefault(k[0], []).append(k)
    assert {k for k in got if k[0] in ("failed", "partial", "stuck")} == expected
    # recovered: after each of the two failures of f_fail
    assert len(by_kind["recovered"]) == 2 and all(k[1] == f_fail for k in by_kind["recovered"])
    # overdue: the disabled flow once; the hourly flow that skipped three ticks once
    assert sorted(k[1] for k in by_kind["overdue"]) == sorted([f_off, f_hour])
    assert f_part


def test_each_problem_once_across_repeated_polls(stack):
    _scenario(stack, overlapping=False)


def test_each_problem_once_across_overlapping_polls(stack):
    _scenario(stack, overlapping=True)


def test_crash_before_publish_is_retried_not_lost(stack, monkeypatch):
    from aepflow.monitor import alerts
    stack.flow("crashy", outcomes=["failed"])
    stack.emu.advance(minutes=20)
    real = alerts.AlertSender._publish

    def crash(self, key, args, kind, dataflow):
        raise RuntimeError("Lambda died between claim and publish")
    monkeypatch.setattr(alerts.AlertSender, "_publish", crash)
    with pytest.raises(RuntimeError):
        stack.poll(lease_seconds=900)
    monkeypatch.setattr(alerts.AlertSender, "_publish", real)
    assert stack.poll().alerts_already_claimed == 1  # the living lease is respected: nothing yet
    assert stack.keys() == []
    table = stack.table
    pending = table.query(KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": "MONITOR#PENDING"})
    [marker] = pending["Items"]
    table.update_item(Key={"pk": marker["sk"], "sk": "ALERT"}, UpdateExpression="SET leaseUntil = :z",
                      ExpressionAttributeValues={":z": 0})  # the crashed owner's lease runs out
    table.update_item(Key={"pk": "MONITOR#PENDING", "sk": marker["sk"]}, UpdateExpression="SET leaseUntil = :z",
                      ExpressionAttributeValues={":z": 0})
    report = stack.poll()
    assert report.alerts_retried == 1 and report.alerts_sent == {"failed": 1}
    assert [k[0] for k in stack.keys()] == ["failed"]
    stack.emu.advance(minutes=5)
    stack.poll()
    assert stack.keys() == []
    item = table.get_item(Key={"pk": marker["sk"], "sk": "ALERT"})["Item"]
    assert item["state"] == "sent" and int(item["attempts"]) == 2


def test_sns_refusal_is_retried_next_poll(stack, monkeypatch):
    stack.flow("sns-down", outcomes=["failed"])
    stack.emu.advance(minutes=20)
    from aepflow.core import aws
    real = aws.aws_client

    class Refusing:
        def publish(self, **kw):
            raise RuntimeError("SNS throttled")

    monkeypatch.setattr(aws, "aws_client", lambda service: Refusing() if service == "sns" else real(service))
    assert stack.poll().publish_errors == 1
    monkeypatch.setattr(aws, "aws_client", real)
    report = stack.poll()
    assert report.alerts_retried == 1 and [k[0] for k in stack.keys()] == ["failed"]


def test_calls_per_poll_bounded_for_200_flows(stack, monkeypatch):
    stack.emu.set_random_outcomes({"success": 6, "failed": 1, "partial": 1, "stuck": 2}, seed=5)
    fids = [stack.flow(f"bulk-{i:03d}") for i in range(200)]
    other = stack.emu.add_scheduled_flow({"frequency": "minute", "interval": "15",
                                          "startTime": stack.emu.now_ms // 1000}, name="unmanaged",
                                         flow_id=str(uuid.uuid5(uuid.NAMESPACE_URL, "unmanaged")))
    for step in range(4):
        stack.emu.advance(minutes=15 if step < 3 else 2)
        before = len(stack.emu.records)
        r = stack.poll()
        requests = [x for x in stack.emu.records[before:] if x["path"].startswith(RUNS)]
        assert r.aep_calls == len(requests) == r.pages + r.recheck_chunks
        # the pages are those of the new runs, one query per 100 flows, not one call per flow
        new_runs = sum(1 for x in stack.emu.dump_state()["runs"]
                       if x["metrics"]["durationSummary"]["startedAtUTC"] > (r.watermark_before or 0) - 600_000)
        assert r.pages <= math.ceil(max(1, new_runs) / 50) + 1
        assert r.aep_calls < 200 // 4
        # each query names at most 100 managed flows, never the unmanaged one, every flow once
        props = [[x["query"]["property"]] if isinstance(x["query"]["property"], str) else x["query"]["property"]
                 for x in requests if "continuationToken" not in x["query"]]
        filters = [v.split("==", 1)[1].split(",") for values in props for v in values if v.startswith("flowId==")]
        assert sorted(f for ids in filters for f in ids) == sorted(fids)
        assert all(len(ids) <= 100 for ids in filters) and len(filters) == 2
    assert len(fids) == 200 and other
    got = stack.keys()
    assert len(got) == len(set(got)) and not any(k[1] == other for k in got)
    runs = stack.emu.dump_state()["runs"]
    want = {x["id"] for x in runs if x["flowId"] != other and x["metrics"]["statusSummary"]["status"] == "failed"}
    assert want and {k[2] for k in got if k[0] == "failed"} == want
    assert os.environ["MONITOR_PAGE_SIZE"] == "50"


def test_handlers_take_the_schedule_time_and_pass_json(stack):
    """The four handlers, fed what the state machine passes them (JSON in, JSON out)."""
    from local.stack import FakeLambdaContext, load_handler

    step = {n: load_handler(f"functions/monitor_{n}/", "app.lambda_handler") for n in ("plan", "registry", "check",
                                                                                       "finish")}
    stack.flow("handled", outcomes=["failed"])
    stack.emu.advance(minutes=20)
    when = datetime.fromtimestamp(stack.emu.now_ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    state = step["plan"]({"time": when}, FakeLambdaContext("plan", 256, 60))  # the schedule's Input
    assert state["now"] == stack.emu.now_ms and state["syncDue"] and not state["units"]
    state["synced"] = [step["registry"](segment, FakeLambdaContext("registry", 256, 60)) for segment in state["sync"]]
    state = step["plan"](json.loads(json.dumps(state)), FakeLambdaContext("plan", 256, 60))
    assert not state["syncDue"] and state["synced"] and state["units"]
    state["reports"] = [step["check"]({"unit": unit, "now": state["now"]}, FakeLambdaContext("check", 256, 60))
                        for unit in state["units"]]
    out = step["finish"](json.loads(json.dumps(state)), FakeLambdaContext("finish", 256, 60))
    assert out["alerts_sent"] == {"failed": 1} and out["now_ms"] == stack.emu.now_ms and out["units_failed"] == 0


def test_a_poll_reads_only_the_state_and_records_it_needs(stack, monkeypatch):
    from aepflow.store import monitor as monitor_store

    monkeypatch.setenv("MONITOR_FLOWS_PER_UNIT", "10")
    settings.forget()  # read at a cold start: a new value is a new container
    healthy = [stack.flow(f"healthy-{i:02d}") for i in range(30)]
    failing = stack.flow("failing", outcomes=["failed"] * 4)
    stack.emu.advance(minutes=21)  # every run has ended (they take 1-4 minutes)
    stack.poll()
    loads, reads = [], []
    real_load, real_read = monitor_store.load_shards, monitor_store.read_records
    monkeypatch.setattr(monitor_store, "load_shards", lambda t, sb, k, numbers: loads.append(list(numbers)) or
                        real_load(t, sb, k, numbers))
    monkeypatch.setattr(monitor_store, "read_records",
                        lambda t, names: reads.append(sorted(names)) or real_read(t, names))
    stack.emu.advance(minutes=15)
    report = stack.poll()
    assert report.units == 4 and report.runs_seen >= len(healthy) + 1
    # each unit reads its own shards, together every shard once
    assert sorted(n for numbers in loads for n in numbers) == list(range(64))
    # only the failing flow's thresholds decide anything: the only record read
    assert sorted(n for names in reads for n in names) == ["failing"] and report.records_read == 1
    assert report.alerts_sent == {"failed": 1} and failing


def test_a_provisioned_flow_is_watched_at_once_and_a_recorded_one_by_the_next_sync(stack, monkeypatch):
    from aepflow.monitor import registry

    stack.flow("first", outcomes=["success"])
    stack.emu.advance(minutes=5)
    assert stack.poll().registry_synced  # the first poll syncs the registry
    announced = stack.flow("announced", outcomes=["failed"])
    quiet = stack.flow("quiet", outcomes=["failed"])
    event = {"detail-type": "aepflow.DataflowProvisioned", "source": "aepflow",
             "detail": {"name": "announced", "status": "ACTIVE", "ids": {"flowId": announced}}}
    assert registry.register_provisioned(event)["registered"]
    stack.emu.advance(minutes=20)
    report = stack.poll()
    assert not report.registry_synced
    assert {k[1] for k in stack.keys() if k[0] == "failed"} == {announced}
    stack.emu.advance(minutes=45)  # an hour after the last sync: the next poll syncs and finds `quiet`
    report = stack.poll()
    assert report.registry_synced
    assert quiet in {k[1] for k in stack.keys() if k[0] == "failed"}
    monkeypatch.setenv("MONITOR_SHARDS", "16")  # other shards: the next poll fills them first
    settings.forget()  # read at a cold start: a new value is a new container
    stack.emu.advance(minutes=5)
    report = stack.poll()
    assert report.registry_synced and report.flows == 3 and stack.keys() == []


def test_a_sync_in_many_segments_enters_every_flow_once(stack, monkeypatch):
    """A registry sync split over segments of a parallel Scan (MONITOR_RECORDS_PER_SEGMENT), run
    at once as the state machine's Map runs them: each record is read by one segment, each flow is
    entered in its one shard, and a segment beyond the Scan's numbering is refused."""
    from aepflow.monitor import poll_plan, registry, shards
    from aepflow.monitor.models import PlanEvent, Segment
    from aepflow.monitor.state import shard_of

    monkeypatch.setenv("MONITOR_RECORDS_PER_SEGMENT", "4")
    monkeypatch.setenv("MONITOR_SHARDS", "8")
    settings.forget()  # read at a cold start: a new value is a new container
    flows = {stack.flow(f"many-{i:02d}", sandbox="dev" if i % 3 else "prod"): "dev" if i % 3 else "prod"
             for i in range(23)}
    planned = poll_plan.plan_poll(PlanEvent(now=stack.emu.now_ms), lease_seconds=60)
    assert planned.syncDue and len(planned.sync) >= 6  # at least 23 records, 4 a segment
    reports: list = [None] * len(planned.sync)

    def sync(i, segment):
        reports[i] = registry.sync_segment(segment)

    threads = [threading.Thread(target=sync, args=(i, seg)) for i, seg in enumerate(planned.sync)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(POLL_JOIN_SECONDS)
    assert all(reports)
    assert sum(r.records for r in reports) == 23
    assert {s: sum(r.flows.get(s, 0) for r in reports) for s in ("dev", "prod")} == {"dev": 15, "prod": 8}
    entered: dict[str, list[str]] = {}
    for sandbox in ("dev", "prod"):
        for number, loaded in shards.load(stack.local.refs["DataflowsTable"], sandbox, 8, range(8)).items():
            for fid in loaded.state.flows:
                entered.setdefault(fid, []).append(f"{sandbox}/{number}")
    assert sorted(entered) == sorted(flows)
    assert all(where == [f"{flows[fid]}/{shard_of(fid, 8)}"] for fid, where in entered.items())
    with pytest.raises(ValueError, match="segment 6 is not one of 0..5"):
        Segment(segment=6, segments=6, now=0)


def test_a_flow_whose_record_is_gone_is_no_longer_watched(stack):
    gone = stack.flow("gone", outcomes=["failed"] * 3)
    stack.flow("kept", outcomes=["success"] * 3)
    stack.emu.advance(minutes=20)
    stack.poll()
    assert {k[1] for k in stack.keys()} == {gone}
    stack.table.delete_item(Key={"pk": "DATAFLOW#gone", "sk": "RECORD"})
    stack.emu.advance(minutes=15)
    report = stack.poll()
    assert report.flows_dropped == 1 and stack.keys() == []
    stack.emu.advance(minutes=15)
    report = stack.poll()
    assert report.flows == 1 and report.flows_dropped == 0 and stack.keys() == []
