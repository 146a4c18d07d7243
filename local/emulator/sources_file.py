"""The `--sources FILE` of `python -m local`: the tables or objects one's own source systems hold,
which the emulator's explore answers on top of the seeds' tables (source_tables.py).

    {"postgresql": {"public.orders": {
        "columns": [{"name": "order_id", "type": "long"},
                    {"name": "updated_at", "type": "string", "xdmType": "date-time"}],
        "rows": [{"order_id": 1, "updated_at": "2024-05-01T10:00:00Z"}]}}}

A connector is named as a spec's `source.connector` names it (the catalog's names); a table or
object by its path (a database's `schema.table`, a CRM's object, a REST source's object). A
column's `type` is one Adobe's explore answers print: `string`, `boolean`, `long`
(explore/advertising.md), `double` (filter.md); `xdmType` `date` or `date-time` makes a string
column a date, as the spec's own columns do. A REST source's columns are attribute paths
(`result.email`), as its preview nests them. `rows` (optional) are what a preview shows.

The file is read and checked before anything runs, bounded like the other inputs: at most
MAX_BYTES, UTF-8 JSON (a BOM is fine), nesting at most MAX_DEPTH, no duplicate keys, no NaN or
Infinity, names without control characters, and the counts below. Each problem names its field:
`postgresql.public.orders.columns[2].name: required`."""
from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

from . import preloaded

MAX_BYTES = 1_048_576
MAX_DEPTH = 8
MAX_TABLES = 200          # per connector
MAX_COLUMNS = 1000        # per table, as many as a spec's source.columns may list
MAX_ROWS = 100            # per table: a preview is a sample
MAX_NAME = 256
MAX_TEXT = 4096           # a row's string value
MAX_PROBLEMS = 50
TYPES = ("string", "boolean", "long", "double")
XDM_TYPES = ("date", "date-time")
LONG_BOUND = 2 ** 53      # Adobe bounds a long by +/-2^53 (explore/advertising.md)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class SourcesInvalid(ValueError):
    """The sources file (or a `sources=` object) is refused; `problems` are {path, message}."""

    def __init__(self, source: str, problems: list[dict[str, str]]):
        self.source, self.problems = source, problems
        super().__init__("; ".join(f"{source}: {p['path']}: {p['message']}" for p in problems))

    def lines(self) -> list[str]:
        return [f"{self.source}: {p['path']}: {p['message']}" for p in self.problems]


def read(path: str | Path) -> dict[str, Any]:
    """The file at `path`, parsed and checked; SourcesInvalid names the file and each problem."""
    name = str(path)
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_BYTES + 1)
    except OSError as exc:
        raise SourcesInvalid(name, [{"path": "(file)", "message": f"cannot be read: {exc.strerror or exc}"}]) from exc
    return parse(data, name)


def parse(data: bytes, name: str = "sources") -> dict[str, Any]:
    def refuse(message: str) -> SourcesInvalid:
        return SourcesInvalid(name, [{"path": "(file)", "message": message}])

    if len(data) > MAX_BYTES:
        raise refuse(f"larger than {MAX_BYTES:,} bytes")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise refuse(f"not UTF-8 (byte {exc.start})") from exc
    depth = _depth(text)
    if depth > MAX_DEPTH:
        raise refuse(f"nested deeper than {MAX_DEPTH} levels")
    try:
        document = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except _Refused as exc:
        raise refuse(str(exc)) from None
    except ValueError as exc:
        raise refuse(f"not JSON: {exc}") from exc
    problems = check(document)
    if problems:
        raise SourcesInvalid(name, problems)
    return document


def check(document: Any) -> list[dict[str, str]]:
    """Every problem of a sources object (at most MAX_PROBLEMS), by field path."""
    problems: list[dict[str, str]] = []

    def bad(path: str, message: str) -> None:
        if len(problems) < MAX_PROBLEMS:
            problems.append({"path": path, "message": message})

    if not isinstance(document, dict):
        bad("(file)", "must be an object: connector -> table or object path -> {columns, rows}")
        return problems
    if not document:
        bad("(file)", "describes no connector")
    connectors = preloaded.catalog_connectors()
    for connector, tables in document.items():
        if connector not in connectors:
            bad(connector, f"not a connector of the catalog (one of {', '.join(sorted(connectors))})")
            continue
        if not isinstance(tables, dict) or not tables:
            bad(connector, "must be an object of at least one table or object path -> {columns, rows}")
            continue
        if len(tables) > MAX_TABLES:
            bad(connector, f"at most {MAX_TABLES} tables or objects")
            continue
        for table, described in tables.items():
            where = f"{connector}.{table}"
            if _name_problem(table):
                bad(where, f"the path {_name_problem(table)}")
            elif not isinstance(described, dict):
                bad(where, "must be an object with columns (and rows)")
            else:
                _check_table(where, described, rest=connectors[connector] == "rest", bad=bad)
    return problems


