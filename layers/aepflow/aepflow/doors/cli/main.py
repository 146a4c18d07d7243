"""aepflow COMMAND ... (see docs/doors.md, "The aepflow command"): the parser, the offline commands
(validate, connectors) and those that call the API (apply, plan, get, list, runs, delete); explore
and init are source.py's, promote promote.py's, publish publish.py's. Exit codes: exits.py."""

from __future__ import annotations

import argparse
import re
import sys
from typing import Any
from urllib.parse import quote

from aepflow.doors.cli import follow, preview, promote, publish, render, source
from aepflow.doors.cli.exits import CHANGES, FAILED, INVALID, OK
from aepflow.doors.cli.remote import Answer, ApiUnreachable, api_of


def _read(path: str) -> bytes:
    from aepflow.spec.document import MAX_DOCUMENT_BYTES

    with open(path, "rb") as fh:
        return fh.read(MAX_DOCUMENT_BYTES + 1)


# --- offline ----------------------------------------------------------------------------------

def validate_file(path: str) -> dict[str, Any]:
    """The checks of the state machine's first step that need neither AWS nor AEP, with the same
    messages: the document reader, the spec model, the connector catalog and the credentials
    boundary. What the named secret holds is checked when the spec is provisioned."""
    from aepflow.core.errors import SpecInvalid
    from aepflow.spec.document import read
    from aepflow.spec.parse import parse_spec, resolve_source
    from aepflow.steps.validate import mapping_problems

    result: dict[str, Any] = {"file": path, "name": None, "status": "VALID", "errors": [], "warnings": []}
    try:
        raw = read(_read(path), json_only=path.lower().endswith(".json"))
        result["name"] = raw.get("name") if isinstance(raw.get("name"), str) else None
        spec = parse_spec(raw)
        resolved = resolve_source(spec)
        result.update(connector=resolved.connector, connectionSpecId=resolved.connectionSpecId,
                      flowSpec=resolved.flowSpecName, warnings=resolved.warnings)
        problems = mapping_problems(spec, resolved)
        if problems:
            raise SpecInvalid(f"the dataflow spec has {len(problems)} problem(s)", problems=problems)
    except SpecInvalid as exc:
        result.update(status="INVALID", errors=exc.problems)
    except OSError as exc:
        result.update(status="INVALID",
                      errors=[{"path": "(file)", "message": f"cannot be read: {exc.strerror or exc}"}])
    return result


def cmd_validate(args: argparse.Namespace, out) -> int:
    results = [validate_file(path) for path in args.specs]
    render.results(out, results, args.json, columns=("file", "name", "status", "connector"))
    return INVALID if any(r["status"] == "INVALID" for r in results) else OK


def cmd_connectors(args: argparse.Namespace, out) -> int:
    from aepflow.spec.connectors import CONNECTORS, connector_named, unknown_connector

    if args.name:
        found = connector_named(args.name)  # in any case, as a spec names it
        if found is None:
            sys.stderr.write(f"aepflow: {unknown_connector(args.name)}; `aepflow connectors` lists them\n")
            return FAILED
        chosen = [found]
    else:
        chosen = sorted(CONNECTORS.values(), key=lambda c: c.name)
    rows = [{"name": connector.name, "label": connector.label, "connectionSpecId": connector.connection_spec_id,
             "family": connector.family, "deprecated": connector.deprecated,
             "authSpecs": [{"name": a.name, "required": a.required,
                            "optional": [p for p in a.params if p not in a.required]}
                           for a in connector.auth_specs],
             "sourceParams": list(connector.source_params),
             "filterAtSource": connector.filter_at_source} for connector in chosen]
    render.connectors(out, rows, args.json)
    return OK


# --- through the API --------------------------------------------------------------------------

def _refused(answer: Answer) -> int:
    body = answer.body if isinstance(answer.body, dict) else {}
    return INVALID if answer.status == 400 and body.get("code") in ("SpecInvalid", "RequestInvalid") else FAILED


def cmd_apply(args: argparse.Namespace, out) -> int:
    api, worst, results = api_of(args), OK, []
    for path in args.specs:
        try:
            data = _read(path)
        except OSError as exc:
            results.append({"file": path, "status": "INVALID", "errors": [{"path": "(file)", "message": str(exc)}]})
            worst = max(worst, INVALID)
            continue
        answer = api.call("POST", "/dataflows", body=data, content_type="application/yaml",
                          query={"draft": "true"} if args.draft else None)
        if answer.status != 202:
            code = _refused(answer)
            body = answer.body if isinstance(answer.body, dict) else {}
            results.append({"file": path, "status": "INVALID" if code == INVALID else "FAILED",
                            "errors": body.get("problems") or [body]})
            worst = max(worst, code)
            continue
        name = answer.body["name"]
        view = follow.wait(api, name, out, args) if not args.no_wait else answer.body
        results.append(follow.applied_result(path, name, view, started=answer.body.get("started", True)))
        worst = max(worst, FAILED if view.get("status") == "FAILED" else OK)
    render.results(out, results, args.json, columns=follow.APPLY_COLUMNS)
    return worst


