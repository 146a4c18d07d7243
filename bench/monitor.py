"""The run monitor against the naive poll, for many managed flows behind a slow AEP.

The monitor's poll runs in a child process, the way a Lambda would hold it alone, talking
to the local stack's AWS (moto's server) and the AEP emulator over 127.0.0.1; its peak
memory is that process's high-water resident set (VmHWM). The naive poll asks GET /runs once per flow,
one after the other, as a cron script would; only its fetching is timed, so it is a lower
bound for the naive approach. Figures are measured in this run and printed as ratios."""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

from local.monitor_scenario import create_flows
from local.stack import LocalStack

ROOT = Path(__file__).resolve().parent.parent
# Mostly healthy flows, as in a real org: the poll's cost is fetching, not alerting.
BENCH_OUTCOMES = {"success": 96, "failed": 1, "partial": 1, "partial-low": 1, "stuck": 1}

CHILD = """
import json, sys, time
from aepflow import monitor
started = time.perf_counter()
report = monitor.poll(now_ms=int(sys.argv[1]))
wall = time.perf_counter() - started
# VmHWM, not ru_maxrss: the latter keeps the peak of the forked parent image before exec.
hwm_kb = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({"report": report.model_dump(mode="json"), "wallSeconds": wall, "maxRssMb": hwm_kb / 1024}))
"""


def _poll_in_child(moto_url: str, now_ms: int) -> dict:
    env = {**os.environ, "AWS_ENDPOINT_URL": moto_url,
           "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "layers" / "aepflow")])}
    done = subprocess.run([sys.executable, "-c", CHILD, str(now_ms)], env=env, capture_output=True, text=True,
                          timeout=3600, check=False)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def _naive_poll(flow_ids: list[str], since_ms: int) -> tuple[int, float]:
    from aepflow import runtime

    client = runtime.aep_client()
    client.tokens.token()
    before = client.calls
    started = time.perf_counter()
    for flow_id in flow_ids:
        client.get("flowservice", "/runs", params=[("property", f"flowId=={flow_id}"),
                                                   ("property", f"metrics.durationSummary.startedAtUTC>{since_ms}")])
    return client.calls - before, time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench monitor", description=__doc__)
    parser.add_argument("--flows", type=int, default=10_000)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    logging.getLogger("moto").setLevel(logging.CRITICAL)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto server's request log
    import random

    from moto.server import ThreadedMotoServer

    with LocalStack(seed=args.seed) as stack:
        emu = stack.emulator
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        try:
            host, port = server.get_host_and_port()
            moto_url = f"http://{host}:{port}"
            emu.set_random_outcomes(BENCH_OUTCOMES, seed=args.seed)
            print(f"creating {args.flows} managed flows ...", file=sys.stderr)
            flows = create_flows(stack, args.flows, random.Random(args.seed))
            # A first poll sets the watermark, as the schedule's previous run would have.
            emu.advance(minutes=16)
            _poll_in_child(moto_url, emu.now_ms)
            since = emu.now_ms
            emu.advance(minutes=15)
            emu.set_faults(latency_ms=args.latency_ms)
            print("monitor poll ...", file=sys.stderr)
            monitor = _poll_in_child(moto_url, emu.now_ms)
            print(f"naive poll of {len(flows)} flows ...", file=sys.stderr)
            naive_calls, naive_seconds = _naive_poll(list(flows), since)
        finally:
            server.stop()
    report = monitor["report"]
    result = {
        "flows": args.flows, "latencyMs": args.latency_ms,
        "monitor": {"aepCalls": report["aep_calls"], "pages": report["pages"],
                    "recheckChunks": report["recheck_chunks"], "runsSeen": report["runs_seen"],
                    "alertsSent": report["alerts_sent"], "wallSeconds": round(monitor["wallSeconds"], 2),
                    "maxRssMb": round(monitor["maxRssMb"], 1)},
        "naive": {"aepCalls": naive_calls, "wallSeconds": round(naive_seconds, 2)},
    }
    result["callsRatio"] = round(naive_calls / max(1, report["aep_calls"]), 1)
    result["timeRatio"] = round(naive_seconds / monitor["wallSeconds"], 1)
    print(json.dumps(result, indent=1))
    print(f"\nmonitor: {report['aep_calls']} AEP calls, {monitor['wallSeconds']:.1f} s, "
          f"{monitor['maxRssMb']:.0f} MB peak; naive: {naive_calls} calls, {naive_seconds:.1f} s -> "
          f"{result['callsRatio']}x fewer calls, {result['timeRatio']}x sooner")
    return 0


if __name__ == "__main__":
    sys.exit(main())
