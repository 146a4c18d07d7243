"""The run monitor at scale, against one GET /runs per flow, behind a slow AEP.

For each number of flows: managed flows with runs, a first poll (it syncs the registry and sets
the watermarks, as the schedule's earlier runs would have), then the measured poll, 15 emulated
minutes later, with the AEP latency on. Each poll runs through the real "Poll the runs" state
machine of template.yaml on the local stack; every monitor Lambda invocation runs in a warm
worker process of its own function (bench/lambda_worker.py) talking to the local AWS (moto's
server) and the AEP emulator over 127.0.0.1, so its wall time and peak memory are its own.

"One GET per flow" is what a cron script asking GET /runs?property=flowId==X for each flow,
one after the other, would do: its calls are the number of flows; its time is measured on a
sample of flows at the same latency and scaled to all of them (only the fetching, so a lower
bound). Figures are measured in this run; compare them as ratios."""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from local.monitor_scenario import create_flows
from local.stack import LocalStack

ROOT = Path(__file__).resolve().parent.parent
# Mostly healthy flows, as in a real org: the poll's cost is fetching, not alerting.
BENCH_OUTCOMES = {"success": 96, "failed": 1, "partial": 1, "partial-low": 1, "stuck": 1}
LAMBDA_TIMEOUT_LIMIT_S = 900
# A bound on one poll here, where every unit runs one after the other on a shared machine.
POLL_TIMEOUT_S = 3600
DONE_WHEN_10K = {"wallSeconds": 10.0, "peakMb": 128.0}


class Workers:
    """One warm worker process per monitor function; the local stack's Lambda dispatch sends
    their invocations there, the others stay in-process."""

    def __init__(self, stack: LocalStack, moto_url: str):
        self.stack, self.moto_url = stack, moto_url
        self.procs: dict[str, subprocess.Popen] = {}
        self.locks: dict[str, threading.Lock] = defaultdict(threading.Lock)
        self.calls: list[dict[str, Any]] = []
        self._in_process = stack._invoke
        stack._invoke = self._invoke  # type: ignore[method-assign]

    def _proc(self, name: str) -> subprocess.Popen:
        if name not in self.procs:
            env = {**os.environ, "AWS_ENDPOINT_URL": self.moto_url,
                   "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "layers" / "aepflow")])}
            self.procs[name] = subprocess.Popen([sys.executable, "-m", "bench.lambda_worker"], cwd=ROOT, env=env,
                                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                                stderr=subprocess.DEVNULL, text=True)
        return self.procs[name]

    def _invoke(self, function_name: str, body: Any, response_headers: dict) -> bytes:
        name = function_name.rsplit(":", 1)[-1]
        fn = self.stack.functions[name]
        if not fn["logical"].startswith("Monitor"):
            return self._in_process(function_name, body, response_headers)
        event = json.loads(body) if isinstance(body, (str, bytes)) and body else (body or {})
        request = {"code_uri": fn["code_uri"], "handler": fn["handler"], "name": name, "memory": fn["memory"],
                   "timeout": fn["timeout"], "event": event}
        with self.locks[name]:
            proc = self._proc(name)
            assert proc.stdin and proc.stdout
            proc.stdin.write(json.dumps(request) + "\n")
            proc.stdin.flush()
            line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"worker of {fn['logical']} exited")
        answer = json.loads(line)
        result = answer.get("result")
        print(f"  {fn['logical']}: {answer['wallSeconds']:.2f} s (AEP {answer['aepWaitSeconds']:.2f} s, "
              f"AWS {answer['awsWaitSeconds']:.2f} s), {answer['peakMb']:.0f} MB"
              f"{' FAILED ' + str(answer['error']) if 'error' in answer else ''}", file=sys.stderr, flush=True)
        self.calls.append({"function": fn["logical"], "wallSeconds": answer["wallSeconds"],
                           "aepWaitSeconds": answer["aepWaitSeconds"], "awsWaitSeconds": answer["awsWaitSeconds"],
                           "peakMb": answer["peakMb"], "memoryMb": fn["memory"], "timeoutS": fn["timeout"],
                           # a unit's own calls (the finish step reports the sum again)
                           "aepCalls": (result.get("aep_calls", 0)
                                        if isinstance(result, dict) and "last" in result else 0),
                           "failed": "error" in answer})
        if "error" in answer:
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps(answer["error"]).encode()
        return json.dumps(result).encode()

    def take(self) -> list[dict[str, Any]]:
        calls, self.calls = self.calls, []
        return calls

    def close(self) -> None:
        for proc in self.procs.values():
            if proc.stdin:
                proc.stdin.close()
        for proc in self.procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:  # still busy with an invocation the poll gave up on
                proc.kill()
                proc.wait(timeout=30)


