"""How the aepflow command prints: readable tables by default, JSON (lines) with --json."""

from __future__ import annotations

import json
from typing import Any

STEP_MARK = {"running": "...", "done": "ok ", "failed": "XX "}


def json_line(out, value: Any) -> None:
    out.write(json.dumps(value, sort_keys=True) + "\n")


def table(out, rows: list[dict[str, Any]], columns: tuple[str, ...]) -> None:
    cells = [[("" if row.get(c) is None else str(row.get(c))) for c in columns] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    out.write("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip() + "\n")
    for row in cells:
        out.write("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() + "\n")


# A preview's table (explore's, plan --preview's) shows this many columns (--json shows them all), each value
# cut to CELL characters.
SHOWN_COLUMNS, CELL = 8, 40


def _cell(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= CELL else text[:CELL - 3] + "..."


def preview_rows(out, rows: list[Any], names: list[str]) -> None:
    """A preview's rows as a table of the columns `names` (the first SHOWN_COLUMNS), each value cut short."""
    shown = names[:SHOWN_COLUMNS]
    table(out, [{n: _cell(row.get(n)) for n in shown} if isinstance(row, dict) else {} for row in rows], tuple(shown))


def _problems(out, problems: list[dict[str, Any]], indent: str = "    ") -> None:
    for problem in problems or []:
        out.write(f"{indent}{_where(problem)}: {problem.get('message', problem)}\n")


def results(out, rows: list[dict[str, Any]], as_json: bool, *, columns: tuple[str, ...]) -> None:
    """A row per spec (the columns), then under each what it did and what went wrong: its errors and
    warnings, the fields it changed, why it replaced, what a roll-back deleted and left behind."""
    if as_json:
        for row in rows:
            json_line(out, row)
        return
    table(out, rows, columns)
    for row in rows:
        details = _details(row)
        if details:
            out.write(f"{row.get('file') or row.get('name')}:\n" + "".join(f"    {line}\n" for line in details))


def _details(row: dict[str, Any]) -> list[str]:
    lines = [line for error in row.get("errors") or [] for line in _error_lines(error)]
    lines += [f"warning: {_where(w)}: {w.get('message')}" for w in row.get("warnings") or []]
    if row.get("changed"):
        lines.append("changed: " + ", ".join(map(str, row["changed"])))
    if row.get("replacedBecause"):
        lines.append("replaced because AEP cannot change in place: " + ", ".join(map(str, row["replacedBecause"])))
    lines += [f"rolled back: {r.get('kind')} {r.get('id')}" for r in row.get("rolledBack") or []]
    lines += [f"left behind: {r.get('kind')} {r.get('id')}" + (f" ({r['reason']})" if r.get("reason") else "")
              for r in row.get("leftBehind") or []]
    return lines


def _error_lines(error: dict[str, Any]) -> list[str]:
    """An error's line, or, when it names the spec's fields it is about (a FAILED step's problems: an
    unknown table at source.table), a line per field path, with the step that found it."""
    problems = [p for p in error.get("problems") or [] if isinstance(p, dict)]
    if not problems:
        return [f"{_where(error)}: {error.get('message', error)}"]
    step = f" ({error['step']})" if error.get("step") else ""
    return [f"{_where(p)}: {p.get('message')}{step}" for p in problems]


def _where(problem: dict[str, Any]) -> str:
    return str(problem.get("path") or problem.get("step") or problem.get("code") or "")


def record(out, value: dict[str, Any], as_json: bool, indent: str = "") -> None:
    """One object: a JSON line, or a line per key (`key: value`), nested objects indented under their
    key and lists of objects a line per item."""
    if as_json:
        json_line(out, value)
        return
    for key, item in value.items():
        if isinstance(item, dict) and item:
            out.write(f"{indent}{key}:\n")
            record(out, item, False, indent + "  ")
        elif isinstance(item, list) and item and all(isinstance(i, dict) for i in item):
            out.write(f"{indent}{key}:\n")
            for entry in item:
                out.write(f"{indent}  - {json.dumps(entry, sort_keys=True)}\n")
        else:
            shown = item if isinstance(item, str) else json.dumps(item)
            out.write(f"{indent}{key}: {shown}\n")


def error(out, what: str, answer: Any, as_json: bool) -> None:
    body = answer.body if isinstance(answer.body, dict) else {"message": str(answer.body)}
    if as_json:
        json_line(out, {"target": what, "status": answer.status, **body})
        return
    out.write(f"{what}: HTTP {answer.status} {body.get('code', '')}: {body.get('message', '')}\n")
    _problems(out, body.get("problems") or [])


def connectors(out, rows: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        for row in rows:
            json_line(out, row)
        return
    table(out, [{**r, "deprecated": "deprecated" if r["deprecated"] else ""} for r in rows],
           ("name", "label", "connectionSpecId", "family", "deprecated"))
    for row in rows:
        out.write(f"\n{row['name']}:\n")
        for spec in row["authSpecs"]:
            optional = f" (optional: {', '.join(spec['optional'])})" if spec["optional"] else ""
            out.write(f"  auth spec {spec['name']!r}: {', '.join(spec['required']) or '-'}{optional}\n")
        if row["sourceParams"]:
            out.write(f"  source params: {', '.join(row['sourceParams'])}\n")


def dataflow(out, view: dict[str, Any], as_json: bool) -> None:
    if as_json:
        json_line(out, view)
        return
    flow = view.get("flow") or {}
    lines = [("name", view.get("name")), ("status", view.get("status")), ("connector", view.get("connector")),
             ("flow id", (view.get("ids") or {}).get("flowId")), ("flow state", flow.get("state")),
             ("etag", flow.get("etag")), ("schedule", json.dumps(flow.get("scheduleParams")) if flow else None),
             ("mapping", _mapping(view)), ("updated", view.get("updatedAt"))]
    for label, value in lines:
        if value is not None:
            out.write(f"{label + ':':<12}{value}\n")
    for key, value in sorted((view.get("ids") or {}).items()):
        out.write(f"  {key}: {value}\n")
    _problems(out, view.get("errors") or [], indent="  error ")


def _mapping(view: dict[str, Any]) -> str | None:
    """`<mapping set id> version N`: the version of its mapping set the flow maps with, as the record says
    (and AEP's flow, when it says another), and whether the spec pins it."""
    ids, spec = view.get("ids") or {}, view.get("spec") or {}
    if not ids.get("mappingId"):
        return None
    line = f"{ids['mappingId']} version {ids.get('mappingVersion', 0)}"
    if spec.get("mappingVersion") is not None:
        line += " (pinned by the spec's mappingVersion)"
    live = next((t.get("params") for t in (view.get("flow") or {}).get("transformations") or []
                 if isinstance(t, dict) and t.get("name") == "Mapping"), None)
    live = live if isinstance(live, dict) else {}
    if live.get("mappingVersion") is not None and str(live["mappingVersion"]) != str(ids.get("mappingVersion", 0)):
        line += f"; AEP's flow maps with version {live['mappingVersion']}"
    return line


def listing(out, page: dict[str, Any], as_json: bool) -> None:
    if as_json:
        for item in page.get("items") or []:
            json_line(out, item)
        return
    table(out, page.get("items") or [], ("name", "status", "connector", "flowId", "updatedAt"))
    if page.get("next"):
        out.write(f"(more: --limit, or the API's ?cursor={page['next']})\n")


def runs(out, answer: dict[str, Any], as_json: bool) -> None:
    if as_json:
        for run in answer.get("runs") or []:
            json_line(out, run)
        return
    rows = [{**run, "attempt": f"{run['attempt']} of {run.get('retryOf')}"} if run.get("attempt") else run
            for run in answer.get("runs") or []]  # a re-triggered run: which re-run of which failed run
    table(out, rows, ("id", "status", "problem", "startedAt", "recordsRead", "recordsFailed", "attempt"))


def run_errors(out, answer: dict[str, Any], as_json: bool) -> None:
    """A run's kept failed records: its error codes with the records each failed, a few records, and
    where every file is."""
    if as_json:
        json_line(out, answer)
        return
    out.write(f"{answer.get('name')} run {answer.get('runId')}: failed records kept in {answer.get('location')}\n")
    table(out, [{"code": code, "records": count} for code, count in (answer.get("errorCodes") or {}).items()],
          ("code", "records"))
    for batch in answer.get("batches") or []:
        problems = f"; AEP refused: {', '.join(batch['problems'])}" if batch.get("problems") else ""
        out.write(f"batch {batch.get('id')}: {batch.get('status')}, {batch.get('files')} file(s) kept{problems}\n")
    samples = answer.get("samples") or []
    if samples:
        out.write(f"{len(samples)} sample record(s):\n" + "".join(
            f"  {json.dumps(s, sort_keys=True)}\n" for s in samples))


def deleted(out, answer: dict[str, Any], as_json: bool) -> None:
    if as_json:
        json_line(out, answer)
        return
    note = " (already deleted)" if answer.get("alreadyDeleted") else ""
    out.write(f"{answer.get('name')}: {answer.get('status')}{note}\n")
    for label in ("deleted", "kept", "leftBehind"):
        for item in answer.get(label) or []:
            reason = f" ({item['reason']})" if item.get("reason") else ""
            out.write(f"  {label}: {item.get('kind')} {item.get('id')}{reason}\n")


def plan(out, path: str, body: dict[str, Any], as_json: bool) -> None:
    """A spec's plan: a JSON line with the file's name, or the table `python -m local plan` prints."""
    from aepflow.ops.plan import render as plan_render

    if as_json:
        json_line(out, {"file": path, **body})
        return
    out.write(f"{path}:\n" + plan_render.table([body]))
