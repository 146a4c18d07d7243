"""python -m local provision SPEC... | demo | serve  (see README.md)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from local.examples import example_paths, load_spec



def _read_spec(path: str) -> Any:
    try:
        return load_spec(path)
    except (OSError, yaml.YAMLError) as exc:
        return {"__unreadable__": f"{path}: {exc}"}


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--record", metavar="FILE", help="write every AEP and IMS request as a JSON line")
    parser.add_argument("--dump-state", metavar="FILE", help="write the emulator's resources at the end")
    parser.add_argument("--latency-ms", type=int, default=0, help="latency the emulator adds to every call")
    parser.add_argument("--faults", type=float, default=0.0, metavar="RATE",
                        help="rate of injected 429/500/503/504 answers")
    parser.add_argument("--secrets", metavar="FILE", help="JSON object, secret name to value, for the local Secrets Manager")
    parser.add_argument("--seed", type=int, default=0, help="seed of the emulator's fault injection")


def _exit_code(results: list[dict[str, Any]]) -> int:
    statuses = {r["status"] for r in results}
    return 2 if "INVALID" in statuses else 1 if "FAILED" in statuses else 0


def _run(args: argparse.Namespace, specs: list[Any], out) -> list[dict[str, Any]]:
    from local.stack import LocalStack

    secrets = json.loads(Path(args.secrets).read_text()) if args.secrets else None
    with LocalStack(latency_ms=args.latency_ms, fault_rate=args.faults, seed=args.seed, secrets=secrets) as stack:
        started = time.monotonic()
        runnable = [s for s in specs if not (isinstance(s, dict) and "__unreadable__" in s)]
        results = iter(stack.provision(runnable))
        ordered = [
            {"name": None, "status": "INVALID", "errors": [{"path": "(file)", "message": s["__unreadable__"]}]}
            if isinstance(s, dict) and "__unreadable__" in s else next(results) for s in specs]
        elapsed = time.monotonic() - started
        stack.emulator.set_faults(latency_ms=0, fault_rate=0.0)
        if args.record:
            with open(args.record, "w") as fh:
                for record in stack.emulator.records:
                    fh.write(json.dumps(record) + "\n")
        if args.dump_state:
            Path(args.dump_state).write_text(json.dumps(stack.emulator.dump_state(), indent=1))
        args._summary = {"seconds": round(elapsed, 2), "requests": len(stack.emulator.records),
                         "imsTokens": stack.emulator.ims_token_requests, "alerts": stack.messages()}
    return ordered


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local", description="aepflow on the local stack")
    sub = parser.add_subparsers(dest="command", required=True)
    provision = sub.add_parser("provision", help="provision each spec through the state machine (JSON Lines out)")
    provision.add_argument("specs", nargs="+", metavar="SPEC")
    _options(provision)
    demo = sub.add_parser("demo", help="provision every spec in examples/ and print a table")
    _options(demo)
    serve = sub.add_parser("serve", help="keep the local stack up with its API and S3 on 127.0.0.1 until interrupted")
    serve.add_argument("--port", type=int, default=0, help="port of the API (default: any free port)")
    serve.add_argument("--secrets", metavar="FILE", help="JSON object, secret name to value, for the local Secrets Manager")
    args = parser.parse_args(argv)

    # stdout carries results only; logs and anything a library prints go to stderr.
    out = sys.stdout
    sys.stdout = sys.stderr
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    # moto logs every Fail state as an ERROR; the result already says what failed.
    logging.getLogger("moto.stepfunctions").setLevel(logging.CRITICAL)
    try:
        if args.command == "serve":
            from local.serve import serve as serve_forever
            secrets = json.loads(Path(args.secrets).read_text()) if args.secrets else None
            return serve_forever(out, port=args.port, secrets=secrets)
        if args.command == "provision":
            results = _run(args, [_read_spec(p) for p in args.specs], out)
            for result in results:
                out.write(json.dumps(result) + "\n")
        else:
            paths = example_paths()
            results = _run(args, [_read_spec(str(p)) for p in paths], out)
            _print_demo(out, paths, results, args._summary)
        out.flush()
        return _exit_code(results)
    finally:
        sys.stdout = out


def _print_demo(out, paths: list[Path], results: list[dict[str, Any]], summary: dict[str, Any]) -> None:
    header = f"{'example':<34} {'dataflow':<28} {'status':<8} {'flow id':<38} {'dataset':<26}"
    out.write("aepflow demo: every example spec provisioned through the real state machine\n\n")
    out.write(header + "\n" + "-" * len(header) + "\n")
    for path, result in zip(paths, results):
        out.write(f"{path.name:<34} {str(result['name']):<28} {result['status']:<8} "
                  f"{str(result.get('flowId')):<38} {str(result.get('datasetId')):<26}\n")
        for error in result.get("errors") or []:
            out.write(f"    {error.get('path') or error.get('step') or ''}: {error.get('code') or ''} {error.get('message')}\n")
    out.write(f"\n{sum(r['status'] == 'ACTIVE' for r in results)}/{len(results)} ACTIVE in {summary['seconds']}s; "
              f"{summary['requests']} AEP/IMS requests, {summary['imsTokens']} IMS token request(s), "
              f"{len(summary['alerts'])} failure alert(s) on SNS\n")


if __name__ == "__main__":
    sys.exit(main())
