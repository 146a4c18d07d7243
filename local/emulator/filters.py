"""Row filters at the source, as Flow Service takes them (AdobeDocs/experience-platform.en
help/sources/tutorials/api/filter.md): a PQL document {"type": "PQL", "format": "pql/json", "value": node}
in a source connection's params.filters, or base64-encoded in explore's `filters` query parameter
(GET /connections/{id}/explore?objectType=table&object=...&preview=true&filters=...).

A node is one the page prints: {"nodeType": "fnApply", "fnName", "params": [...]}, {"nodeType":
"fieldLookup", "fieldName"} or {"nodeType": "literal", "value"}. The comparisons (=, the table's ==, !=, <,
<=, >, >=, like, in) apply to a fieldLookup and a literal (`in`'s a list), isNull to a fieldLookup alone;
and, or (one or more params: the page's `in` example has an `and` of one) and not (the page writes NOT, one
param) to fnApply nodes. Logical names are read in any case, as the page writes `and` and `NOT` alike.

What the source connection's connection spec allows is its attributes.filterAtSource: `enabled`, and the
comparisonOperators and logicalOperators it lists (BigQuery's as printed: no isNull); a spec that lists
none allows the page's table and isNull. Anything else is a 400 (FLOW-1460-400, our code).

Rows are matched as the source's SQL would: a column looked up in any case (the page filters `city` on
CITY), a comparison with a null (or absent) value unknown, NOT of unknown unknown, and a row kept only
when the filter is true; a number compares with a number or a numeric text (the page's AGE is "25"),
text with text; like's % is any characters and _ one, case sensitive."""
from __future__ import annotations

import base64
import binascii
import json
import re

from .aep_errors import flow_error

MAX_NODES, MAX_DEPTH, MAX_LIST = 1000, 50, 1000
COMPARISONS = ("=", "!=", "<", "<=", ">", ">=", "like", "in")
PAGE_COMPARISONS = (*COMPARISONS, "isNull")
LOGICAL = ("and", "or", "not")
_EQUAL = {"==": "="}


def _refused(message: str):
    return flow_error(400, "1460", "Invalid filters", message)


def decode(encoded: str) -> dict:
    """explore's `filters`: the PQL document's JSON in base64 (filter.md, "Preview your data")."""
    try:
        text = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=False).decode()
        document = json.loads(text)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise _refused("filters is not base64-encoded JSON") from None
    return document


def _op(node: dict) -> str:
    """A fnApply's operator: logical ones in lower case, == as =, isNull/like/in as the page writes them."""
    name = node["fnName"]
    lowered = name.lower()
    if lowered in LOGICAL:
        return lowered
    if lowered in ("like", "in"):
        return lowered
    if lowered == "isnull":
        return "isNull"
    return _EQUAL.get(name, name)


def _check_node(node, depth: int, count: list[int], used: set[str]) -> None:
    count[0] += 1
    if count[0] > MAX_NODES or depth > MAX_DEPTH:
        raise _refused(f"the filter has more than {MAX_NODES} nodes or {MAX_DEPTH} levels")
    if not isinstance(node, dict) or node.get("nodeType") != "fnApply" or not isinstance(node.get("fnName"), str) \
            or not isinstance(node.get("params"), list):
        raise _refused("a filter's node is {\"nodeType\": \"fnApply\", \"fnName\", \"params\": [...]}")
    op, params = _op(node), node["params"]
    if op in LOGICAL:
        if not params or op == "not" and len(params) != 1:
            raise _refused(f"{node['fnName']} takes {'one param' if op == 'not' else 'one or more params'}")
        used.add(op)
        for param in params:
            _check_node(param, depth + 1, count, used)
        return
    if op not in PAGE_COMPARISONS:
        raise _refused(f"unknown fnName {node['fnName']!r}")
    used.add(op)
    field = params[0] if params else None
    if not isinstance(field, dict) or field.get("nodeType") != "fieldLookup" \
            or not isinstance(field.get("fieldName"), str) or not field["fieldName"]:
        raise _refused(f"{node['fnName']}'s first param is {{\"nodeType\": \"fieldLookup\", \"fieldName\"}}")
    if op == "isNull":
        if len(params) != 1:
            raise _refused("isNull takes one param, a fieldLookup")
        return
    literal = params[1] if len(params) == 2 else None
    if not isinstance(literal, dict) or literal.get("nodeType") != "literal" or "value" not in literal:
        raise _refused(f"{node['fnName']} takes a fieldLookup and a literal")
    value = literal["value"]
    scalar = (str, int, float, bool)
    if op == "in":
        if not isinstance(value, list) or not value or len(value) > MAX_LIST \
                or not all(isinstance(v, scalar) for v in value):
            raise _refused("in's literal is a list of values")
    elif op == "like" and not isinstance(value, str):
        raise _refused("like's literal is a text pattern")
    elif not isinstance(value, scalar):
        raise _refused(f"{node['fnName']}'s literal is a text, a number or a boolean")


