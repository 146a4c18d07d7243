"""Provisioning through aepflow against a plain sequential script (bench/sequential.py: aepp making
the seed tutorial's requests one after another), at the same injected latency, in one run.

For each example, and for the five at once, it prints the wait (aepflow: from StartExecution to the
execution's end, as Step Functions stamps it; the script: from its first request to its last
answer), the AEP requests made (the IMS token included), and the longest chain of requests each
sent after the previous one answered. Every figure is the median of --repeat runs.

Both sides start without a token. aepflow runs on the local stack with its Lambda handlers
imported (warm containers: cold imports are bench/coldstart.py's); each example runs alone, its
token cache emptied first. The script provisions each example on a fresh emulator, and the five
one after another in one run, as a script would."""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import time
from typing import Any

from local.examples import all_examples
from local.results import longest_sequential_chain
from local.stack import FIXTURE_SECRETS, LocalStack

ALL = "all five"
TARGET_RATIO = 0.6
MAX_CHAIN = 5


def _figures(records: list[dict[str, Any]], wait: float) -> dict[str, Any]:
    aep = [r for r in records if not r["path"].startswith("/ims/")]
    span = (max(r["endedAt"] for r in aep) - min(r["startedAt"] for r in aep)) / 1000 if aep else 0.0
    return {"wait": wait, "requests": len(records), "chain": longest_sequential_chain(records), "span": span}


def _warm_up(stack: LocalStack) -> None:
    """One provisioning no figure counts, so every handler is imported and every client built (warm
    containers), under names nothing measured uses."""
    spec = next(s for s in all_examples() if s["name"] == "acme-oracle-e2e")
    spec["name"] = "bench-warm-up"
    spec["target"]["schema"]["create"]["title"] = "bench warm-up schema"
    spec["target"]["dataset"]["create"]["name"] = "bench warm-up dataset"
    [result] = stack.provision([spec])
    if result["status"] != "ACTIVE":
        raise RuntimeError(f"warm-up provisioning failed: {result['errors']}")


def _forget_the_token(stack: LocalStack) -> None:
    """A provisioning that starts without a token: none in memory, none in the shared cache."""
    import boto3

    from aepflow import runtime

    runtime.reset()
    boto3.client("secretsmanager").put_secret_value(SecretId=stack.refs["AepTokenCacheSecret"], SecretString="{}")


def _aepflow(specs: list[dict[str, Any]], latency_ms: int) -> dict[str, Any]:
    import boto3

    with LocalStack() as stack:
        _warm_up(stack)
        stack.emulator.set_faults(latency_ms=latency_ms)
        sfn = boto3.client("stepfunctions")
        out = {spec["name"]: _aepflow_run(stack, sfn, [spec]) for spec in specs}
    with LocalStack() as stack:  # the five at once, on a stack of their own (their names are new there)
        _warm_up(stack)
        stack.emulator.set_faults(latency_ms=latency_ms)
        out[ALL] = _aepflow_run(stack, boto3.client("stepfunctions"), specs)
    return out


def _aepflow_run(stack: LocalStack, sfn: Any, specs: list[dict[str, Any]]) -> dict[str, Any]:
    _forget_the_token(stack)
    before = len(stack.emulator.records)
    invocations = len(stack.invocations)
    started = time.time()
    arns = [stack.start_provisioning(spec) for spec in specs]
    ended = 0.0
    for arn in arns:
        described = stack.wait(arn)
        if described["status"] != "SUCCEEDED":
            raise RuntimeError(f"{arn} ended {described['status']}: {described.get('error')} {described.get('cause')}")
        ended = max(ended, sfn.describe_execution(executionArn=arn)["stopDate"].timestamp())
    figures = _figures(stack.emulator.records[before:], ended - started)
    figures["lambdas"] = len(stack.invocations) - invocations
    return figures


def _sequential(specs: list[dict[str, Any]], latency_ms: int) -> dict[str, Any]:
    from bench.sequential import Script
    from local.emulator import AepEmulator

    secrets = json.loads(FIXTURE_SECRETS.read_text())
    out = {}
    for label, batch in [(s["name"], [s]) for s in specs] + [(ALL, specs)]:
        emulator = AepEmulator(client_secret="bench-sequential-client-secret")
        emulator.start()
        try:
            script = Script(emulator, secrets)
            emulator.set_faults(latency_ms=latency_ms)
            before = len(emulator.records)
            wait = script.run(batch)
            out[label] = _figures(emulator.records[before:], wait)
        finally:
            emulator.stop()
    return out


def _median(runs: list[dict[str, Any]], label: str, key: str) -> float:
    return statistics.median(run[label][key] for run in runs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench provision", description=__doc__)
    parser.add_argument("--latency-ms", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    logging.getLogger("moto").setLevel(logging.CRITICAL)
    specs = all_examples()
    flows, scripts = [], []
    for i in range(args.repeat):
        print(f"provisioning run {i + 1}/{args.repeat} at {args.latency_ms} ms ...", file=sys.stderr)
        flows.append(_aepflow(specs, args.latency_ms))
        scripts.append(_sequential(specs, args.latency_ms))
    labels = [s["name"] for s in specs] + [ALL]
    rows, ok = [], True
    print(f"\nProvisioning at {args.latency_ms} ms per AEP request, median of {args.repeat} "
          "(aepflow on the local stack / aepp one request after another, the seed's order)")
    print(f"{'example':26} {'wait s':>13} {'ratio':>6} {'requests':>9} {'chain':>6} {'AEP span s':>10} {'lambdas':>7}")
    for label in labels:
        a_wait, s_wait = _median(flows, label, "wait"), _median(scripts, label, "wait")
        ratio = a_wait / s_wait
        row = {"example": label, "aepflowWait": round(a_wait, 3), "sequentialWait": round(s_wait, 3),
               "ratio": round(ratio, 3),
               "aepflowRequests": int(_median(flows, label, "requests")),
               "sequentialRequests": int(_median(scripts, label, "requests")),
               "aepflowChain": int(_median(flows, label, "chain")),
               "sequentialChain": int(_median(scripts, label, "chain")),
               "aepflowSpan": round(_median(flows, label, "span"), 3),
               "lambdas": int(_median(flows, label, "lambdas"))}
        rows.append(row)
        ok &= ratio <= TARGET_RATIO and row["aepflowChain"] <= MAX_CHAIN
        print(f"{label:26} {a_wait:5.2f} / {s_wait:5.2f} {ratio:6.2f} {row['aepflowRequests']:4d} / {row['sequentialRequests']:<3d}"
              f"{row['aepflowChain']:2d} / {row['sequentialChain']:<2d} {row['aepflowSpan']:10.2f} {row['lambdas']:7d}")
    worst = max(rows, key=lambda r: r["ratio"])
    print(f"worst wait ratio aepflow / sequential: {worst['ratio']:.2f} ({worst['example']}; target <= {TARGET_RATIO}); "
          f"longest chain: {max(r['aepflowChain'] for r in rows)} (target <= {MAX_CHAIN}) -> {'PASS' if ok else 'FAIL'}")
    print(json.dumps({"latencyMs": args.latency_ms, "repeat": args.repeat, "rows": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
