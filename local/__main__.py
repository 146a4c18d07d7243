"""python -m local provision SPEC... | plan SPEC... | adopt FLOW_ID | rotate | drift | run | demo | serve
(see docs/local-stack.md)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

from aepflow.core.errors import AepflowError, SpecInvalid
from aepflow.doors.cli import render
from aepflow.doors.cli.main import ended_by_reader, quiet_logs
from local import secret_command
from local.clock import ScheduleClock, speed_argument
from local.declarative import Refused
from local.emulator.flow_runs import OUTCOMES
from local.examples import example_paths, load_spec

# What `provision` (and a refused --sources file) shows of each result, as `aepflow apply` does.
RESULT_COLUMNS = ("file", "name", "status", "action", "flowId")
# The errors a command expects (a spec refused, a dataflow that cannot do what was asked): a message
# and an exit code, no traceback. local/declarative.py raises Refused when a step it needs fails.
Expected = (AepflowError, Refused, OSError)  # OSError: a spec file that cannot be read


class Unreadable:
    """A spec file that could not be read; it gets an INVALID result line of its own."""

    def __init__(self, path: str, problems: list[dict[str, str]]):
        self.path, self.problems = path, problems

    def result(self) -> dict[str, Any]:
        return {"name": None, "status": "INVALID", "file": self.path, "errors": self.problems}


def _read_spec(path: str) -> Any:
    from aepflow.core.errors import SpecInvalid

    try:
        return load_spec(path)
    except SpecInvalid as exc:
        return Unreadable(path, exc.problems)
    except OSError as exc:
        return Unreadable(path, [{"path": "(file)", "message": f"cannot be read: {exc.strerror or exc}"}])


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--record", metavar="FILE", help="write every AEP and IMS request as a JSON line")
    parser.add_argument("--dump-state", metavar="FILE", help="write the emulator's resources at the end")
    parser.add_argument("--latency-ms", type=int, default=0, help="latency the emulator adds to every call")
    parser.add_argument("--faults", type=float, default=0.0, metavar="RATE",
                        help="rate of injected 429/500/503/504 answers")
    parser.add_argument("--secrets", metavar="FILE",
                        help="JSON object, secret name to value, for the local Secrets Manager")
    parser.add_argument("--sources", metavar="FILE", help=SOURCES_HELP)
    parser.add_argument("--files", metavar="DIR", help=FILES_HELP)
    parser.add_argument("--seed", type=int, default=0, help="seed of the emulator's fault injection")
    _output_options(parser)


def _output_options(parser: argparse.ArgumentParser) -> None:
    """What every command takes, as the aepflow command does: --json for JSON lines (a table, or
    `key: value` lines, by default) and -v for logs (on stderr, WARNING without it)."""
    parser.add_argument("--json", action="store_true", help="JSON lines for scripts instead of a table")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="log on stderr at INFO (-vv: DEBUG)")


FILES_HELP = ("a folder of your own S3 buckets for the local S3, each subfolder a bucket and its files the objects "
              "(beside examples/files/), which an Amazon S3 source explores and ingests (docs/local-stack.md)")
SOURCES_HELP = ("JSON object, connector -> table or object path -> {columns, rows}: the tables of your own "
                "sources, which the emulator's explore answers beside the seeds' (docs/local-stack.md)")


def _said(exc: Exception) -> str:
    """An expected error in words: its code, message and each problem's path (AepflowError's str()
    is the JSON the state machine reads)."""
    if not isinstance(exc, AepflowError):
        return str(exc)
    problems = "".join(f"\n  {p.get('path')}: {p.get('message')}" for p in exc.problems)
    return f"{exc.code + ': ' if exc.code else ''}{exc.message}{problems}"


def log_level(args: argparse.Namespace) -> dict[str, str]:
    """The local stack's LogLevel (template.yaml's parameter, its functions' POWERTOOLS_LOG_LEVEL):
    WARNING, INFO with -v, DEBUG with -vv; the functions run in this process, so their lines are
    this command's logs, on stderr."""
    verbose = getattr(args, "verbose", 0)
    return {"LogLevel": "WARNING" if not verbose else "INFO" if verbose == 1 else "DEBUG"}


