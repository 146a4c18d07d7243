"""The mapping, planned: the spec's rules against the mapping set version the flow uses, and the version
the flow is to use.

A mapping set keeps every version, and a flow names the one it maps with (its Mapping
transformation's params.mappingVersion; help/data-prep/api/mapping-set.md: PUT makes a new version,
GET ?version=N reads one). So:
- unpinned (no `mappingVersion` in the spec), the rules decide: rules that some version already known
  holds (the version in use, the version the record names) move the flow to it, if it is not there;
  other rules are a new version (PUT /mappingSets/{id}) and the flow moves to that;
- pinned (`mappingVersion: N`), the version decides: the flow moves to N in place, the set is never
  written, and rules in the spec that differ from version N's are a warning, not a change.

`plan` is pure: plan.read made the reads (the set at the pinned version, or at the version in use when
the record cannot say what that version holds)."""

from __future__ import annotations

from typing import Any

from aepflow.aep.bodies import mapping_in_use
from aepflow.aep.live import Live
from aepflow.aep.mapping import mapping_set_body
from aepflow.ops.plan.model import IN_PLACE, Change, ResourcePlan
from aepflow.ops.plan.render import rules_change
from aepflow.spec.model import DataflowSpec

# The new value of a flow's mappingVersion when the apply's PUT makes the version.
NEW_VERSION = "(the new version)"
MAX_VERSION = 2**31 - 1  # data-prep.yaml types a set's version as int32


def rules(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mapping entries in one comparable form, whichever dialect wrote them (seed 000's
    sourceAttribute/destinationXdmPath, or source/destination with sourceType)."""
    out = []
    for entry in entries or []:
        if not isinstance(entry, dict):
            continue
        rule = {"source": entry.get("source") or entry.get("sourceAttribute"),
                "destination": entry.get("destination") or entry.get("destinationXdmPath"),
                "sourceType": entry.get("sourceType") or "ATTRIBUTE", "identity": bool(entry.get("identity")),
                "namespaceCode": entry.get("namespaceCode"), "primary": bool(entry.get("primaryIdentity")),
                "name": entry.get("name"), "description": entry.get("description")}
        out.append({k: v for k, v in rule.items() if v not in (None, False)})
    return out


def spec_rules(spec: DataflowSpec, dialect: str) -> list[dict[str, Any]]:
    """The spec's mapping as the set's entries would read back."""
    return rules(mapping_set_body(name="", schema_id="", rules=spec.mapping, dialect=dialect)["mappings"])


def version_number(value: Any) -> int | None:
    """A mapping set version as AEP writes it (a flow's mappingVersion is a string, a set's version a
    number), or None when it is not one: AEP's answers are hostile until parsed."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        text = value.strip()
        value = int(text) if text.isascii() and text.isdigit() and len(text) <= 10 else None
    return value if isinstance(value, int) and 0 <= value <= MAX_VERSION else None


def recorded(ids: dict[str, Any]) -> int:
    """The version the record says the flow uses (0, the version a flow is created with, when it says none)."""
    return version_number(ids.get("mappingVersion")) or 0


def in_use(ids: dict[str, Any], live: Live) -> int:
    """The version the flow maps with: AEP's flow's, when it was read and maps with the record's set;
    else the record's."""
    mapping_id, version = mapping_in_use(live.flow)
    number = version_number(version)
    if live.flow is not None and mapping_id == ids.get("mappingId") and number is not None:
        return number
    return recorded(ids)


def target_version(flow: ResourcePlan | None) -> int | None:
    """The existing version a planned flow moves to (None: it does not move, or moves to the version
    the apply's PUT makes, which that PUT answers)."""
    change = next((c for c in (flow.changes if flow else []) if c.field == "mappingVersion"), None)
    return None if change is None or change.new == NEW_VERSION else version_number(change.new)


def _move(flow: ResourcePlan | None, old: int, new: int | str) -> None:
    if flow is None or old == new or flow.action not in ("none", "update"):
        return
    flow.changes.append(Change("mappingVersion", old, new, IN_PLACE["flow"]["mappingVersion"]))
    flow.action = "update"


def plan(spec: DataflowSpec, dialect: str, applied: DataflowSpec | None, ids: dict[str, Any], live: Live,
         plans: dict[str, ResourcePlan]) -> None:
    """plans["mappingSet"], and the flow's move to another version (a change of plans["flow"])."""
    mapping_id = ids.get("mappingId")
    if not mapping_id or "mappingSet" in live.missing:
        plans["mappingSet"] = ResourcePlan("mappingSet", None, "create")
        return
    flow = plans.get("flow")
    if flow is not None and any(c.field == "mappingVersion" for c in flow.changes):
        # The flow's field comparison says AEP's version is not the record's; which version it is to
        # use is said here, once.
        flow.changes = [c for c in flow.changes if c.field != "mappingVersion"]
        if flow.action == "update" and not flow.changes:
            flow.action = "none"
    resource = plans["mappingSet"] = ResourcePlan("mappingSet", mapping_id, "none")
    current, want = in_use(ids, live), spec_rules(spec, dialect)
    read = live.mappingSet
    read_version = None if read is None else version_number(read.get("version"))
    pinned = spec.mappingVersion
    if pinned is not None:
        resource.note = f"pinned to version {pinned} by the spec's mappingVersion (the rules are not written)"
        if read is not None and read_version == pinned:
            have = rules(read.get("mappings") or [])
            if have != want:
                resource.warnings.append(
                    f"the rules in the spec's mapping do not match version {pinned} of the mapping set, which "
                    f"the flow maps with while pinned: {rules_change(have, want)}; no new version is made "
                    "while mappingVersion pins one")
        _move(flow, current, pinned)
        return
    known: dict[int, list[dict[str, Any]]] = {}
    if applied is not None and applied.mappingVersion is None:
        known[recorded(ids)] = spec_rules(applied, dialect)  # what was applied is what that version holds
    if read is not None:
        known[current if read_version is None else read_version] = rules(read.get("mappings") or [])
    if not known:
        return  # nothing says what the flow maps with: nothing to compare
    for version in (current, recorded(ids), *sorted(known)):
        if known.get(version) == want:
            _move(flow, current, version)
            return
    have = known.get(current, known.get(recorded(ids), []))
    resource.action = "update"
    resource.changes.append(Change("mappings", have, want, IN_PLACE["mappingSet"]["mappings"]))
    _move(flow, current, NEW_VERSION)