def cmd_plan(args: argparse.Namespace, out) -> int:
    """The plan of each spec (GETs only), then a summary line. Exit codes: as every command (0, 1 when
    the API failed, 2 when a spec is INVALID); with --detailed-exitcode, as CI tools expect them: 0
    when nothing would change, 2 when something would, 1 on any error (an invalid spec included)."""
    from aepflow.ops.plan import render as plan_render

    api, worst, plans = api_of(args), OK, []
    for path in args.specs:
        try:
            data = _read(path)
        except OSError as exc:
            render.results(out, [{"file": path, "status": "INVALID", "errors": [
                {"path": "(file)", "message": f"cannot be read: {exc.strerror or exc}"}]}], args.json,
                           columns=("file", "status"))
            worst = max(worst, INVALID)
            continue
        answer = api.call("POST", "/dataflows", query={"dryRun": "true"}, body=data, content_type="application/yaml")
        if answer.status != 200:
            worst = max(worst, _refused(answer))
            render.error(out, path, answer, args.json)
            plans.append({"action": "invalid" if _refused(answer) == INVALID else "failed"})  # counted, not planned
            continue
        plans.append(answer.body)
        render.plan(out, path, answer.body, args.json)
        if args.preview:  # the rows a spec's source.filter keeps, through the dataflow's explore
            worst = max(worst, preview.preview(api, out, path, data, answer.body, args.json))
    if not args.json:
        out.write(plan_render.summary(plans))
    if args.detailed_exitcode:
        return FAILED if worst != OK else CHANGES if plan_render.changes_anything(plans) else OK
    return worst


def _simple(method: str, path: str, printer):
    def command(args: argparse.Namespace, out) -> int:
        query = {"limit": args.limit} if getattr(args, "limit", None) else None
        answer = api_of(args).call(method, follow.path_of(path, getattr(args, "name", None)), query=query)
        if answer.status != 200:
            render.error(out, getattr(args, "name", path), answer, args.json)
            return FAILED
        printer(out, answer.body, args.json)
        return OK
    return command


def cmd_runs(args: argparse.Namespace, out) -> int:
    """A dataflow's recent runs; with --errors RUN_ID, what the monitor kept of that run's failed records."""
    if not args.errors:
        return _simple("GET", "/dataflows/{name}/runs", render.runs)(args, out)
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", args.errors):
        raise follow.NotAName(f"{args.errors!r} is not a run id (`aepflow runs {args.name}` lists them)")
    path = follow.path_of("/dataflows/{name}/runs/", args.name) + quote(args.errors, safe="") + "/errors"
    answer = api_of(args).call("GET", path)
    if answer.status != 200:
        render.error(out, f"{args.name} run {args.errors}", answer, args.json)
        return FAILED
    render.run_errors(out, answer.body, args.json)
    return OK


