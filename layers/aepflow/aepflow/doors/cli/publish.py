"""aepflow publish NAME: publish a dataflow that `aepflow apply --draft` made an AEP draft (POST
/dataflows/{name}/publish, which calls Flow Service's op=publish). From then on its flow runs on its
schedule, and the run monitor watches it from its next registry sync. A dataflow that is not a draft is
refused (409 NotADraft), and nothing changes."""

from __future__ import annotations

import argparse
from typing import Any

from aepflow.doors.cli import follow, render
from aepflow.doors.cli.exits import FAILED, OK
from aepflow.doors.cli.remote import api_of


def cmd_publish(args: argparse.Namespace, out) -> int:
    answer = api_of(args).call("POST", follow.path_of("/dataflows/{name}/publish", args.name))
    if answer.status != 200 or not isinstance(answer.body, dict):
        render.error(out, args.name, answer, args.json)
        return FAILED
    render.record(out, answer.body, args.json)
    return OK


def add_command(sub: Any, where: argparse.ArgumentParser, output: argparse.ArgumentParser) -> None:
    """Add `publish` to the command's subparsers (main.py's parser())."""
    p = sub.add_parser("publish", parents=[where, output],
                       help="publish a draft dataflow (apply --draft): its flow runs on its schedule from then on, "
                            "and the monitor watches it")
    p.add_argument("name", metavar="NAME")
    p.set_defaults(run=cmd_publish)
