"""`python -m local monitor-scenario`: many managed flows with runs of every outcome, the
run monitor polling until it has caught up (some polls overlapping), and the tally of
what it should have alerted against what reached SNS.

The expectations come from the emulator's ground truth (every run it made, with the
outcome it chose and when it started and ended), not from the monitor's own state.

A seed names one scenario: the emulator's clock starts at a fixed instant and the flow ids
come from the seed, so the schedule ticks, the run ids and the outcomes drawn for them are
the same on every run (the emulator draws an outcome from the flow id and the tick)."""

from __future__ import annotations

import json
import math
import os
import random
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import boto3

from aepflow.core import settings
from aepflow.store.keys import record_item as dataflow_record
from local.stack import LocalStack

# The mix of outcomes the emulator draws from; `skipped` ticks make flows overdue.
OUTCOME_WEIGHTS = {"success": 52, "failed": 12, "partial": 10, "partial-low": 8, "stuck": 6, "skipped": 12}
INTERVALS = (15, 30)
STUCK_AFTER = (30, 45, 60)
FAILED_PERCENT = (0.5, 1.0, 5.0)
POLL_MINUTES = 15
# Every third poll runs beside another one, as two overlapping schedule invocations would.
OVERLAP_EVERY = 3
CATCH_UP_ATTEMPTS = 5
# Where a scenario's emulated clock starts: 2100-01-01T00:00:00Z.
SCENARIO_START_MS = 4_102_444_800_000


def start_clock_at(emu, at_ms: int = SCENARIO_START_MS) -> int:
    """Move the emulator's clock (which starts at the wall clock) forward to `at_ms`; done
    before any flow exists, it makes the ticks of the flows added next independent of when
    the scenario runs."""
    if emu.now_ms > at_ms:
        raise RuntimeError(f"the emulator's clock is already past {at_ms}")
    return emu.advance(seconds=(at_ms - emu.now_ms) / 1000)


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def create_flows(stack: LocalStack, count: int, rng: random.Random) -> dict[str, dict[str, Any]]:
    emu = stack.emulator
    table = boto3.resource("dynamodb").Table(stack.refs["DataflowsTable"])
    flows: dict[str, dict[str, Any]] = {}
    start_s = emu.now_ms // 1000 + 60
    with table.batch_writer() as batch:
        for i in range(count):
            name = f"scenario-flow-{i:05d}"
            schedule = {"frequency": "minute", "interval": rng.choice(INTERVALS), "startTime": start_s}
            alerts = {"failedRecordsPercent": rng.choice(FAILED_PERCENT), "stuckAfterMinutes": rng.choice(STUCK_AFTER)}
            # flow-service.yaml types scheduleParams.interval as a string (see aepflow.provisioning).
            fid = emu.add_scheduled_flow({**schedule, "interval": str(schedule["interval"])}, name=name,
                                         flow_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)))
            connector = rng.choice(("salesforce", "zendesk", "mixpanel", "oracle"))
            spec = {"name": name, "source": {"connector": connector}, "schedule": schedule, "alerts": alerts}
            batch.put_item(Item=dataflow_record(name, status="ACTIVE", connector=connector, flowId=fid,
                                                ids=json.dumps({"flowId": fid}), spec=json.dumps(spec),
                                                executionId=f"scenario:{name}", updatedAt=_iso(emu.now_ms)))
            flows[fid] = {"name": name, "schedule": schedule, "alerts": alerts}
    return flows


