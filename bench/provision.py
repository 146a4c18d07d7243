"""Provisioning through aepflow against a plain sequential script (bench/sequential.py: aepp making
the seed tutorial's requests one after another), at the same injected latency, in one run.

For each example, and for the five at once, it prints the wait (aepflow: from StartExecution to the
execution's end, as Step Functions stamps it; the script: from its first request to its last
answer), the AEP requests made (the IMS token included), and the longest chain of requests each
sent after the previous one answered. Every figure is the median of --repeat runs.

aepflow runs on the local stack with its Lambda handlers imported (warm containers: cold imports
are bench/coldstart.py's), each example alone, twice under names of its own: once with its IMS
token cached, as a running deployment has it (the token lasts 24 hours and the monitor's schedule
keeps the shared cache fresh), and once with none (memory and cache emptied first: one more
request, and one more link in the chain). The script asks IMS for its token each run, as a script
does; it provisions each example on a fresh emulator, and the five one after another in one run."""

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


def _renamed(spec: dict[str, Any], suffix: str) -> dict[str, Any]:
    """The same spec under names nothing else in the stack uses (a first provisioning again)."""
    spec = json.loads(json.dumps(spec))
    spec["name"] = f"{spec['name']}-{suffix}"
    target = spec["target"]
    if (target["schema"].get("create") or {}).get("title"):
        target["schema"]["create"]["title"] += f" {suffix}"
    if (target["dataset"].get("create") or {}).get("name"):
        target["dataset"]["create"]["name"] += f" {suffix}"
    return spec


def _warm_up(stack: LocalStack) -> None:
    """One provisioning no figure counts, so every handler is imported and every client built (warm
    containers), under names nothing measured uses."""
    spec = _renamed(next(s for s in all_examples() if s["name"] == "acme-oracle-e2e"), "bench-warm-up")
    [result] = stack.provision([spec])
    if result["status"] != "ACTIVE":
        raise RuntimeError(f"warm-up provisioning failed: {result['errors']}")


def _forget_the_token(stack: LocalStack) -> None:
    """A provisioning that starts without a token: none in memory, none in the shared cache (the
    containers stay warm otherwise)."""
    import boto3

    from aepflow.aep.client import aep_client

    aep_client().tokens.invalidate()
    boto3.client("secretsmanager").put_secret_value(SecretId=stack.refs["AepTokenCacheSecret"], SecretString="{}")


def _aepflow(specs: list[dict[str, Any]], latency_ms: int) -> dict[str, dict[str, Any]]:
    """Each example alone, then the five at once (on a stack of their own), each twice: with no
    IMS token ("cold"), and with the token aepflow's cache holds ("cached")."""
    import boto3

    out: dict[str, dict[str, Any]] = {}
    with LocalStack() as stack:
        _warm_up(stack)
        stack.emulator.set_faults(latency_ms=latency_ms)
        sfn = boto3.client("stepfunctions")
        for spec in specs:
            _forget_the_token(stack)
            cold = _aepflow_run(stack, sfn, [spec])
            out[spec["name"]] = {"cold": cold, "cached": _aepflow_run(stack, sfn, [_renamed(spec, "cached")])}
    with LocalStack() as stack:
        _warm_up(stack)
        stack.emulator.set_faults(latency_ms=latency_ms)
        sfn = boto3.client("stepfunctions")
        _forget_the_token(stack)
        cold = _aepflow_run(stack, sfn, specs)
        out[ALL] = {"cold": cold, "cached": _aepflow_run(stack, sfn, [_renamed(s, "cached") for s in specs])}
    return out


def _aepflow_run(stack: LocalStack, sfn: Any, specs: list[dict[str, Any]]) -> dict[str, Any]:
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


def _median(runs: list[dict[str, Any]], label: str, key: str, token: str | None = None) -> float:
    return statistics.median((run[label][token] if token else run[label])[key] for run in runs)


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
    rows = []
    print(f"\nProvisioning at {args.latency_ms} ms per AEP request, median of {args.repeat}: aepflow on the local "
          "stack, its IMS token cached (as the monitor's schedule keeps it) and not (cold), against aepp making the "
          "seed's requests one after another (its own token each run)")
    print(f"{'example':26} {'wait s: cached  cold / seq':>27} {'ratio':>13} {'requests':>10} {'chain':>9} "
          f"{'AEP span s':>10} {'lambdas':>7}")
    for label in labels:
        row: dict[str, Any] = {"example": label, "sequentialWait": round(_median(scripts, label, "wait"), 3),
                               "sequentialRequests": int(_median(scripts, label, "requests")),
                               "sequentialChain": int(_median(scripts, label, "chain"))}
        for token in ("cached", "cold"):
            wait = _median(flows, label, "wait", token)
            row[token] = {"wait": round(wait, 3), "ratio": round(wait / row["sequentialWait"], 3),
                          "requests": int(_median(flows, label, "requests", token)),
                          "chain": int(_median(flows, label, "chain", token)),
                          "span": round(_median(flows, label, "span", token), 3),
                          "lambdas": int(_median(flows, label, "lambdas", token))}
        rows.append(row)
        cached, cold = row["cached"], row["cold"]
        print(f"{label:26} {cached['wait']:13.2f} {cold['wait']:5.2f} / {row['sequentialWait']:5.2f} "
              f"{cached['ratio']:6.2f} {cold['ratio']:5.2f} {cold['requests']:4d} / {row['sequentialRequests']:<3d}"
              f"{cold['chain']:3d} / {row['sequentialChain']:<3d} {cold['span']:10.2f} {cold['lambdas']:7d}")
    print("(requests, chain, span and lambdas: without a token; with it, one request and one link fewer)")
    for token in ("cached", "cold"):
        worst = max(rows, key=lambda r: r[token]["ratio"])
        chain = max(r[token]["chain"] for r in rows)
        ok = worst[token]["ratio"] <= TARGET_RATIO and chain <= MAX_CHAIN
        # The least any wait can be: its longest chain of requests, one latency each, and nothing else.
        floor = max(r[token]["chain"] * args.latency_ms / 1000 / r["sequentialWait"] for r in rows)
        print(f"token {token}: worst wait ratio aepflow / sequential {worst[token]['ratio']:.2f} ({worst['example']}; "
              f"target <= {TARGET_RATIO}); longest chain {chain} (target <= {MAX_CHAIN}) "
              f"-> {'PASS' if ok else 'FAIL'}; "
              f"the chains alone, at {args.latency_ms} ms a request, would be a ratio of up to {floor:.2f}")
    print(json.dumps({"latencyMs": args.latency_ms, "repeat": args.repeat, "rows": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
