"""The push path (monitor/events.py) at volume: AEP's flow-run events for many runs, some
duplicated, some out of order, some of another org, put on the local stack's partner event bus
(AepEventsBusName) and delivered by its rule to the function, as Adobe I/O Events' EventBridge
destination would. Prints events per second and each alert's latency (event put -> alert claimed
and published), and checks exactly one alert per failed or partial managed run.

    python -m bench events [--runs 1000]"""

from __future__ import annotations

import argparse
import copy
import json
import random
import statistics
import time
import uuid
from datetime import UTC, datetime
from typing import Any

BUS = "aws.partner/adobe.io/local-org/aepflow-local/flow-runs"
OUTCOMES = {"success": 6, "failed": 2, "partial": 2}
RUNS_PER_FLOW = 10


def manage(local: Any, name: str, interval: int = 15) -> str:
    """A flow of the emulator, managed: its dataflow record and its FLOW# owner item."""
    from aepflow.store.keys import flow as flow_key
    from aepflow.store.keys import record_item

    emu = local.emulator
    sched = {"frequency": "minute", "interval": interval, "startTime": emu.now_ms // 1000 + 60}
    fid = emu.add_scheduled_flow({**sched, "interval": str(interval)}, name=name,
                                 flow_id=str(uuid.uuid5(uuid.NAMESPACE_URL, name)))
    table = local.client("dynamodb")
    from aepflow.store.table import typed
    updated = datetime.fromtimestamp(emu.now_ms / 1000, tz=UTC).isoformat().replace("+00:00", "Z")
    spec = {"name": name, "source": {"connector": "salesforce", "credentialsSecret": "aep/sources/" + name},
            "schedule": sched, "alerts": {}}
    table.put_item(TableName=local.refs["DataflowsTable"], Item=typed(record_item(
        name, status="ACTIVE", connector="salesforce", flowId=fid, ids=json.dumps({"flowId": fid}),
        spec=json.dumps(spec), updatedAt=updated)))
    table.put_item(TableName=local.refs["DataflowsTable"], Item=typed({**flow_key(fid), "name": name}))
    return fid


def scenario(local: Any, runs: int, seed: int = 7) -> dict[str, Any]:
    """`runs` ended runs of managed flows; their notifications shuffled, a tenth sent twice, and one
    of another org per twenty, put on the partner bus; what reached SNS, measured."""
    from aepflow.aep.run_outcome import classify
    from aepflow.spec.thresholds import Alerts
    from local.emulator.run_events import notification

    emu = local.emulator
    emu.run_events.drop(1.0)  # the clock's own announcements are not part of this measure
    emu.set_random_outcomes(OUTCOMES, seed=seed)
    flows = {manage(local, f"events-bench-{i:04d}") for i in range(max(1, runs // RUNS_PER_FLOW))}
    emu.advance(minutes=15 * RUNS_PER_FLOW + 5)
    done = [r for r in emu.dump_state()["runs"]
            if r["flowId"] in flows and r["metrics"]["durationSummary"].get("completedAtUTC")][:runs]
    expected = {(r["flowId"], r["id"], kind) for r in done if (kind := classify(r, Alerts(), emu.now_ms))}
    rng = random.Random(seed)
    payloads = [notification(r, emu.org_id, emu.now_ms) for r in done]
    payloads += rng.sample(payloads, len(payloads) // 10)                  # duplicated
    for p in rng.sample(payloads, len(payloads) // 20):                   # another org's
        foreign = copy.deepcopy(p)
        foreign["messages"][0]["imsOrgId"] = foreign["messages"][0]["value"]["imsOrgId"] = "OTHER@AdobeOrg"
        payloads.append(foreign)
    rng.shuffle(payloads)                                                  # out of order
    local.messages()
    events = local.client("events")
    put_at: dict[str, float] = {}
    started = time.perf_counter()
    for i in range(0, len(payloads), 10):  # PutEvents takes 10 entries
        batch = payloads[i:i + 10]
        for p in batch:
            put_at.setdefault(p["messages"][0]["value"]["id"], time.time())
        events.put_events(Entries=[{"Source": BUS, "DetailType": p["messages"][0]["_eventNotificationMeta"]["type"],
                                    "Detail": json.dumps(p), "EventBusName": BUS} for p in batch])
    local.settle()
    seconds = time.perf_counter() - started
    sent = local.messages()
    got = [json.loads(m["Message"])["alert"] for m in sent]
    keys = [(a["flowId"], a["runId"], a["problem"]) for a in got]
    claims = local.client("dynamodb")
    latencies = []
    for flow_id, run_id, kind in keys:
        item = claims.get_item(TableName=local.refs["DataflowsTable"],
                               Key={"pk": {"S": f"ALERT#{flow_id}#{run_id}#{kind}"}, "sk": {"S": "ALERT"}})["Item"]
        latencies.append(int(item["createdAt"]["N"]) / 1000 - put_at[run_id])
    return {"events": len(payloads), "runs": len(done), "expected": expected, "alerts": keys, "seconds": seconds,
            "eventsPerSecond": len(payloads) / seconds if seconds else 0.0,
            "latencyMedianMs": 1000 * statistics.median(latencies) if latencies else None,
            "latencyP95Ms": 1000 * statistics.quantiles(latencies, n=20)[-1] if len(latencies) > 1 else None,
            "latencyMaxMs": 1000 * max(latencies) if latencies else None}


def main(argv: list[str]) -> int:
    from local.monitor_scenario import start_clock_at
    from local.stack import LocalStack

    parser = argparse.ArgumentParser(prog="python -m bench events")
    parser.add_argument("--runs", type=int, default=1000)
    args = parser.parse_args(argv)
    with LocalStack(seed=11, parameters={"AepEventsBusName": BUS, "LogLevel": "WARNING"}) as local:
        start_clock_at(local.emulator)
        r = scenario(local, args.runs)
    exact = sorted(r["alerts"]) == sorted(r["expected"])
    print(f"events: {r['events']} events for {r['runs']} runs in {r['seconds']:.2f} s = "
          f"{r['eventsPerSecond']:.0f} events/s; {len(r['alerts'])} alerts (expected {len(r['expected'])}, "
          f"{'exactly one each' if exact else 'NOT one each'}); alert latency median "
          f"{r['latencyMedianMs'] or 0:.1f} ms, p95 {r['latencyP95Ms'] or 0:.1f} ms, "
          f"max {r['latencyMaxMs'] or 0:.1f} ms "
          "(the events put as fast as PutEvents takes them)")
    return 0 if exact else 1
