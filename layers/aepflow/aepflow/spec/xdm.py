"""A target schema's fields, and a spec's mapping held against them before anything is made.

Where the fields come from:
- a schema aepflow creates from XDM's standard class and field groups: XDM's published definitions,
  vendored in xdm_definitions.json (adobe/xdm, rendered as the Schema Registry shows them; see
  local/emulator/vendor_xdm.py), so validation checks the mapping with no AEP call;
- a schema the spec names, or one made with a tenant's own field groups: the Schema Registry's
  resolved view (`application/vnd.adobe.xed-full+json`), read by "Check the mapping against the
  target schema" before the first write (lookup_steps).

What is refused, each at `mapping[i].destination`:
- a destination the schema lacks: Data Prep maps "an input attribute or calculated field to one XDM
  attribute" of the output schema (help/data-prep/home.md#mapping), and refuses the mapping set;
- a table's column (a single value) mapped onto an object or an array of objects: Data Prep maps
  an object only from an object, an array only from an array (help/data-prep/mapping-set.md, "Array to
  array or object to object"), and every record of the run would fail.
A destination mapped twice is refused by the spec itself (spec.DataflowSpec)."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

from aepflow.spec import suggest

_FILE = Path(__file__).resolve().parent / "xdm_definitions.json"
# A dot path's segment: a name (a `\.` escapes a dot in it) and its array indexes ([0], [*]).
_SEGMENT = re.compile(r"((?:\\.|[^\[])*)((?:\[(?:\d+|\*)\])*)")


@cache
def definitions() -> dict[str, Any]:
    """XDM's classes and field groups ($id -> {title, properties, ...}), read on first use."""
    data = json.loads(_FILE.read_text())
    return {**data["classes"], **data["fieldGroups"]}


def merge(into: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
    """Two parts of a schema defining one object field merge their fields (XDM composition)."""
    out = dict(into)
    for name, node in fields.items():
        old = out.get(name)
        if old and old.get("type") == node.get("type") == "object" and "properties" in node and "properties" in old:
            out[name] = {**old, "properties": merge(old["properties"], node["properties"])}
        else:
            out[name] = node
    return out


def standard_fields(refs: list[str]) -> dict[str, Any] | None:
    """The fields of a schema made of these standard class and field groups, or None when one of
    them is not XDM's published (a tenant's own: only AEP knows it)."""
    known = definitions()
    if any(ref not in known for ref in refs):
        return None
    fields: dict[str, Any] = {}
    for ref in refs:
        fields = merge(fields, known[ref].get("properties") or {})
    return fields


def field_at(fields: dict[str, Any], path: str) -> tuple[dict[str, Any] | None, str | None]:
    """(the field at a dot path, None) or (None, why there is none)."""
    node: dict[str, Any] = {"type": "object", "properties": fields}
    walked: list[str] = []
    for segment in re.split(r"(?<!\\)\.", path):
        match = _SEGMENT.fullmatch(segment)
        name = match.group(1).replace("\\.", ".") if match else ""
        if not match or not name:
            return None, f"{path!r} is not a field path"
        here = ".".join(walked) or "the schema"
        if node.get("meta:xdmType") == "map":
            child = node.get("additionalProperties") or {}
        elif node.get("type") == "object":
            child = (node.get("properties") or {}).get(name)
            if child is None:
                choices = sorted(node.get("properties") or {})
                shown = ", ".join(choices[:15]) + (", ..." if len(choices) > 15 else "")
                return None, (f"{here} has no field {name!r}{suggest.did_you_mean(name, choices)}"
                              + (f" (it has {shown})" if choices else ""))
        else:
            return None, f"{here} is a {node.get('meta:xdmType') or node.get('type')} field, with no field {name!r}"
        for _ in re.findall(r"\[(\d+|\*)\]", match.group(2)):
            if child.get("type") != "array":
                return None, f"{'.'.join(walked + [name])} is not an array"
            child = child.get("items") or {}
        walked.append(segment)
        node = child
    return node, None


def _holds_records(node: dict[str, Any]) -> bool:
    if node.get("type") == "object":
        return True
    return node.get("type") == "array" and (node.get("items") or {}).get("type") == "object"


def mapping_problems(spec: Any, fields: dict[str, Any], schema: str, *, tabular: bool) -> list[dict[str, str]]:
    """Every mapping destination the schema's `fields` do not take, at its field path. `tabular`: the
    source is a table, whose columns each hold one value."""
    problems = []
    for index, rule in enumerate(spec.mapping):
        node, why = field_at(fields, rule.destination)
        path = f"mapping[{index}].destination"
        if node is None:
            problems.append({"path": path, "message": f"{rule.destination!r} is not a field of {schema}: {why}"})
        elif tabular and rule.sourceType == "ATTRIBUTE" and _holds_records(node):
            kind = "an object" if node.get("type") == "object" else "an array of objects"
            inner = sorted(node.get("properties") or (node.get("items") or {}).get("properties") or {})[:10]
            problems.append({"path": path, "message": (
                f"{rule.destination!r} is {kind}, and column {rule.source!r} holds one value: map it to one of "
                f"its fields ({', '.join(inner)})" if inner else f"{rule.destination!r} is {kind}")})
    return problems


def created_schema_refs(spec: Any) -> list[str] | None:
    """The class and field groups of the schema the spec creates, or None when it names one."""
    create = spec.target.schema_.create
    return [create.class_, *create.fieldGroups] if create else None


def checked_offline(spec: Any) -> bool:
    """Whether validation can hold the mapping against the target schema with no AEP call."""
    refs = created_schema_refs(spec)
    return refs is not None and standard_fields(refs) is not None