def expected_problems(flows: dict[str, dict[str, Any]], runs: list[dict[str, Any]], outcomes: dict[str, str],
                      poll_times: list[int]) -> set[tuple[str, str, str]]:
    """(problem, flowId, runId or due time) of every problem visible by the last poll."""
    last_poll = poll_times[-1]
    expected: set[tuple[str, str, str]] = set()
    starts: dict[str, list[int]] = {}
    for run in runs:
        fid = run["flowId"]
        if fid not in flows:
            continue
        duration = run["metrics"]["durationSummary"]
        started, ended = duration["startedAtUTC"], duration.get("completedAtUTC")
        starts.setdefault(fid, []).append(started)
        outcome, alerts = outcomes[run["id"]], flows[fid]["alerts"]
        if outcome.startswith("failed") and ended is not None and ended <= last_poll:
            expected.add(("failed", fid, run["id"]))
        elif outcome.startswith("partial") and ended is not None and ended <= last_poll:
            summary = run["metrics"]["recordSummary"]
            if summary["failedRecordCount"] * 100 / summary["inputRecordCount"] > alerts["failedRecordsPercent"]:
                expected.add(("partial", fid, run["id"]))
        elif outcome == "stuck" and last_poll - started > alerts["stuckAfterMinutes"] * 60_000:
            expected.add(("stuck", fid, run["id"]))
    # Overdue: at each poll, the first tick after the last run started; overdue two intervals on.
    for fid, flow in flows.items():
        period = flow["schedule"]["interval"] * 60_000
        grid = flow["schedule"]["startTime"] * 1000
        seen = sorted(starts.get(fid, []))
        for at in poll_times:
            before = [s for s in seen if s <= at]
            due = grid + ((before[-1] - grid) // period + 1) * period if before else grid
            if at >= due + 2 * period:
                expected.add(("overdue", fid, _iso(due)))
    return expected


def _alert_key(message: dict[str, Any]) -> tuple[str, str, str]:
    alert = json.loads(message["Message"])["alert"]
    return alert["problem"], alert["flowId"], alert.get("runId") or alert.get("dueAt")


class Scenario:
    """Use as a context manager: the local stack stays up until the caller has read what it needs.
    Given a running `stack`, the scenario resets it (seed, secrets) and leaves it running."""

    def __init__(self, *, flows: int, runs_per_flow: int, seed: int, latency_ms: int = 0, faults: float = 0.0,
                 secrets: dict | None = None, stack: LocalStack | None = None, shards: int | None = None,
                 sources: dict | None = None, parameters: dict[str, str] | None = None):
        self.flow_count, self.runs_per_flow, self.seed = flows, runs_per_flow, seed
        # MONITOR_SHARDS for this scenario (the deployed default, 64, when None). A poll reads and
        # writes each shard its flows fall in, so with a hundred flows the shards, not the flows,
        # set a poll's DynamoDB calls; fewer shards keep a test quick and still several per unit.
        self.shards = shards
        self.latency_ms, self.faults, self.secrets, self.sources = latency_ms, faults, secrets, sources
        self._own_stack = stack is None
        self.stack = (LocalStack(seed=seed, secrets=secrets, sources=sources, parameters=parameters)
                      if stack is None else stack)
        self.messages: list[dict[str, Any]] = []
        self.failed_polls: list[str] = []

    def __enter__(self) -> Scenario:
        if self._own_stack:
            self.stack.__enter__()
        else:
            self.stack.reset(seed=self.seed, secrets=self.secrets, sources=self.sources)
        if self.shards is not None:  # the stack puts its environment back when it is reset or left
            os.environ["MONITOR_SHARDS"] = str(self.shards)
            settings.forget()  # read at a cold start: a new value is a new container
        return self

    def __exit__(self, *exc) -> None:
        if self._own_stack:
            self.stack.__exit__(*exc)

    def _poll(self, reports: list[dict[str, Any]], at_ms: int) -> None:
        started = time.perf_counter()
        try:
            report = self.stack.run_monitor(at_ms)
        except RuntimeError as exc:
            # A poll that ends in an error (AEP still failing after its retries) is what the
            # schedule tolerates: the next poll starts from the same watermark. Count it.
            self.failed_polls.append(str(exc)[:300])
            return
        report["wallMs"] = round((time.perf_counter() - started) * 1000, 1)
        reports.append(report)

    def run(self) -> dict[str, Any]:
        stack, emu = self.stack, self.stack.emulator
        start_clock_at(emu)
        rng = random.Random(self.seed)
        emu.set_random_outcomes(OUTCOME_WEIGHTS, seed=self.seed)
        flows = create_flows(stack, self.flow_count, rng)
        emu.set_faults(latency_ms=self.latency_ms, fault_rate=self.faults)
        # Enough emulated time for every flow's runs, then for its stuck runs to pass their limit.
        active_minutes = self.runs_per_flow * max(INTERVALS) + 1
        total_minutes = active_minutes + max(STUCK_AFTER) + POLL_MINUTES
        reports: list[dict[str, Any]] = []
        poll_times: list[int] = []
        for step in range(1, math.ceil(total_minutes / POLL_MINUTES) + 1):
            emu.advance(minutes=POLL_MINUTES)
            at = emu.now_ms
            poll_times.append(at)
            if step % OVERLAP_EVERY == 0:
                threads = [threading.Thread(target=self._poll, args=(reports, at)) for _ in range(2)]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
            else:
                self._poll(reports, at)
            self.messages.extend(stack.messages())
        # A last poll at the same instant (again, a bounded number of times, if AEP's faults
        # failed it): the monitor has caught up once one poll of the final instant succeeds.
        for _ in range(CATCH_UP_ATTEMPTS):
            done = len(reports)
            self._poll(reports, poll_times[-1])
            self.messages.extend(stack.messages())
            if len(reports) > done:
                break
        emu.set_faults(latency_ms=0, fault_rate=0.0)

        state = emu.dump_state()
        expected = expected_problems(flows, state["runs"], emu.run_outcomes(), poll_times)
        keys = [_alert_key(m) for m in self.messages]
        sent = Counter(keys)
        runs = [r for r in state["runs"] if r["flowId"] in flows]
        return {
            "flows": len(flows),
            "runs": len(runs),
            "polls": len(reports) + len(self.failed_polls),
            "pollsFailed": len(self.failed_polls),
            "pollFailures": sorted(set(self.failed_polls)),
            "problemsExpected": dict(Counter(k[0] for k in expected)),
            "alertsSent": dict(Counter(k[0] for k in keys)),
            "duplicates": sum(n - 1 for n in sent.values() if n > 1),
            "missed": len(expected - set(sent)),
            "unexpected": len(set(sent) - expected),
            "aepCallsPerPoll": [r["aep_calls"] for r in reports],
            "pagesPerPoll": [r["pages"] for r in reports],
            "recheckChunksPerPoll": [r["recheck_chunks"] for r in reports],
            "wallMsPerPoll": [r["wallMs"] for r in reports],
        }