def _check_table(where: str, described: dict, *, rest: bool, bad) -> None:
    for key in described:
        if key not in ("columns", "rows"):
            bad(f"{where}.{key}", "not a field (a table has columns and rows)")
    columns = described.get("columns")
    if columns is None:
        bad(f"{where}.columns", "required")
        return
    if not isinstance(columns, list) or not columns:
        bad(f"{where}.columns", "must be a list of at least one column")
        return
    if len(columns) > MAX_COLUMNS:
        bad(f"{where}.columns", f"at most {MAX_COLUMNS} columns")
        return
    types: dict[str, str] = {}
    for i, column in enumerate(columns):
        _check_column(f"{where}.columns[{i}]", column, types, rest=rest, bad=bad)
    _check_rows(where, described.get("rows"), types, bad)


def _check_column(at: str, column: Any, types: dict[str, str], *, rest: bool, bad) -> None:
    """One column of a table; a column with a usable name joins `types` (the table's columns so far)."""
    if not isinstance(column, dict):
        bad(at, "must be an object: {name, type, xdmType?}")
        return
    for key in column:
        if key not in ("name", "type", "xdmType"):
            bad(f"{at}.{key}", "not a field (a column has name, type and xdmType)")
    name, kind, xdm = column.get("name"), column.get("type"), column.get("xdmType")
    if name is None:
        bad(f"{at}.name", "required")
    elif _name_problem(name):
        bad(f"{at}.name", _name_problem(name))
    elif name in types:
        bad(f"{at}.name", f"{name!r} is listed twice")
    elif rest and _path_clash(name, types):
        bad(f"{at}.name", f"{name!r} and {_path_clash(name, types)!r}: an attribute cannot also hold attributes")
    if kind is None:
        bad(f"{at}.type", "required")
    elif kind not in TYPES:
        bad(f"{at}.type", f"one of {', '.join(TYPES)} (as Adobe's explore answers print them)")
    if xdm is not None and xdm not in XDM_TYPES:
        bad(f"{at}.xdmType", f"one of {', '.join(XDM_TYPES)} (a date column; the other types follow from type)")
    elif xdm is not None and kind != "string":
        bad(f"{at}.xdmType", "a date or date-time column has type string")
    if isinstance(name, str) and not _name_problem(name) and name not in types:
        types[name] = xdm if xdm in XDM_TYPES else kind if kind in TYPES else "string"


def _check_rows(where: str, rows: Any, types: dict[str, str], bad) -> None:
    if rows is None:
        return
    if not isinstance(rows, list):
        bad(f"{where}.rows", "must be a list of rows (column name -> value)")
        return
    if len(rows) > MAX_ROWS:
        bad(f"{where}.rows", f"at most {MAX_ROWS} rows (a preview is a sample)")
        return
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            bad(f"{where}.rows[{i}]", "must be an object: column name -> value")
            continue
        for key, value in row.items():
            at = f"{where}.rows[{i}].{key}"
            if key not in types:
                bad(at, "not a column of the table")
            elif value is not None and not _fits(types[key], value):
                bad(at, f"not a {types[key]} value")


def _fits(kind: str, value: Any) -> bool:
    if kind in ("string", "date", "date-time"):
        return isinstance(value, str) and len(value) <= MAX_TEXT
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "long":
        return isinstance(value, int) and not isinstance(value, bool) and -LONG_BOUND <= value < LONG_BOUND
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _name_problem(name: Any) -> str | None:
    if not isinstance(name, str) or not name.strip():
        return "must be a non-empty string"
    if len(name) > MAX_NAME:
        return f"at most {MAX_NAME} characters"
    if _CONTROL.search(name):
        return "has a control character"
    return None


def _path_clash(name: str, known: dict[str, str]) -> str | None:
    """A REST attribute path that nests under another column, or another under it."""
    for other in known:
        if name.startswith(other + ".") or other.startswith(name + "."):
            return other
    return None


class _Refused(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _Refused(f"the key {key!r} appears twice in one object")
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise _Refused(f"{name} is not a number JSON allows")


def _depth(text: str) -> int:
    """How deeply objects and arrays nest, read without parsing (so a deep file costs no recursion)."""
    deepest = depth = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
            if deepest > MAX_DEPTH:
                return deepest
        elif ch in "]}":
            depth -= 1
    return deepest
