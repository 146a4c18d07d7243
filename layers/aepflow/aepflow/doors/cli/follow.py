"""Following what the API does to a dataflow, for the commands that change one (apply, promote, delete): the
API path of a name (refused unless it is one), a confirmation asked, the provisioning followed step by
step, and a row of what it did."""

from __future__ import annotations

import argparse
import re
import sys
import time
from typing import Any
from urllib.parse import quote, urlsplit

from aepflow.doors.cli import render
from aepflow.doors.cli.remote import Api
from aepflow.spec.fields import NAME_PATTERN

# How often a provisioning is looked at: a deployed API each second (its requests go through API Gateway and
# Step Functions takes seconds a step), the local one (127.0.0.1, `python -m local serve`) ten times more,
# for its steps take milliseconds.
POLL_SECONDS, LOCAL_POLL_SECONDS = 1.0, 0.1


def poll_seconds(api: Api) -> float:
    host = urlsplit(api.base_url).hostname or ""
    return LOCAL_POLL_SECONDS if host in ("127.0.0.1", "localhost", "::1") else POLL_SECONDS


def wait(api: Api, name: str, out, args: argparse.Namespace) -> dict[str, Any]:
    """Follow the provisioning: a line per step as it starts, ends or fails."""
    shown: dict[str, str] = {}
    deadline = time.monotonic() + args.timeout
    while True:
        answer = api.call("GET", path_of("/dataflows/{name}", name))
        view = answer.body if answer.status == 200 and isinstance(answer.body, dict) else {}
        if not args.json:
            for step in view.get("steps") or []:
                if shown.get(step["step"]) != step["status"]:
                    shown[step["step"]] = step["status"]
                    out.write(f"  {name}: {render.STEP_MARK.get(step['status'], '?')} {step['step']}\n")
                    out.flush()
        if answer.status != 200 or view.get("status") != "PROVISIONING":
            return view or {"name": name, "status": "FAILED", "errors": [answer.body]}
        if time.monotonic() > deadline:
            return {**view, "status": "FAILED", "errors": [{"message": f"still provisioning after {args.timeout}s"}]}
        time.sleep(poll_seconds(api))




APPLY_COLUMNS = ("file", "name", "status", "action", "flowId")
# What a provisioning did, as GET /dataflows/{name} says it (ops/executions.what_happened).
WHAT_HAPPENED = ("action", "changed", "replacedBecause", "rolledBack", "leftBehind")


def applied_result(path: str, name: str, view: dict[str, Any], *, started: bool = True) -> dict[str, Any]:
    """A row of `aepflow apply`: the dataflow's status and flow id, what its provisioning did (the
    action and the fields it changed, why it replaced; or what its roll-back deleted and left
    behind) and its errors. A spec the API had already applied (`started` false: the same spec
    answers the same execution) changed nothing this time: its action is none."""
    result = {"file": path, "name": name, "status": view.get("status"),
              "flowId": (view.get("ids") or {}).get("flowId")}
    result.update({key: view[key] for key in WHAT_HAPPENED if view.get(key) is not None})
    if not started and result["status"] == "ACTIVE":
        result.update(action="none", changed=[])
        result.pop("replacedBecause", None)
    result["errors"] = view.get("errors") or []
    return result




class NotAName(Exception):
    """A command-line argument that is not a dataflow name (refused before any request)."""


def path_of(template: str, name: str | None) -> str:
    """The API path for `name`: refused unless it is a dataflow name (so `x/../NAME` can never reach
    another dataflow), and escaped all the same."""
    if name is None:
        return template
    if not re.fullmatch(NAME_PATTERN, name):
        raise NotAName(f"{name!r} is not a dataflow name (2 to 64 lower-case letters, digits and -, starting and "
                       "ending with a letter or digit)")
    return template.format(name=quote(name, safe=""))


def confirmed(yes: bool, question: str, refusal: str) -> bool:
    """--yes, or a yes on the terminal to `question`; never a yes assumed when nobody can answer (then
    `refusal` says why on stderr)."""
    if yes:
        return True
    if not sys.stdin.isatty():
        sys.stderr.write(f"aepflow: {refusal}\n")
        return False
    sys.stderr.write(f"{question} [y/N] ")
    sys.stderr.flush()
    return sys.stdin.readline().strip().lower() in ("y", "yes")