def _json_object(text: str) -> dict[str, Any]:
    """An argument that must be a JSON object (argparse says which, and why, when it is not)."""
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("not a JSON object")
    return value


def _secrets(args: argparse.Namespace) -> dict[str, Any] | None:
    """--secrets FILE: a JSON object, secret name -> value; Refused (a message, no traceback) otherwise."""
    if not getattr(args, "secrets", None):
        return None
    try:
        value = json.loads(Path(args.secrets).read_text())
    except (OSError, ValueError) as exc:
        raise Refused(f"--secrets {args.secrets}: {exc}") from None
    if not isinstance(value, dict):
        raise Refused(f"--secrets {args.secrets}: not a JSON object of secret name -> value")
    return value


def _files(args: argparse.Namespace) -> str | None:
    """--files DIR, checked before anything runs: Refused (a message, no traceback) when it is no folder of
    buckets (local/source_files.py)."""
    from local.source_files import FilesInvalid, read

    folder = getattr(args, "files", None)
    if folder:
        try:
            read(folder)
        except FilesInvalid as exc:
            raise Refused(str(exc)) from None
    return folder


def _read_sources(args: argparse.Namespace, out) -> int | None:
    """--sources, read and checked before anything runs (args.sources_object); a malformed file gets its
    INVALID line (and each problem on stderr, `FILE: PATH: MESSAGE`): exit code 2."""
    from local.emulator.sources_file import SourcesInvalid, read

    args.sources_object = None
    if not getattr(args, "sources", None):
        return None
    try:
        args.sources_object = read(args.sources)
    except SourcesInvalid as refused:
        render.results(out, [{"file": refused.source, "name": None, "status": "INVALID", "errors": refused.problems}],
                       getattr(args, "json", False), columns=RESULT_COLUMNS)
        sys.stderr.write("".join(line + "\n" for line in refused.lines()))
        return 2
    return None


def _exit_code(results: list[dict[str, Any]]) -> int:
    statuses = {r["status"] for r in results}
    return 2 if "INVALID" in statuses else 1 if "FAILED" in statuses else 0


def _write_lines(path: str, rows: list[Any]) -> None:
    with open(path, "w") as fh:
        for row in rows:
            fh.write(json.dumps(row) + "\n")


def _monitor_scenario(args: argparse.Namespace, out) -> int:
    from local.monitor_scenario import Scenario

    secrets = _secrets(args)
    with Scenario(flows=args.flows, runs_per_flow=args.runs_per_flow, seed=args.seed, latency_ms=args.latency_ms,
                  faults=args.faults, secrets=secrets, sources=args.sources_object, shards=args.shards,
                  parameters=log_level(args)) as scenario:
        summary = scenario.run()
        if args.record:
            _write_lines(args.record, scenario.stack.emulator.records)
        if args.dump_state:
            Path(args.dump_state).write_text(json.dumps(scenario.stack.emulator.dump_state()))
        if args.alerts:
            _write_lines(args.alerts, scenario.messages)
    render.record(out, summary, args.json)
    return 0 if summary["duplicates"] == 0 and summary["missed"] == 0 else 1


# What the demo's flows do once provisioned, so the monitor has something to say.
DEMO_RUN_OUTCOMES = {"acme-salesforce-contacts": ["failed-promotion", "success"],
                     "acme-zendesk-users": ["partial", "success"],
                     "acme-mixpanel-events": ["stuck"]}
DEMO_WATCH_MINUTES, DEMO_POLL_MINUTES = 180, 15


