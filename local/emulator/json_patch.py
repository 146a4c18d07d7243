"""JSON Patch (RFC 6902: add, replace, remove) of a stored resource, as Flow Service's and the
Schema Registry's PATCH endpoints take it; the resource itself is left untouched."""
from __future__ import annotations

import copy


def json_patch(doc: dict, ops: list) -> dict:
    doc = copy.deepcopy(doc)
    for op in ops:
        kind = op["op"].lower()
        parts = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].split("/")[1:]]
        if not parts:
            raise ValueError("cannot patch the root")
        parent = doc
        for p in parts[:-1]:
            if isinstance(parent, list):
                parent = parent[int(p)]
            else:
                parent = parent.setdefault(p, {}) if kind == "add" else parent[p]
        last = parts[-1]
        if isinstance(parent, list):
            idx = len(parent) if last == "-" else int(last)
            if kind == "add":
                parent.insert(idx, op.get("value"))
            elif kind == "replace":
                parent[idx] = op.get("value")
            else:
                del parent[idx]
        else:
            if kind in ("replace", "remove") and last not in parent:
                raise KeyError(op["path"])
            if kind == "remove":
                del parent[last]
            else:
                parent[last] = op.get("value")
    return doc