def check(document, spec: dict) -> list[str]:
    """The document is a filter as filter.md shows it, and the connection spec takes it: the columns it
    looks up (400 otherwise)."""
    filter_at_source = (spec.get("attributes") or {}).get("filterAtSource") or {}
    if filter_at_source.get("enabled") is not True:
        raise _refused(f"filters are not supported by {spec.get('name')} (its connection spec's "
                       "attributes.filterAtSource is not enabled)")
    if not isinstance(document, dict) or document.get("type") != "PQL" or document.get("format") != "pql/json":
        raise _refused('filters is {"type": "PQL", "format": "pql/json", "value": {...}}')
    used: set[str] = set()
    _check_node(document.get("value"), 0, [0], used)
    listed = filter_at_source.get("comparisonOperators")
    comparisons = {_EQUAL.get(o, o) for o in listed} if listed else set(PAGE_COMPARISONS)
    logical = {o.lower() for o in filter_at_source.get("logicalOperators") or LOGICAL}
    refused = sorted(o for o in used if o not in (logical if o in LOGICAL else comparisons))
    if refused:
        raise _refused(f"{spec.get('name')} does not support the operators {refused} "
                       f"(filterAtSource allows {sorted(comparisons)} and {sorted(logical)})")
    return fields(document["value"])


def fields(node) -> list[str]:
    out: list[str] = []
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, dict):
            if current.get("nodeType") == "fieldLookup":
                out.append(current["fieldName"])
            stack.extend(current.get("params") or [])
    return out


def check_columns(names: list[str], columns: list[dict], table: str) -> None:
    known = {str(c.get("name")).lower() for c in columns}
    missing = sorted({n for n in names if n.lower() not in known})
    if missing:
        raise _refused(f"column(s) {missing} not found in table '{table}'")


def check_source(spec: dict, params: dict, tables: dict) -> None:
    """A source connection's params.filters (filter.md "Create a source connection for filtered data"):
    refused for a connection spec that does not take it or an operator it does not allow, and for a
    column the table lacks where the emulator knows the table (a CRM's tableName, a database's path)."""
    if params.get("filters") is None:
        return
    names = check(params["filters"], spec)
    table = params.get("tableName") or params.get("path")
    if isinstance(table, str) and table in tables:
        check_columns(names, (tables[table].get("schema") or {}).get("columns") or [], table)


# --- Matching rows ---------------------------------------------------------------------------------------

def _lookup(row: dict, name: str):
    if name in row:
        return row[name]
    lowered = name.lower()
    return next((v for k, v in row.items() if str(k).lower() == lowered), None)


def _number(value):
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _pair(actual, literal):
    """(actual, literal) made comparable, or None when they cannot be compared."""
    if isinstance(literal, bool) or isinstance(actual, bool):
        if isinstance(actual, str) and actual.lower() in ("true", "false"):
            actual = actual.lower() == "true"
        return (actual, literal) if isinstance(actual, bool) and isinstance(literal, bool) else None
    if isinstance(literal, (int, float)) or isinstance(actual, (int, float)):
        a, b = _number(actual), _number(literal)
        if a is not None and b is not None:
            return a, b
    return (str(actual), str(literal)) if isinstance(actual, str) and isinstance(literal, str) else None


def _compare(op: str, actual, literal):
    if actual is None:
        return None
    pair = _pair(actual, literal)
    if pair is None:  # a text against a number or a boolean: nothing the source's SQL would match
        return None
    a, b = pair
    return {"=": a == b, "!=": a != b, "<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]


def _like(actual, pattern: str):
    if actual is None:
        return None
    regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, str(actual), re.DOTALL) is not None


def evaluate(node: dict, row: dict):
    """True, False or None (unknown) for one row."""
    op, params = _op(node), node["params"]
    if op in ("and", "or"):
        results = [evaluate(p, row) for p in params]
        decisive = op == "or"
        if decisive in results:
            return decisive
        return None if None in results else not decisive
    if op == "not":
        inner = evaluate(params[0], row)
        return None if inner is None else not inner
    actual = _lookup(row, params[0]["fieldName"])
    if op == "isNull":
        return actual is None
    literal = params[1]["value"]
    if op == "like":
        return _like(actual, literal)
    if op == "in":
        found = [_compare("=", actual, v) for v in literal]
        return True if True in found else None if actual is None else False
    return _compare(op, actual, literal)


def matching(rows: list, document: dict) -> list:
    """The rows the (checked) filter document keeps."""
    return [row for row in rows if isinstance(row, dict) and evaluate(document["value"], row) is True]