def _watch(stack: Any, results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Advance the emulator's clock, poll with the run monitor, return what reached SNS."""
    for result in results:
        if result["status"] == "ACTIVE" and result["name"] in DEMO_RUN_OUTCOMES:
            stack.emulator.set_run_outcomes(result["flowId"], DEMO_RUN_OUTCOMES[result["name"]])
    ScheduleClock(stack, poll_minutes=DEMO_POLL_MINUTES).advance(DEMO_WATCH_MINUTES)
    return stack.messages()


def in_rounds(specs: list[Any]) -> list[list[int]]:
    """Indexes of `specs` in rounds: specs under one name are versions of one dataflow, applied in the
    order given, one per round; different names go in the same round, provisioned concurrently."""
    rounds: list[list[int]] = []
    seen: dict[Any, int] = {}
    for index, spec in enumerate(specs):
        name = spec.get("name") if isinstance(spec, dict) and isinstance(spec.get("name"), str) else None
        depth = seen.get(name, -1) + 1 if name is not None else 0
        if name is not None:
            seen[name] = depth
        while len(rounds) <= depth:
            rounds.append([])
        rounds[depth].append(index)
    return rounds


def _provision_in_rounds(stack: Any, specs: list[Any]) -> list[dict[str, Any]]:
    readable = [i for i, s in enumerate(specs) if not isinstance(s, Unreadable)]
    results: dict[int, dict[str, Any]] = {}
    for round_ in in_rounds([specs[i] for i in readable]):
        indexes = [readable[i] for i in round_]
        for index, result in zip(indexes, stack.provision([specs[i] for i in indexes]), strict=True):
            results[index] = result
    return [s.result() if isinstance(s, Unreadable) else results[i] for i, s in enumerate(specs)]


def _run(args: argparse.Namespace, specs: list[Any], out, watch: bool = False) -> list[dict[str, Any]]:
    from local.stack import LocalStack

    secrets = _secrets(args)
    with LocalStack(latency_ms=args.latency_ms, fault_rate=args.faults, seed=args.seed, secrets=secrets,
                    sources=args.sources_object, parameters=log_level(args), files=_files(args)) as stack:
        started = time.monotonic()
        ordered = _provision_in_rounds(stack, specs)
        elapsed = time.monotonic() - started
        stack.emulator.set_faults(latency_ms=0, fault_rate=0.0)
        if args.record:
            with open(args.record, "w") as fh:
                for record in stack.emulator.records:
                    fh.write(json.dumps(record) + "\n")
        if args.dump_state:
            Path(args.dump_state).write_text(json.dumps(stack.emulator.dump_state(), indent=1))
        args._summary = {"seconds": round(elapsed, 2), "requests": len(stack.emulator.records),
                         "imsTokens": stack.emulator.ims_token_requests, "alerts": stack.messages(),
                         "bucketGrants": _bucket_grants(stack)}
        if watch:
            args._summary["monitorAlerts"] = _watch(stack, ordered)
    return ordered


def _bucket_grants(stack: Any) -> list[dict[str, Any]]:
    """What the local S3's bucket policies let Adobe's IAM role (the emulator's) read: a line each."""
    s3, role = stack.client("s3"), stack.emulator.adobe_iam_role
    found = []
    for bucket in stack.source_buckets:
        try:
            statements = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"]).get("Statement") or []
        except s3.exceptions.ClientError:
            continue  # no policy
        for statement in statements:
            if (statement.get("Principal") or {}).get("AWS") in (role, [role]):
                found.append({"bucket": bucket, "sid": statement.get("Sid"), "action": statement.get("Action"),
                              "resource": statement.get("Resource")})
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local", description="aepflow on the local stack")
    sub = parser.add_subparsers(dest="command", required=True)
    provision = sub.add_parser("provision", help="provision each spec through the state machine (JSON Lines out)")
    provision.add_argument("specs", nargs="+", metavar="SPEC")
    _options(provision)
    demo = sub.add_parser("demo", help="provision every spec in examples/ and print a table")
    _options(demo)
    scenario = sub.add_parser("monitor-scenario", help="many managed flows with runs, the monitor polling until "
                                                       "it has caught up; one JSON summary")
    scenario.add_argument("--flows", type=int, default=1000, help="how many managed flows")
    scenario.add_argument("--runs-per-flow", type=int, default=4, help="schedule intervals each flow runs for")
    scenario.add_argument("--alerts", metavar="FILE", help="write every message that reached SNS as a JSON line")
    scenario.add_argument("--shards", type=int, metavar="N",
                          help="MONITOR_SHARDS for the scenario (default: the stack's, 64)")
    _options(scenario)
    plan = sub.add_parser("plan", help="plan each spec against what --current provisioned (GETs only): a table, "
                                       "or JSON Lines with --json")
    plan.add_argument("specs", nargs="+", metavar="SPEC")
    plan.add_argument("--current", action="append", default=[], metavar="SPEC",
                      help="provision this spec first (repeatable): what the plan is made against")
    plan.add_argument("--detailed-exitcode", action="store_true",
                      help="exit 0 when nothing would change, 2 when something would, 1 on any error (for CI)")
    _options(plan)
    adopt = sub.add_parser("adopt", help="bring a flow aepflow did not make under management: its spec as YAML")
    adopt.add_argument("flow_id", nargs="?", metavar="FLOW_ID")
    adopt.add_argument("--hand-made", action="store_true",
                       help="first make a flow in the emulator with AEP's own API, as the UI would, and adopt it")
    adopt.add_argument("--name", help="the dataflow's name (default: from the flow's name)")
    _options(adopt)
    rotate = sub.add_parser("rotate",
                            help="provision SPEC, put a new value of its source secret, and show it reach AEP")
    rotate.add_argument("spec", metavar="SPEC")
    rotate.add_argument("--value", required=True, metavar="JSON", type=_json_object,
                        help="the secret's new value (a JSON object)")
    _options(rotate)
    drift = sub.add_parser("drift", help="provision SPEC, change its flow behind aepflow's back, run the drift check")
    drift.add_argument("spec", metavar="SPEC")
    drift.add_argument("--change", choices=("disable", "rename", "delete"), default="disable")
    drift.add_argument("--checks", type=int, default=2, help="how many drift checks to run (default 2)")
    _options(drift)
    run = sub.add_parser("run", help="provision SPEC (frequency: once), start a run on demand, watch it")
    run.add_argument("spec", metavar="SPEC")
    run.add_argument("--window", nargs=2, type=int, metavar=("START", "END"), help="epoch seconds")
    run.add_argument("--outcome", choices=OUTCOMES, help="what the emulator makes of the run")
    _options(run)
    serve = sub.add_parser("serve", help="keep the local stack up with its API and S3 on 127.0.0.1 until interrupted")
    serve.add_argument("--port", type=int, default=0, help="port of the API (default: any free port)")
    serve.add_argument("--secrets", metavar="FILE",
                       help="JSON object, secret name to value, for the local Secrets Manager")
    serve.add_argument("--sources", metavar="FILE", help=SOURCES_HELP)
    serve.add_argument("--files", metavar="DIR", help=FILES_HELP)
    serve.add_argument("--clock-speed", type=speed_argument, default=0.0, metavar="N",
                       help="emulated minutes per real second the local clock moves, making runs and monitor polls "
                            "(default 0: it moves only on POST /_local/clock)")
    serve.add_argument("-v", "--verbose", action="count", default=0, help="log on stderr at INFO (-vv: DEBUG)")
    secret_command.add_parser(sub)  # python -m local secret put NAME --value JSON --endpoint URL
    args = parser.parse_args(argv)

    # stdout carries results only; logs (WARNING unless -v) and anything a library prints go to stderr.
    out = sys.stdout
    sys.stdout = sys.stderr
    quiet_logs(getattr(args, "verbose", 0))
    # moto logs every Fail state as an ERROR; the result already says what failed.
    logging.getLogger("moto.stepfunctions").setLevel(logging.CRITICAL)
    try:
        if args.command == "secret":
            return secret_command.run(args, out)
        refused = _read_sources(args, out)
        if refused is not None:
            return refused
        if args.command == "serve":
            from local.serve import serve as serve_forever
            return serve_forever(out, port=args.port, secrets=_secrets(args), sources=args.sources_object,
                                 clock_speed=args.clock_speed, parameters=log_level(args), files=_files(args))
        if args.command == "monitor-scenario":
            return _monitor_scenario(args, out)
        if args.command in ("plan", "adopt", "rotate", "drift", "run"):
            return _declarative(args, out)
        if args.command == "provision":
            results = _run(args, [_read_spec(p) for p in args.specs], out)
            for path, result in zip(args.specs, results, strict=True):
                result.setdefault("file", path)
            render.results(out, results, args.json, columns=RESULT_COLUMNS)
        else:
            paths = example_paths()
            results = _run(args, [_read_spec(str(p)) for p in paths], out, watch=True)
            _print_demo(out, paths, results, args._summary, args.json)
        out.flush()
        return _exit_code(results)
    except BrokenPipeError:
        sys.stdout = out
        return ended_by_reader()
    except Expected as exc:  # an error the command expects: its message, no traceback
        sys.stderr.write(f"python -m local {args.command}: {_said(exc)}\n")
        return 2 if isinstance(exc, SpecInvalid) else 1
    finally:
        sys.stdout = out


def _declarative(args: argparse.Namespace, out) -> int:
    from local import declarative
    from local.stack import LocalStack

    secrets = _secrets(args)
    with LocalStack(latency_ms=args.latency_ms, fault_rate=args.faults, seed=args.seed, secrets=secrets,
                    sources=args.sources_object, parameters=log_level(args), files=_files(args)) as stack:
        try:
            if args.command == "plan":
                specs = [_read_spec(p) for p in args.specs]
                unreadable = [s for s in specs if isinstance(s, Unreadable)]
                for spec in unreadable:
                    out.write(json.dumps(spec.result()) + "\n")
                code = declarative.plan(stack, [s for s in specs if not isinstance(s, Unreadable)],
                                        [_read_spec(p) for p in args.current], out, args.json, args.detailed_exitcode)
                code = (1 if args.detailed_exitcode else 2) if unreadable else code
            elif args.command == "adopt":
                code = declarative.adopt(stack, args.flow_id, args.hand_made, args.name, out, sys.stderr, args.json)
            elif args.command == "rotate":
                code = declarative.rotate(stack, load_spec(args.spec), args.value, out, args.json)
            elif args.command == "drift":
                code = declarative.drift(stack, load_spec(args.spec), args.change, args.checks, out, args.json)
            else:
                code = declarative.run(stack, load_spec(args.spec), args.window, args.outcome, out, args.json)
        finally:
            if args.record:
                _write_lines(args.record, stack.emulator.records)
    out.flush()
    return code


def _words(value: Any) -> str:
    return ", ".join(value) if isinstance(value, list) else str(value)


def _print_demo(out, paths: list[Path], results: list[dict[str, Any]], summary: dict[str, Any],
                as_json: bool = False) -> None:
    rows = [{"file": path.name, **result} for path, result in zip(paths, results, strict=True)]
    if as_json:  # a line per example's result, then one with the summary
        render.results(out, rows, True, columns=RESULT_COLUMNS)
        render.record(out, {"summary": summary}, True)
        return
    out.write("aepflow demo: every example spec provisioned through the real state machine\n\n")
    # As provision prints them (errors, warnings, what changed under a row), with the dataset.
    render.results(out, rows, False, columns=(*RESULT_COLUMNS, "datasetId"))
    out.write(f"\n{sum(r['status'] == 'ACTIVE' for r in results)}/{len(results)} ACTIVE in {summary['seconds']}s; "
              f"{summary['requests']} AEP/IMS requests, {summary['imsTokens']} IMS token request(s), "
              f"{len(summary['alerts'])} failure alert(s) on SNS\n")
    grants = summary.get("bucketGrants") or []
    if grants:
        out.write(f"\nAdobe's IAM role may read the S3 sources through {len(grants)} statement(s) aepflow added to "
                  "their buckets' policies:\n")
        out.write("".join(f"  s3://{g['bucket']}  {g['sid']}  {_words(g['action'])} on {_words(g['resource'])}\n"
                          for g in grants))
    alerts = summary.get("monitorAlerts") or []
    out.write(f"\nThe run monitor, polling every {DEMO_POLL_MINUTES} emulated minutes for {DEMO_WATCH_MINUTES // 60} "
              f"hours, sent {len(alerts)} alert(s) to SNS:\n")
    for alert in alerts:
        text = json.loads(alert["Message"]).get("text", "") if alert["Message"].startswith("{") else alert["Message"]
        out.write(f"\n  {alert['Subject']}\n")
        out.write("".join(f"    {line}\n" for line in text.splitlines()[2:] if line.strip()))


if __name__ == "__main__":
    sys.exit(main())