def cmd_delete(args: argparse.Namespace, out) -> int:
    """Delete a dataflow, after a confirmation (or --yes). The dataset and the schema aepflow created are
    kept unless --delete-data (or the spec's onDelete) says otherwise; the answer lists what was kept."""
    path = follow.path_of("/dataflows/{name}", args.name)
    what = ("the flow, its connections, and the dataset and schema aepflow created with everything ingested "
            "into them" if args.delete_data else "the flow and its connections (the dataset and schema are kept)")
    if not follow.confirmed(args.yes, f"Delete dataflow {args.name}: {what}?",
                            f"delete {args.name} asks before deleting {what}; pass --yes to delete without asking"):
        sys.stderr.write("not deleted\n")
        return FAILED
    answer = api_of(args).call("DELETE", path, query={"deleteData": "true"} if args.delete_data else None)
    if answer.status != 200:
        render.error(out, args.name, answer, args.json)
        return FAILED
    render.deleted(out, answer.body, args.json)
    return OK


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="aepflow", description="Provision and watch AEP source dataflows from specs.")
    where = argparse.ArgumentParser(add_help=False)
    where.add_argument("--stack", metavar="NAME", help="a deployed aepflow stack (its ApiUrl output; requests "
                                                       "signed with your AWS credentials)")
    where.add_argument("--profile", help="the AWS profile for --stack")
    where.add_argument("--region", help="the AWS region for --stack")
    where.add_argument("--api", metavar="URL", help="the local API of `python -m local serve` (default "
                                                    "http://127.0.0.1:8080, or AEPFLOW_API)")
    output = argparse.ArgumentParser(add_help=False)
    output.add_argument("--json", action="store_true", help="JSON (lines) for scripts instead of tables")
    output.add_argument("-v", "--verbose", action="count", default=0, help="log on stderr at INFO (-vv: DEBUG)")
    sub = top.add_subparsers(dest="command", required=True)
    p = sub.add_parser("validate", parents=[output], help="check specs offline (no AWS, no AEP)")
    p.add_argument("specs", nargs="+", metavar="SPEC")
    p.set_defaults(run=cmd_validate)
    p = sub.add_parser("connectors", parents=[output], help="the connector catalog: ids, auth specs and params")
    p.add_argument("name", nargs="?", help="one connector")
    p.set_defaults(run=cmd_connectors)
    p = sub.add_parser("apply", parents=[where, output], help="provision or change dataflows, and wait for them")
    p.add_argument("specs", nargs="+", metavar="SPEC")
    p.add_argument("--no-wait", action="store_true", help="return once provisioning has started")
    p.add_argument("--timeout", type=float, default=900, help="seconds to wait for each dataflow (900)")
    p.add_argument("--draft", action="store_true", help="make each new dataflow an AEP draft: no run until "
                                                        "`aepflow publish NAME` (where its flow spec allows drafts)")
    p.set_defaults(run=cmd_apply)
    p = sub.add_parser("plan", parents=[where, output], help="what applying the specs would change (GETs only)")
    p.add_argument("specs", nargs="+", metavar="SPEC")
    p.add_argument("--detailed-exitcode", action="store_true",
                   help="exit 0 when nothing would change, 2 when something would, 1 on any error (for CI)")
    p.add_argument("--preview", action="store_true", help="for a spec with a source.filter, the rows it keeps (explore "
                                                          "through the dataflow's base connection)")
    p.set_defaults(run=cmd_plan)
    p = sub.add_parser("get", parents=[where, output], help="one dataflow: record, status, live flow")
    p.add_argument("name")
    p.set_defaults(run=_simple("GET", "/dataflows/{name}", render.dataflow))
    p = sub.add_parser("list", parents=[where, output], help="the dataflows")
    p.add_argument("--limit", type=int, default=100)
    p.set_defaults(run=_simple("GET", "/dataflows", render.listing))
    p = sub.add_parser("runs", parents=[where, output], help="a dataflow's recent runs, as the monitor sees them")
    p.add_argument("name")
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--errors", metavar="RUN_ID", help="a failed run's records, as the monitor kept them: error codes "
                                                      "with counts, a few records, where the files are")
    p.set_defaults(run=cmd_runs)
    p = sub.add_parser("delete", parents=[where, output], help="delete a dataflow and what aepflow created for it "
                                                               "(the dataset and schema are kept)")
    p.add_argument("name")
    p.add_argument("--yes", action="store_true", help="delete without asking")
    p.add_argument("--delete-data", action="store_true", help="delete the dataset and schema aepflow created too, "
                                                              "with everything ingested into them")
    p.set_defaults(run=cmd_delete)
    source.add_commands(sub, where, output)
    promote.add_command(sub, where, output)
    publish.add_command(sub, where, output)
    return top


def main(argv: list[str] | None = None) -> int:
    from aepflow.core import settings

    args = parser().parse_args(argv)
    quiet_logs(args.verbose)
    if getattr(args, "api", None) is None and "api" in args:
        args.api = settings.load(settings.CommandSettings).api
    out = sys.stdout
    try:
        code = args.run(args, out)
        out.flush()  # here, so that a reader gone away is seen below, not at the interpreter's exit
        return code
    except follow.NotAName as exc:
        sys.stderr.write(f"aepflow: {exc}\n")
        return INVALID
    except ApiUnreachable as exc:
        sys.stderr.write(f"aepflow: {exc}\n")
        return FAILED
    except BrokenPipeError:
        return ended_by_reader()
    except KeyboardInterrupt:
        sys.stderr.write("aepflow: interrupted\n")
        return 130
    except Exception as exc:  # a botocore credentials or CloudFormation error, say: one line, no trace
        from botocore.exceptions import BotoCoreError, ClientError

        if isinstance(exc, (BotoCoreError, ClientError)):
            sys.stderr.write(f"aepflow: {exc}\n")
            return FAILED
        raise


def quiet_logs(verbose: int) -> None:
    """Logs on stderr, at WARNING unless -v (INFO) or -vv (DEBUG): stdout carries results only."""
    import logging

    level = logging.WARNING if not verbose else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(stream=sys.stderr, level=level, format="%(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        # Records propagated from a library's logger (Powertools sets its own at INFO) pass every
        # ancestor's level; the handler's is the one they all meet.
        handler.setLevel(level)


def ended_by_reader() -> int:
    """stdout's reader went away (`aepflow get NAME | head`): end quietly, as a Unix tool does. What
    is still buffered goes to /dev/null, so the interpreter's own flush at exit cannot fail again
    (the recipe of Python's signal module documentation, "Note on SIGPIPE")."""
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return FAILED


if __name__ == "__main__":
    sys.exit(main())
