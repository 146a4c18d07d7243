"""The pure comparison: a spec against what was applied (the record) and what AEP has, resource by
resource, with no call (plan.read makes the reads)."""

from __future__ import annotations

import time
from typing import Any

from aepflow.aep import bodies, drafts
from aepflow.aep.live import Live
from aepflow.ops.plan import mapping as mapping_plan
from aepflow.ops.plan.model import (
    DEFAULT_REPLACED,
    DEPENDANTS,
    ID_KEY,
    IN_PLACE,
    KINDS,
    WHY_REPLACED,
    Change,
    ResourcePlan,
)
from aepflow.spec.connectors import FLOW_SPEC_IDS
from aepflow.spec.model import DataflowSpec, ResolvedSource

# --- What a spec says each resource is ---------------------------------------------------------

creates_base_connection = bodies.creates_base_connection


def expected(spec: DataflowSpec, resolved: ResolvedSource, ids: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """kind -> field -> the value the spec gives it in AEP (ids from the record): the fields of the very
    bodies provisioning sends (bodies.py), so that what was applied plans `none`."""
    flow_spec_id = ids.get("flowSpecId") or FLOW_SPEC_IDS.get(resolved.flowSpecName)
    flow = bodies.fields("flow", bodies.flow(spec, flow_spec_id=flow_spec_id, ids=ids, with_copy=True))
    # A draft (the record says so) is a draft in AEP until aepflow publish (aep/drafts.py).
    flow["state"] = drafts.DRAFT_STATE if ids.get("draft") is True else bodies.flow_state(spec)
    if not flow_spec_id:
        flow.pop("flowSpec")  # a flow spec found by name: the record's id says which
    out = {"flow": flow,
           "sourceConnection": bodies.fields("sourceConnection", bodies.source_connection(
               spec, resolved, base_connection_id=ids.get("baseConnectionId") or spec.source.baseConnectionId)),
           "targetConnection": bodies.fields("targetConnection", bodies.target_connection(
               spec, schema_id=ids.get("schemaId"), dataset_id=ids.get("datasetId")))}
    if creates_base_connection(spec) and spec.source.access == "iam-role":
        out["baseConnection"] = bodies.fields("baseConnection", bodies.base_connection(
            spec, resolved, auth_spec_name=resolved.authSpecName, auth_params=bodies.iam_role_auth_params(spec)))
    elif creates_base_connection(spec):
        base = bodies.fields("baseConnection", bodies.base_connection(
            spec, resolved, auth_spec_name=spec.source.authSpecName, auth_params={}))
        if not spec.source.authSpecName:
            base.pop("authSpecName")  # chosen from the secret's keys: compared only when the spec names it
        out["baseConnection"] = base
    return out


def observed(live: Live) -> dict[str, dict[str, Any]]:
    """kind -> field -> the value AEP answers, read as expected() reads the bodies."""
    return {kind: bodies.fields(kind, found) for kind in ("flow", "sourceConnection", "baseConnection",
                                                          "targetConnection")
            if (found := live.of(kind)) is not None}


# --- Comparing ---------------------------------------------------------------------------------

def start_time_passed(old: Any, new: Any, now: float) -> bool:
    """AEP's 1366: startTime cannot change to or from a time that has passed."""
    if old == new:
        return False
    try:
        return (old is not None and int(old) < now) or (new is not None and int(new) < now)
    except (TypeError, ValueError):
        return True


def field_differences(kind: str, want: dict[str, Any], have: dict[str, Any]) -> list[Change]:
    """Every field of `kind` whose value differs, as a Change (old is AEP's, new is the spec's)."""
    changes = []
    keys = [k for k in want if not k.startswith("_")]
    # A field AEP has and the spec no longer gives (a schedule's backfill, a REST param) is removed.
    source_keys = ("params.", "data.properties.")
    keys += [k for k in have if k not in want and not k.startswith("_")
             and (k.startswith("scheduleParams.") or (kind == "sourceConnection" and k.startswith(source_keys)
                                                      and k != "params.columns"))]
    for key in keys:
        new, old = want.get(key), have.get(key)
        if kind == "flow" and key == "deltaColumn" and not have.get("_hasCopy"):
            continue  # the flow spec has no Copy: nothing in AEP to compare (the record is, below)
        if old != new:
            changes.append(Change(key, old, new))
    return changes


def _classify(kind: str, changes: list[Change], now: float) -> tuple[list[Change], list[str]]:
    """(changes, reasons): a reason for each change AEP cannot make in place."""
    reasons: list[str] = []
    allowed = IN_PLACE.get(kind, {})
    for change in changes:
        if kind == "flow" and change.field == "scheduleParams.startTime":
            if start_time_passed(change.old, change.new, now):
                reasons.append(WHY_REPLACED[(kind, change.field)])
                continue
        if change.field in allowed:
            change.how = allowed[change.field]
            continue
        reasons.append(WHY_REPLACED.get((kind, change.field))
                       or DEFAULT_REPLACED.get(kind) or f"AEP cannot change {kind} {change.field} in place")
    return changes, list(dict.fromkeys(reasons))


def _dump(spec: DataflowSpec) -> dict[str, Any]:
    return spec.model_dump(mode="json", by_alias=True, exclude_none=True)


def compare(spec: DataflowSpec, resolved: ResolvedSource, *, applied: DataflowSpec | None,
            applied_resolved: ResolvedSource | None, ids: dict[str, Any], live: Live,
            credentials: dict[str, Any] | None = None, applied_credentials: dict[str, Any] | None = None,
            now: float | None = None) -> list[ResourcePlan]:
    """The resources' plans for `spec`, given what was applied (the record) and what AEP has."""
    now = time.time() if now is None else now
    want, have = expected(spec, resolved, ids), observed(live)
    plans: dict[str, ResourcePlan] = {}

    for kind in ("baseConnection", "sourceConnection", "targetConnection", "flow"):
        resource_id = ids.get(ID_KEY[kind])
        if kind == "baseConnection" and not creates_base_connection(spec):
            plans[kind] = ResourcePlan(kind, spec.source.baseConnectionId, "none",
                                       note="referenced by the spec (never changed by aepflow)")
            if resource_id and spec.source.baseConnectionId != resource_id:
                plans[kind].changes.append(Change("id", resource_id, spec.source.baseConnectionId))
            continue
        if kind in live.missing or (not resource_id and kind in want):
            plans[kind] = ResourcePlan(kind, None, "create",
                                       reasons=["AEP no longer has it"] if kind in live.missing else [])
            continue
        changes, reasons = _classify(kind, field_differences(kind, want.get(kind, {}), have.get(kind, {})), now)
        plans[kind] = ResourcePlan(kind, resource_id, "replace" if reasons else "update" if changes else "none",
                                   changes, reasons)
    if plans["baseConnection"].changes and not creates_base_connection(spec):
        _replace(plans, "sourceConnection", WHY_REPLACED[("sourceConnection", "baseConnectionId")])

    # What AEP does not answer: compared with what was applied (the record).
    if applied is not None:
        _compare_applied(spec, resolved, applied, applied_resolved, plans, credentials, applied_credentials)
    mapping_plan.plan(spec, resolved.mappingDialect, applied, ids, live, plans)
    _target(spec, applied, ids, plans)
    if applied is not None and applied.sandbox != spec.sandbox:
        for plan in plans.values():
            if plan.action != "none" or plan.id:
                plan.action = "replace"
                plan.reasons.append("a dataflow cannot move between sandboxes; it is made anew in the new one")
    _propagate(plans)
    record_changes = []
    if applied is not None:
        for key in IN_PLACE["record"]:
            old, new = _dump(applied).get(key), _dump(spec).get(key)
            if old != new:
                record_changes.append(Change(key, old, new, IN_PLACE["record"][key]))
    plans["record"] = ResourcePlan("record", None, "update" if record_changes else "none", record_changes)
    return [plans[k] for k in KINDS if k in plans]


def _compare_applied(spec: DataflowSpec, resolved: ResolvedSource, applied: DataflowSpec,
                     applied_resolved: ResolvedSource | None, plans: dict[str, ResourcePlan],
                     credentials: dict[str, Any] | None, applied_credentials: dict[str, Any] | None) -> None:
    base = plans["baseConnection"]
    if creates_base_connection(spec) and not creates_base_connection(applied):
        base.action = "create"
        base.reasons.append("the spec now gives credentials instead of referencing a base connection")
    elif not creates_base_connection(spec) and creates_base_connection(applied):
        base.note = "the spec now references an existing base connection"
        _replace(plans, "sourceConnection", WHY_REPLACED[("sourceConnection", "baseConnectionId")])
    elif creates_base_connection(spec) and _role_access(applied) != _role_access(spec):
        base.changes.append(Change("access", _role_access(applied), _role_access(spec)))
        _replace(plans, "baseConnection", WHY_REPLACED[("baseConnection", "access")])
    elif creates_base_connection(spec) and base.action in ("none", "update"):
        old_secret, new_secret = applied.source.credentialsSecret, spec.source.credentialsSecret
        old_version = (applied_credentials or {}).get("version")
        new_version = (credentials or {}).get("version")
        if old_secret != new_secret or (old_version and new_version and old_version != new_version):
            base.changes.append(Change("credentials", {"secret": old_secret, "version": old_version},
                                       {"secret": new_secret, "version": new_version},
                                       IN_PLACE["baseConnection"]["credentials"]))
            base.action = "update"
    if applied_resolved is not None and applied_resolved.flowSpecName != resolved.flowSpecName:
        _replace(plans, "flow",
                 f"the flow spec changes from {applied_resolved.flowSpecName} to {resolved.flowSpecName}")
    flow = plans["flow"]
    if spec.deltaColumn != applied.deltaColumn and not any(c.field == "deltaColumn" for c in flow.changes):
        old = applied.deltaColumn.model_dump(exclude_none=True) if applied.deltaColumn else None
        new = spec.deltaColumn.model_dump(exclude_none=True) if spec.deltaColumn else None
        flow.changes.append(Change("deltaColumn", old, new))
        _replace(plans, "flow", WHY_REPLACED[("flow", "deltaColumn")])


def _role_access(spec: DataflowSpec) -> dict[str, Any] | None:
    """The bucket Adobe's IAM role reads for an `access: iam-role` spec (its connection's one param), else None."""
    return {"access": "iam-role", "bucket": spec.source.bucket} if spec.source.access == "iam-role" else None


def _target(spec: DataflowSpec, applied: DataflowSpec | None, ids: dict[str, Any],
            plans: dict[str, ResourcePlan]) -> None:
    new_schema, new_dataset = spec.target.schema_, spec.target.dataset
    for kind, new, old, ident in (
            ("schema", new_schema, applied.target.schema_ if applied else None, ids.get("schemaId")),
            ("dataset", new_dataset, applied.target.dataset if applied else None, ids.get("datasetId"))):
        if new.id:
            plan = ResourcePlan(kind, new.id, "none", note="referenced by the spec (never changed by aepflow)")
            if ident and ident != new.id:
                plan.changes.append(Change("id", ident, new.id))
                plan.note = "the spec now references another one"
                for dependant in DEPENDANTS[kind]:
                    _replace(plans, dependant, f"the target {kind} is now {new.id}")
        elif applied is None or not ident:
            plan = ResourcePlan(kind, None, "create")
        elif old is not None and new.model_dump(by_alias=True) != old.model_dump(by_alias=True):
            plan = ResourcePlan(kind, ident, "replace",
                                [Change(f"target.{kind}.create", old.model_dump(by_alias=True, exclude_none=True),
                                        new.model_dump(by_alias=True, exclude_none=True))],
                                [f"aepflow creates a new {kind} for a changed target.{kind}.create"])
        else:
            plan = ResourcePlan(kind, ident, "none")
        plans[kind] = plan


def _replace(plans: dict[str, ResourcePlan], kind: str, reason: str) -> None:
    plan = plans.get(kind)
    if plan is None or plan.action == "create":
        return
    if plan.action != "replace":
        plan.action = "replace"
    if reason not in plan.reasons:
        plan.reasons.append(reason)


def _propagate(plans: dict[str, ResourcePlan]) -> None:
    """Replacing (or re-creating) a resource replaces what depends on it."""
    for kind in ("baseConnection", "schema", "dataset", "sourceConnection", "targetConnection", "mappingSet", "flow"):
        plan = plans.get(kind)
        if plan is None or plan.action not in ("replace", "create"):
            continue
        for dependant in DEPENDANTS[kind]:
            _replace(plans, dependant, f"its {kind} is {'replaced' if plan.action == 'replace' else 'created anew'}")


def for_new(spec: DataflowSpec) -> list[ResourcePlan]:
    """A spec under a name aepflow does not manage: everything it needs is created, what it
    references is used as it is."""
    out = []
    for kind in KINDS[:-1]:
        referenced = {"baseConnection": spec.source.baseConnectionId, "schema": spec.target.schema_.id,
                      "dataset": spec.target.dataset.id}.get(kind)
        if referenced:
            out.append(ResourcePlan(kind, referenced, "none", note="referenced by the spec (never changed by aepflow)"))
        else:
            out.append(ResourcePlan(kind, None, "create"))
    return out
