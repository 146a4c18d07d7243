"""Flow Service list semantics (FACTS §2): property filters, orderby, count,
continuationToken paging.

Paging links take the form flow-service.yaml documents (components.schemas.PageLink, example
`/connections?continuationToken=abcdefghijkLMNOPqrstupWXKYZ`): the collection path and the
token, nothing else. Adobe's community client aepp 0.6.0 depends on that form: getFlows, getRuns,
getSourceConnections and getTargetConnections take `href.split("=")[1]` as the token and send it
with their own parameters; getConnections GETs the href itself with its parameters appended. So
the token carries the listing's query (filters, orderby, limit) with the cursor, and a request
that sends a token continues that query; parameters the request sends beside it win.
"""
from __future__ import annotations

import base64
import json
import re


class ListError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def continuation_href(collection: str, query: dict, cursor) -> str:
    """`/{collection}?continuationToken=…`: a token with no `=` (url-safe base64, unpadded)."""
    state = {"c": cursor, "q": {k: v for k, v in query.items() if k != "continuationToken"}}
    token = base64.urlsafe_b64encode(json.dumps(state, separators=(",", ":")).encode()).decode().rstrip("=")
    return f"/{collection}?continuationToken={token}"


def resume(query: dict) -> tuple[dict, object]:
    """(the query to run, the cursor) of a request: a continuation token's query under the
    request's own parameters; (query, None) without a token."""
    token = query.get("continuationToken")
    if not token:
        return query, None
    try:
        state = json.loads(base64.urlsafe_b64decode(str(token) + "=" * (-len(str(token)) % 4)).decode())
        saved, cursor = dict(state["q"]), state["c"]
    except Exception:
        raise ListError("1400", "Invalid continuationToken") from None
    return {**saved, **{k: v for k, v in query.items() if k != "continuationToken"}}, cursor


def parse_limit(limit) -> int:
    """A page size: a positive integer, else AEP's 400."""
    try:
        n = int(limit)
    except (TypeError, ValueError):
        n = 0
    if n <= 0:
        raise ListError("1400", f"Invalid limit '{limit}'")
    return n


_FIELD = re.compile(r"^([A-Za-z0-9_.$\[\]]+)(.*)$", re.S)
_OPS = ("==", ">=", "<=", ">", "<")
TIME_FIELDS = {"createdAt", "updatedAt", "metrics.durationSummary.startedAtUTC",
               "metrics.durationSummary.completedAtUTC", "lastRunDetails.startedAtUTC"}


def _unquote(v: str) -> str:
    v = v.strip()
    if len(v) >= 2 and v[0] == v[-1] and v[0] in "\"'":
        return v[1:-1]
    return v


def parse_property(expr: str):
    m = _FIELD.match(expr.strip())
    if not m:
        raise ListError("1450", f"Invalid query: {expr}")
    field, rest = m.group(1), m.group(2)
    oprun = re.match(r"^[=<>!~]*", rest).group(0)
    if "~" in oprun:
        raise ListError("1440", f"Operator '~' is not implemented. Query: {expr}")
    op = next((o for o in _OPS if oprun == o), None)
    if op is None:
        raise ListError("1450", f"Invalid operator '{oprun}' in query: {expr}")
    raw = rest[len(oprun):]
    if raw.strip() == "":
        raise ListError("1453", f"Invalid query '{expr}'")
    values = [_unquote(v) for v in raw.split(",")] if op == "==" else [_unquote(raw)]
    if op != "==" and "," in raw:
        raise ListError("1443", f"Operator '{op}' is not allowed with multiple values. Query: {expr}")
    if op in (">=", "<=", ">", "<") and field == "id":
        raise ListError("1448", f"Operator '{op}' is not supported for field 'id'")
    if field in TIME_FIELDS:
        for v in values:
            if not re.fullmatch(r"-?\d+", v):
                raise ListError("1452", f"Invalid value '{raw}' for field '{field}'")
    return field, op, values


def _resolve(obj, path: str):
    """Values at a dotted path; `x[]` fans out over an array."""
    cur = [obj]
    for part in path.split("."):
        nxt = []
        fan = part.endswith("[]")
        key = part[:-2] if fan else part
        for c in cur:
            if isinstance(c, dict) and key in c:
                v = c[key]
                if fan and isinstance(v, list):
                    nxt.extend(v)
                else:
                    nxt.append(v)
        cur = nxt
    return cur


def _cmp_val(v):
    try:
        return (0, float(v))
    except (TypeError, ValueError):
        return (1, str(v).lower())


def _matches(item, field, op, values) -> bool:
    found = _resolve(item, field)
    for f in found:
        if isinstance(f, list):  # a plain path to an array matches any element
            cands = f
        else:
            cands = [f]
        for c in cands:
            if op == "==":
                if any(str(c).lower() == v.lower() if isinstance(c, bool) else str(c) == v for v in values):
                    return True
            else:
                a, b = _cmp_val(c), _cmp_val(values[0])
                if a[0] != b[0]:
                    continue
                if (op == ">" and a > b) or (op == "<" and a < b) or (op == ">=" and a >= b) or (op == "<=" and a <= b):
                    return True
    return False


def apply_list(items: list, query: dict, collection: str, sortable: set):
    """Returns the response body for a Flow Service listing."""
    query, cursor = resume(query)
    props = query.get("property", [])
    if isinstance(props, str):
        props = [props]
    filters = [parse_property(p) for p in props]
    out = [i for i in items if all(_matches(i, *f) for f in filters)]

    count = str(query.get("count", "")).lower() == "true"
    limit = query.get("limit")
    if count and limit is not None:
        raise ListError("1401", "The 'limit' parameter is not supported together with 'count'")
    if count:
        return {"count": len(out)}

    orderby = query.get("orderby")
    if orderby is not None:
        if isinstance(orderby, list) or "," in orderby or orderby.strip() in ("", "+", "-"):
            raise ListError("1433", f"Invalid orderby '{orderby}'")
        desc = orderby.startswith("-")
        field = orderby.lstrip("+-")
        if field not in sortable:
            raise ListError("1432", f"Sorting on field '{field}' is not supported")
        out.sort(key=lambda i: _cmp_val((_resolve(i, field) or [""])[0]), reverse=desc)
    else:
        out.sort(key=lambda i: i.get("createdAt", 0), reverse=True)

    if cursor is not None and not isinstance(cursor, int):
        raise ListError("1400", "Invalid continuationToken")
    offset = cursor or 0
    links = {}
    page = out[offset:]
    if limit is not None:
        n = parse_limit(limit)
        page = out[offset:offset + n]
        if offset + n < len(out):
            links = {"next": {"href": continuation_href(collection, query, offset + n)}}
    return {"items": page, "_links": links}
