"""aepflow explore and aepflow init: start a spec from the source (POST /explore on the API).

    aepflow explore CONNECTOR_OR_DATAFLOW [TABLE] [--secret NAME] [--auth-spec X] [--param k=v ...] [--rows N]
                    [--filter "city = 'DDN' and age > 30"]
    aepflow init CONNECTOR TABLE --secret NAME [--name NAME] [--output FILE|-]

main.py's parser adds them with `source.add_commands(sub, where, output)`; the exit codes are every
command's (exits.py)."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

from aepflow.doors.cli import render
from aepflow.doors.cli.exits import FAILED, INVALID, OK
from aepflow.doors.cli.remote import Answer, api_of
from aepflow.spec import suggest
from aepflow.spec.connectors import CONNECTORS, Connector, connector_named, unknown_connector
from aepflow.spec.fields import NAME_PATTERN

SCHEMA_FILE = Path(__file__).resolve().parents[5] / "schemas" / "dataflow-spec-v1.schema.json"


def _params(pairs: list[str] | None) -> dict[str, str]:
    params: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise argparse.ArgumentTypeError(f"--param {pair!r} is not KEY=VALUE")
        params[key] = value
    return params


def _request(args: argparse.Namespace, connector: Connector | None, table: str | None, rows: int) -> dict[str, Any]:
    body: dict[str, Any] = {"rows": rows}
    if connector is None:
        body["dataflow"] = args.source
    else:
        body.update(connector=connector.name, credentialsSecret=args.secret)
        if args.auth_spec:
            body["authSpec"] = args.auth_spec
        if args.sandbox:
            body["sandbox"] = args.sandbox
    params = _params(args.param)
    if params:
        body["params"] = params
    if table:
        body["table"] = table
    if getattr(args, "filter", None):
        body["filter"] = args.filter
    return body


def _explored(args: argparse.Namespace, out, body: dict[str, Any]) -> tuple[int, dict[str, Any] | None]:
    answer: Answer = api_of(args).call("POST", "/explore", body=json.dumps(body).encode())
    if answer.status != 200 or not isinstance(answer.body, dict):
        render.error(out, body.get("table") or body.get("dataflow") or body.get("connector") or "explore", answer,
                     args.json)
        refused = isinstance(answer.body, dict) and answer.body.get("code") in ("SpecInvalid", "RequestInvalid")
        return (INVALID if answer.status == 400 and refused else FAILED), None
    for left in answer.body.get("leftBehind") or []:
        sys.stderr.write(f"aepflow: the transient base connection {left.get('id')} was left behind in AEP "
                         f"({left.get('reason')}); delete it\n")
    return OK, answer.body


def _refuse(message: str) -> int:
    sys.stderr.write(f"aepflow: {message}\n")
    return INVALID


def _which(args: argparse.Namespace) -> tuple[Connector | None, str | None]:
    """(the connector, None) or (None, the dataflow), or (None, None) after saying why neither."""
    connector = connector_named(args.source)
    if connector is not None:
        if not args.secret:
            _refuse(f"{connector.name} is explored through its credentials: give --secret NAME (a source secret, "
                    "e.g. aep/sources/...)")
            return None, None
        return connector, None
    if not re.fullmatch(NAME_PATTERN, args.source):
        _refuse(f"{args.source!r} is neither a connector{suggest.did_you_mean(args.source, CONNECTORS)} nor a "
                "dataflow name (`aepflow connectors`, `aepflow list`)")
        return None, None
    if args.secret or args.auth_spec or args.sandbox:
        _refuse(f"{args.source!r} is not a connector, so it is a dataflow: --secret, --auth-spec and --sandbox are "
                "for a connector (a dataflow is explored through its own base connection)")
        return None, None
    return None, args.source


def _show(out, answer: dict[str, Any], as_json: bool) -> None:
    if answer.get("objectType") in ("root", "folder"):  # tables, buckets, a folder's files
        if as_json:
            for table in answer.get("tables") or []:
                render.json_line(out, {"table": table})
            return
        render.table(out, [{"table": t} for t in answer.get("tables") or []], ("table",))
        return
    columns, rows = answer.get("columns") or [], answer.get("rows") or []
    if as_json:
        for column in columns:
            render.json_line(out, {"column": column.get("name"), "type": column.get("type"),
                               "xdmType": column.get("xdmType")})
        for row in rows:
            render.json_line(out, {"row": row})
        return
    render.table(out, columns, ("name", "type", "xdmType"))
    if not rows:
        return
    names = [c["name"] for c in columns]
    shown = min(len(names), render.SHOWN_COLUMNS)
    flat = [row if answer.get("objectType") != "rest" else _flatten(row) for row in rows]
    out.write(f"\n{len(rows)} row(s)" + (f", the first {shown} of {len(columns)} columns (--json shows all)"
                                         if len(columns) > shown else "") + ":\n")
    render.preview_rows(out, flat, names)


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """A REST record's values by attribute path (`result.email`), as its columns are named."""
    if not isinstance(value, dict):
        return {prefix.rstrip("."): value} if prefix else {}
    flat: dict[str, Any] = {}
    for key, item in value.items():
        if isinstance(item, dict):
            flat.update(_flatten(item, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = item
    return flat


def cmd_explore(args: argparse.Namespace, out) -> int:
    from aepflow.spec.filters import FilterError, compile_filter

    connector, dataflow = _which(args)
    if connector is None and dataflow is None:
        return INVALID
    try:
        if args.filter:
            compile_filter(args.filter)
    except FilterError as exc:
        return _refuse(f"--filter {args.filter!r}: {exc}")
    code, answer = _explored(args, out, _request(args, connector, args.table, args.rows))
    if answer is None:
        hint = suggest.did_you_mean(args.source, CONNECTORS) if dataflow else ""
        if hint:
            sys.stderr.write(f"aepflow: {args.source!r} is not a connector either{hint}\n")
        return code
    _show(out, answer, args.json)
    return OK


def _schema_ref(output: str) -> str:
    """The spec schema's path from where the spec is written (as the examples name it), when this
    checkout has it; else the path in the aepflow repository."""
    if not SCHEMA_FILE.is_file():
        return "schemas/dataflow-spec-v1.schema.json"
    where = Path.cwd() if output == "-" else Path(output).resolve().parent
    return Path(os.path.relpath(SCHEMA_FILE, where)).as_posix()


def _checked(text: str) -> list[dict[str, str]]:
    """The problems `aepflow validate` would find in the written spec (none, unless explore saw
    something odd)."""
    from aepflow.core.errors import SpecInvalid
    from aepflow.spec.document import read
    from aepflow.spec.parse import parse_spec, resolve_source
    from aepflow.steps.validate import mapping_problems

    try:
        spec = parse_spec(read(text.encode()))
        return list(mapping_problems(spec, resolve_source(spec)))
    except SpecInvalid as exc:
        return list(exc.problems)


def cmd_init(args: argparse.Namespace, out) -> int:
    from aepflow.spec import scaffold

    connector = connector_named(args.connector)
    if connector is None:
        return _refuse(f"{unknown_connector(args.connector)} (`aepflow connectors` lists them)")
    if not args.secret:
        return _refuse(f"init explores {connector.label} through its credentials: give --secret NAME (a source "
                       "secret, e.g. aep/sources/...)")
    if connector.tabular and not args.table:
        return _refuse(f"{connector.label} reads a table: give it (`aepflow explore {connector.name} --secret "
                       f"{args.secret}` lists them)")
    if args.name and not re.fullmatch(NAME_PATTERN, args.name):
        return _refuse(f"--name {args.name!r} is not a dataflow name (2 to 64 lower-case letters, digits and -)")
    code, answer = _explored(args, out, _request(args, connector, args.table if connector.tabular else None, 0))
    if answer is None:
        return code
    columns = [scaffold.Column(str(c["name"]), str(c.get("type") or "string"), c.get("xdmType"))
               for c in answer.get("columns") or [] if isinstance(c, dict) and c.get("name")]
    name = args.name or scaffold.default_name(connector.name, args.table)
    output = args.output or f"{name}.yaml"
    text = scaffold.scaffold(connector, table=args.table if connector.tabular else None, columns=columns,
                             secret=args.secret, now=int(time.time()), name=name, params=_params(args.param) or None,
                             auth_spec=args.auth_spec, sandbox=args.sandbox, schema_ref=_schema_ref(output))
    problems = _checked(text)
    mapped = len(scaffold.guess_mapping(columns, args.table))
    summary = {"file": output, "name": name, "status": "INVALID" if problems else "VALID", "columns": len(columns),
               "mapped": mapped, "todo": len(columns) - mapped, "errors": problems}
    if output == "-":
        out.write(text)
    elif os.path.exists(output) and not args.force:
        return _refuse(f"{output} exists; pass --force to overwrite it, or --output another file")
    else:
        Path(output).write_text(text)
    shown = sys.stderr if output == "-" else out
    render.results(shown, [summary], args.json, columns=("file", "name", "status", "columns", "mapped", "todo"))
    return FAILED if problems else OK


def add_commands(sub: Any, where: argparse.ArgumentParser, output: argparse.ArgumentParser) -> None:
    """Add `explore` and `init` to the command's subparsers (main.py's parser())."""
    source = argparse.ArgumentParser(add_help=False)
    source.add_argument("--secret", metavar="NAME", help="a source secret (under the source-secrets prefix) to "
                                                         "explore a connector through")
    source.add_argument("--auth-spec", metavar="NAME", help="the connector's auth spec the secret holds (default: "
                                                            "the first its keys satisfy)")
    source.add_argument("--sandbox", help="the AEP sandbox (default: the AEP credentials')")
    source.add_argument("--param", action="append", metavar="KEY=VALUE", help="a REST source's param (e.g. "
                                                                              "projectId=2671127); repeat it")
    p = sub.add_parser("explore", parents=[where, output, source],
                       help="a source's tables, a table's columns and rows (a connector through --secret, or a "
                            "dataflow's source)")
    p.add_argument("source", metavar="CONNECTOR_OR_DATAFLOW")
    p.add_argument("table", nargs="?", metavar="TABLE")
    p.add_argument("--rows", type=int, default=5, choices=range(0, 21), metavar="N",
                   help="rows to preview, 0 to 20 (5)")
    p.add_argument("--filter", metavar="FILTER", help="only the rows that match, written as a spec's source.filter "
                                                      "(a source that filters rows at the source)")
    p.set_defaults(run=cmd_explore)
    p = sub.add_parser("init", parents=[where, output, source],
                       help="write a spec from what explore sees of a table: columns, a mapping skeleton, a delta "
                            "column and a schedule")
    p.add_argument("connector", metavar="CONNECTOR")
    p.add_argument("table", nargs="?", metavar="TABLE", help="the table (a REST source has none)")
    p.add_argument("--name", help="the dataflow's name (default: from the connector and the table)")
    p.add_argument("--output", "-o", metavar="FILE|-", help="where to write the spec (default: NAME.yaml; - for "
                                                            "standard output)")
    p.add_argument("--force", action="store_true", help="overwrite the output file")
    p.set_defaults(run=cmd_init)
