"""aepflow promote NAME --from SANDBOX --to SANDBOX: the dataflow's spec with the target sandbox's entry of
`sandboxes`, planned against the target sandbox (POST /dataflows/{name}/promote?dryRun=true), shown, and
applied only after --yes or a confirmation, then followed as apply follows a provisioning. A plan of none
asks nothing and changes nothing."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from aepflow.doors.cli import follow, render
from aepflow.doors.cli.exits import FAILED, INVALID, OK
from aepflow.doors.cli.remote import Answer, api_of


def _refused(out, args: argparse.Namespace, answer: Answer) -> int:
    render.error(out, args.name, answer, args.json)
    return INVALID if answer.status == 400 else FAILED


def cmd_promote(args: argparse.Namespace, out) -> int:
    api = api_of(args)
    path = follow.path_of("/dataflows/{name}/promote", args.name)
    body = json.dumps({"from": args.source, "to": args.target}).encode()
    planned = api.call("POST", path, query={"dryRun": "true"}, body=body)
    if planned.status != 200 or not isinstance(planned.body, dict):
        return _refused(out, args, planned)
    promotion: dict[str, Any] = planned.body
    render.plan(out, f"{args.name} -> {promotion['target']} ({args.target})", promotion["plan"], args.json)
    if promotion["plan"].get("action") == "none":
        if not args.json:
            out.write(f"Nothing to promote: {promotion['target']} in {args.target} is what {args.name} is in "
                      f"{args.source}.\n")
        return OK
    if not follow.confirmed(args.yes, f"Promote to {args.target} as {promotion['target']}?",
                            f"promote asks before it changes sandbox {args.target!r}; pass --yes to promote without "
                            "asking"):
        sys.stderr.write("not promoted\n")
        return FAILED
    started = api.call("POST", path, body=body)
    if started.status not in (200, 202) or not isinstance(started.body, dict):
        return _refused(out, args, started)
    target = started.body["target"]
    view = follow.wait(api, target, out, args) if not args.no_wait else started.body
    result = follow.applied_result(f"{args.name} ({args.source})", target, view,
                                   started=started.body.get("started", True))
    render.results(out, [result], args.json, columns=("file", *follow.APPLY_COLUMNS[1:]))
    return FAILED if view.get("status") == "FAILED" else OK


def add_command(sub: Any, where: argparse.ArgumentParser, output: argparse.ArgumentParser) -> None:
    """Add `promote` to the command's subparsers (main.py's parser())."""
    p = sub.add_parser("promote", parents=[where, output],
                       help="plan a dataflow in another sandbox, with that sandbox's credentials and entry of "
                            "`sandboxes`, and apply it after a confirmation")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--from", dest="source", required=True, metavar="SANDBOX", help="the sandbox it runs in")
    p.add_argument("--to", dest="target", required=True, metavar="SANDBOX", help="the sandbox to promote it to")
    p.add_argument("--yes", action="store_true", help="promote without asking")
    p.add_argument("--no-wait", action="store_true", help="return once provisioning has started")
    p.add_argument("--timeout", type=float, default=900, help="seconds to wait for the provisioning (900)")
    p.set_defaults(run=cmd_promote)