def per_function(calls: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for call in calls:
        f = out.setdefault(call["function"], {"invocations": 0, "aepCalls": 0, "maxWallSeconds": 0.0,
                                              "aepWaitSeconds": 0.0, "awsWaitSeconds": 0.0,
                                              "maxPeakMb": 0.0, "memoryMb": call["memoryMb"],
                                              "timeoutS": call["timeoutS"], "failed": 0})
        f["invocations"] += 1
        f["aepCalls"] += call["aepCalls"]
        if call["wallSeconds"] >= f["maxWallSeconds"]:  # the waits of the slowest invocation
            f["aepWaitSeconds"] = round(call["aepWaitSeconds"], 2)
            f["awsWaitSeconds"] = round(call["awsWaitSeconds"], 2)
        f["maxWallSeconds"] = round(max(f["maxWallSeconds"], call["wallSeconds"]), 2)
        f["maxPeakMb"] = round(max(f["maxPeakMb"], call["peakMb"]), 1)
        f["failed"] += int(call["failed"])
    return out


def _naive(flow_ids: list[str], since_ms: int, sample: int, seed: int) -> dict[str, Any]:
    from aepflow.aep.client import aep_client

    client = aep_client()
    client.tokens.token()
    chosen = random.Random(seed).sample(flow_ids, min(sample, len(flow_ids)))
    started = time.perf_counter()
    for flow_id in chosen:
        client.get("flowservice", "/runs", params=[("property", f"flowId=={flow_id}"),
                                                   ("property", f"metrics.durationSummary.startedAtUTC>{since_ms}")])
    per_get = (time.perf_counter() - started) / max(1, len(chosen))
    return {"aepCalls": len(flow_ids), "wallSeconds": round(per_get * len(flow_ids), 1),
            "measuredGets": len(chosen), "secondsPerGet": round(per_get, 4)}


def _generate_runs_once_per_clock_move(emu) -> None:
    """The emulator generates every flow's due runs again on each /runs request, which takes
    it ~0.5 s at 100,000 flows whatever the request; between two moves of its clock (with no
    flow added) that finds nothing new. Here it runs once per clock move: no answer changes."""
    generate = emu._sync_runs
    done: dict[str, Any] = {"at": None}

    def sync() -> None:
        key = (emu.now_ms, sum(len(sb.flows) for sb in emu._sandboxes.values()))
        if key != done["at"]:
            generate()
            done["at"] = key

    emu._sync_runs = sync


def _largest_shard_item(stack: LocalStack) -> dict[str, Any]:
    """The biggest shard state item (DynamoDB items hold at most 400 KB): how far a shard is from full."""
    import boto3

    ddb, table = boto3.client("dynamodb"), stack.refs["DataflowsTable"]
    biggest = {"kb": 0.0, "flows": 0}
    for sandbox in ("(default)", "prod"):
        query: dict[str, Any] = {"TableName": table, "KeyConditionExpression": "pk = :p",
                                 "ExpressionAttributeValues": {":p": {"S": f"MONITOR#SHARD#{sandbox}"}}}
        for _ in range(100):
            page = ddb.query(**query)
            for item in page.get("Items", []):
                kb = len(item["state"]["B"]) / 1024
                if kb > biggest["kb"]:
                    biggest = {"kb": round(kb, 1), "flows": int(item["flows"]["N"])}
            if "LastEvaluatedKey" not in page:
                break
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return biggest


def run(flows: int, latency_ms: int, seed: int, naive_sample: int) -> dict[str, Any]:
    from moto.server import ThreadedMotoServer

    with LocalStack(seed=seed) as stack:
        emu = stack.emulator
        _generate_runs_once_per_clock_move(emu)
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        workers = None
        try:
            host, port = server.get_host_and_port()
            workers = Workers(stack, f"http://{host}:{port}")
            emu.set_random_outcomes(BENCH_OUTCOMES, seed=seed)
            print(f"creating {flows} managed flows ...", file=sys.stderr)
            created = create_flows(stack, flows, random.Random(seed))
            emu.advance(minutes=16)
            print("first poll (registry sync) ...", file=sys.stderr)
            started = time.perf_counter()
            first_report = stack.run_monitor(timeout=POLL_TIMEOUT_S)
            first = {"wallSeconds": round(time.perf_counter() - started, 1), "functions": per_function(workers.take())}
            since = emu.now_ms
            emu.advance(minutes=15)
            emu.set_faults(latency_ms=latency_ms)
            print("measured poll ...", file=sys.stderr)
            started = time.perf_counter()
            report = stack.run_monitor(timeout=POLL_TIMEOUT_S)
            poll = {"wallSeconds": round(time.perf_counter() - started, 1), "functions": per_function(workers.take())}
            print(f"one GET per flow ({naive_sample} measured) ...", file=sys.stderr)
            naive = _naive(list(created), since, naive_sample, seed)
            shard_items = _largest_shard_item(stack)
        finally:
            if workers:
                workers.close()
            server.stop()
    result = {"flows": flows, "latencyMs": latency_ms, "firstPoll": first, "poll": poll,
              "report": {k: report[k] for k in ("units", "runs_seen", "aep_calls", "pages", "recheck_chunks",
                                                 "alerts_sent", "records_read", "units_failed")},
              "registrySynced": first_report.get("registry_synced"), "oneGetPerFlow": naive,
              "largestShardItem": shard_items}
    result["callsRatio"] = round(naive["aepCalls"] / max(1, report["aep_calls"]), 1)
    result["timeRatio"] = round(naive["wallSeconds"] / max(0.001, poll["wallSeconds"]), 1)
    return result


def _verdicts(result: dict[str, Any]) -> list[str]:
    lines = []
    fns = {**result["firstPoll"]["functions"], **{f"{k} ": v for k, v in result["poll"]["functions"].items()}}
    within = all(f["maxWallSeconds"] < min(LAMBDA_TIMEOUT_LIMIT_S, f["timeoutS"]) and f["maxPeakMb"] < f["memoryMb"]
                 and not f["failed"] for f in fns.values())
    lines.append(f"  every function within its timeout and memory size (Lambda's limits): {'yes' if within else 'NO'}")
    if result["flows"] <= 10_000:
        # Both polls: the first one's registry sync recurs every MONITOR_REGISTRY_SYNC_MINUTES.
        ok = all(f["maxWallSeconds"] <= DONE_WHEN_10K["wallSeconds"] and f["maxPeakMb"] <= DONE_WHEN_10K["peakMb"]
                 for f in fns.values())
        lines.append(f"  every function of both polls (the registry sync's too) "
                     f"<= {DONE_WHEN_10K['wallSeconds']:.0f} s "
                     f"and <= {DONE_WHEN_10K['peakMb']:.0f} MB: {'yes' if ok else 'NO'}")
    return lines


def _print(result: dict[str, Any], out) -> None:
    out.write(f"\nmonitor, {result['flows']:,} flows, {result['latencyMs']} ms AEP latency "
              f"({result['report']['runs_seen']:,} runs seen, {result['report']['units']} units):\n")
    out.write(f"  {'function':<38} {'invocations':>11} {'AEP calls':>10} {'max wall s':>11} "
              f"{'(AEP, AWS waits)':>17} {'max peak MB':>12}\n")
    for label, part in (("first poll", result["firstPoll"]), ("poll", result["poll"])):
        for name, f in sorted(part["functions"].items()):
            waits = f"({f['aepWaitSeconds']:.1f}, {f['awsWaitSeconds']:.1f})"
            out.write(f"  {label + ': ' + name:<38} {f['invocations']:>11} {f['aepCalls']:>10} "
                      f"{f['maxWallSeconds']:>11.2f} {waits:>17} {f['maxPeakMb']:>12.1f}\n")
    naive = result["oneGetPerFlow"]
    out.write(f"  {'poll, whole state machine (units in turn)':<38} {'':>11} {result['report']['aep_calls']:>10} "
              f"{result['poll']['wallSeconds']:>11.1f}\n")
    out.write(f"  {'one GET per flow (scaled)':<38} {'':>11} {naive['aepCalls']:>10} {naive['wallSeconds']:>11.1f}"
              f"   ({naive['measuredGets']} GETs measured, {naive['secondsPerGet'] * 1000:.0f} ms each)\n")
    out.write(f"  -> {result['callsRatio']}x fewer AEP calls, {result['timeRatio']}x sooner than one GET per flow\n")
    shard = result["largestShardItem"]
    out.write(f"  largest shard state item: {shard['kb']} KB for {shard['flows']} flows (DynamoDB's limit: 400 KB)\n")
    for line in _verdicts(result):
        out.write(line + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench monitor", description=__doc__)
    parser.add_argument("--flows", type=int, action="append", help="managed flows (repeat for several runs; "
                        "default: 10000 and 100000)")
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--naive-sample", type=int, default=300, help="GETs measured for one GET per flow")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = parser.parse_args(argv)
    logging.getLogger("moto").setLevel(logging.CRITICAL)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto server's request log
    results = [run(n, args.latency_ms, args.seed, args.naive_sample) for n in (args.flows or [10_000, 100_000])]
    for result in results:
        _print(result, sys.stdout)
    if args.json:
        print(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
