"""The plan: what applying a spec would do to AEP, computed from the live AEP resources and the
record, with GET calls only.

Each resource gets one action:
- `create`: the spec needs it and AEP has none (a new dataflow, or one deleted behind aepflow's back);
- `update`: AEP can change it in place; `changes` lists each field, old -> new, and the call;
- `replace`: AEP cannot change what differs; `reasons` say why, and what depends on it is replaced too
  (a flow cannot swap its source or target connection, FLOW-1421);
- `none`: nothing to do (`note` says when the resource is only referenced by the spec).

What the spec says is compared with what AEP answers where AEP can be read (the flow, its source,
base and target connections, the mapping set version the flow uses). What AEP cannot show is
compared with the record, the state aepflow last applied: credentials (AEP never answers them;
the record keeps the Secrets Manager version that was sent), the target schema and dataset
(the target connection names them), alerts and onDrift (aepflow's own). The same comparison of a
record's own spec with AEP is the drift check (drift.py).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from aepflow.aep import live as live_mod

from aepflow.aep.client import aep_client
from aepflow.aep import bodies
from aepflow.store import records
from aepflow.spec import source_secrets
from aepflow.spec.connectors import FLOW_SPEC_IDS
from aepflow.aep.live import Live, mapping_in_use
from aepflow.aep.mapping import mapping_set_body  # noqa: F401 (tests build live mapping sets with it)
from aepflow.steps.validate import validate_spec
from aepflow.spec.model import DataflowSpec, ResolvedSource, build_models, parse_spec, resolve_source

build_models()  # parse_spec's validators, built at import (spec.build_models)

# The order a plan lists resources in: what others depend on first.
KINDS = ("baseConnection", "sourceConnection", "schema", "dataset", "targetConnection", "mappingSet", "flow",
         "record")
ID_KEY = {"flow": "flowId", "mappingSet": "mappingId", "targetConnection": "targetConnectionId",
          "sourceConnection": "sourceConnectionId", "dataset": "datasetId", "schema": "schemaId",
          "baseConnection": "baseConnectionId"}
# What depends on each kind: replacing one replaces these.
DEPENDANTS = {"baseConnection": ("sourceConnection",), "sourceConnection": ("flow",),
              "schema": ("dataset", "targetConnection", "mappingSet"), "dataset": ("targetConnection",),
              "targetConnection": ("flow",), "mappingSet": ("flow",), "flow": ()}

# How AEP changes each field in place (the call a change becomes); a field not listed here is replaced.
IN_PLACE = {
    "flow": {"name": "PATCH /flows/{id} /name", "description": "PATCH /flows/{id} /description",
             "scheduleParams.frequency": "PATCH /flows/{id} /scheduleParams/frequency",
             "scheduleParams.interval": "PATCH /flows/{id} /scheduleParams/interval",
             "scheduleParams.backfill": "PATCH /flows/{id} /scheduleParams/backfill",
             "scheduleParams.startTime": "PATCH /flows/{id} /scheduleParams/startTime",
             "options": "PATCH /flows/{id} /options",
             "mappingVersion": "PATCH /flows/{id} /transformations/{i}/params/mappingVersion",
             "state": "POST /flows/{id}/action?op=ENABLE|DISABLE"},
    # Seed 002 ("Update your connection"): name, description and auth.params, with If-Match.
    "baseConnection": {"name": "PATCH /connections/{id} /name", "description": "PATCH /connections/{id} /description",
                       "credentials": "PATCH /connections/{id} /auth/params"},
    # Flow Service documents PATCH /sourceConnections for name, description and params.filters
    # (help/sources/tutorials/api/filter.md); another table or params is a new source connection.
    "sourceConnection": {"name": "PATCH /sourceConnections/{id} /name",
                         "description": "PATCH /sourceConnections/{id} /description",
                         "params.filters": "PATCH /sourceConnections/{id} /params/filters"},
    "targetConnection": {"name": "PATCH /targetConnections/{id} /name",
                         "description": "PATCH /targetConnections/{id} /description"},
    "mappingSet": {"mappings": "PUT /mappingSets/{id} (a new version)"},
    "record": {"alerts": "aepflow's record (the monitor reads it)", "onDrift": "aepflow's record (the drift check)",
               "onDelete": "aepflow's record (what a delete keeps)"},
}
WHY_REPLACED = {
    ("flow", "deltaColumn"): "AEP does not change a flow's Copy transformation (deltaColumn) in place",
    ("flow", "flowSpec"): "a flow cannot change its flow spec",
    ("flow", "sourceConnectionId"): "a flow cannot swap its source connection (sourceConnectionIds, FLOW-1421)",
    ("flow", "targetConnectionId"): "a flow cannot swap its target connection (targetConnectionIds, FLOW-1421)",
    ("flow", "mappingId"): "the flow is moved to a new mapping set only by a new flow",
    ("flow", "scheduleParams.startTime"): "AEP refuses a startTime change to or from a time that has passed (1366)",
    ("sourceConnection", "connectionSpec"): "a source connection cannot change its connection spec (FLOW-1421)",
    ("sourceConnection", "baseConnectionId"): "a source connection cannot move to another base connection (FLOW-1421)",
    ("baseConnection", "connectionSpec"): "a base connection cannot change its connection spec (FLOW-1421)",
    ("baseConnection", "authSpecName"): "aepflow changes a connection's auth params in place, not its auth spec",
    ("targetConnection", "params.dataSetId"): "aepflow does not move a target connection to another dataset",
    ("targetConnection", "data.schema.id"): "aepflow does not move a target connection to another schema",
    ("mappingSet", "schemaId"): "a mapping set maps into one schema; another schema needs a new mapping set",
}
DEFAULT_REPLACED = {"sourceConnection": "Flow Service documents no in-place change of a source connection's "
                                        "table, format or params but params.filters (help/sources/tutorials/api/"
                                        "filter.md); the flow reads the new ones through a new source connection",
                    "schema": "the target schema is another one", "dataset": "the target dataset is another one"}


@dataclass
class Change:
    field: str
    old: Any
    new: Any
    how: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {"field": self.field, "old": self.old, "new": self.new}
        if self.how:
            out["how"] = self.how
        return out


@dataclass
class ResourcePlan:
    kind: str
    id: str | None
    action: str
    changes: list[Change] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "id": self.id, "action": self.action,
                               "changes": [c.to_dict() for c in self.changes]}
        if self.reasons:
            out["reasons"] = self.reasons
        if self.note:
            out["note"] = self.note
        return out


@dataclass
class Plan:
    name: str
    sandbox: str | None
    resources: list[ResourcePlan]
    managed: bool = True  # a record exists
    calls: int = 0  # AEP calls the plan made (all GETs)
    problems: list[dict[str, str]] = field(default_factory=list)

    @property
    def action(self) -> str:
        actions = {r.action for r in self.resources}
        if not self.managed:
            return "create"
        for action in ("replace", "create", "update"):
            if action in actions:
                return action
        return "none"

    def of(self, kind: str) -> ResourcePlan | None:
        return next((r for r in self.resources if r.kind == kind), None)

    def kinds(self, action: str) -> list[str]:
        return [r.kind for r in self.resources if r.action == action]

    def to_dict(self) -> dict[str, Any]:
        out = {"name": self.name, "sandbox": self.sandbox, "action": self.action, "managed": self.managed,
               "resources": [r.to_dict() for r in self.resources], "calls": self.calls}
        if self.problems:
            out["problems"] = self.problems
        return out


# --- What a spec says each resource is ---------------------------------------------------------

def _rules(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mapping entries in one comparable form, whichever dialect wrote them (seed 000's
    sourceAttribute/destinationXdmPath, or source/destination with sourceType)."""
    out = []
    for entry in entries or []:
        rule = {"source": entry.get("source") or entry.get("sourceAttribute"),
                "destination": entry.get("destination") or entry.get("destinationXdmPath"),
                "sourceType": entry.get("sourceType") or "ATTRIBUTE", "identity": bool(entry.get("identity")),
                "namespaceCode": entry.get("namespaceCode"), "primary": bool(entry.get("primaryIdentity")),
                "name": entry.get("name"), "description": entry.get("description")}
        out.append({k: v for k, v in rule.items() if v not in (None, False)})
    return out


creates_base_connection = bodies.creates_base_connection


def expected(spec: DataflowSpec, resolved: ResolvedSource, ids: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """kind -> field -> the value the spec gives it in AEP (ids from the record): the fields of the very
    bodies provisioning sends (bodies.py), so that what was applied plans `none`."""
    flow_spec_id = ids.get("flowSpecId") or FLOW_SPEC_IDS.get(resolved.flowSpecName)
    flow = bodies.fields("flow", bodies.flow(spec, flow_spec_id=flow_spec_id, ids=ids, with_copy=True))
    flow["state"] = bodies.flow_state(spec)
    if not flow_spec_id:
        flow.pop("flowSpec")  # a flow spec found by name: the record's id says which
    out = {"flow": flow,
           "sourceConnection": bodies.fields("sourceConnection", bodies.source_connection(
               spec, resolved, base_connection_id=ids.get("baseConnectionId") or spec.source.baseConnectionId)),
           "targetConnection": bodies.fields("targetConnection", bodies.target_connection(
               spec, schema_id=ids.get("schemaId"), dataset_id=ids.get("datasetId")))}
    if creates_base_connection(spec):
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
    keys += [k for k in have if k not in want and not k.startswith("_")
             and (k.startswith("scheduleParams.") or (kind == "sourceConnection" and k.startswith("params.")
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
    _mapping(spec, resolved, applied, ids, live, plans)
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
        _replace(plans, "flow", f"the flow spec changes from {applied_resolved.flowSpecName} to {resolved.flowSpecName}")
    flow = plans["flow"]
    if spec.deltaColumn != applied.deltaColumn and not any(c.field == "deltaColumn" for c in flow.changes):
        old = applied.deltaColumn.model_dump(exclude_none=True) if applied.deltaColumn else None
        new = spec.deltaColumn.model_dump(exclude_none=True) if spec.deltaColumn else None
        flow.changes.append(Change("deltaColumn", old, new))
        _replace(plans, "flow", WHY_REPLACED[("flow", "deltaColumn")])


def _mapping(spec: DataflowSpec, resolved: ResolvedSource, applied: DataflowSpec | None, ids: dict[str, Any],
             live: Live, plans: dict[str, ResourcePlan]) -> None:
    mapping_id = ids.get("mappingId")
    if not mapping_id or "mappingSet" in live.missing:
        plans["mappingSet"] = ResourcePlan("mappingSet", None, "create")
        return
    want = _rules(mapping_set_body(name="", schema_id="", rules=spec.mapping,
                                   dialect=resolved.mappingDialect)["mappings"])
    if live.mappingSet is not None:
        have = _rules(live.mappingSet.get("mappings") or [])
    elif applied is not None:
        have = _rules(mapping_set_body(name="", schema_id="", rules=applied.mapping,
                                       dialect=resolved.mappingDialect)["mappings"])
    else:
        have = want
    plan = ResourcePlan("mappingSet", mapping_id, "none")
    if want != have:
        plan.action = "update"
        plan.changes.append(Change("mappings", have, want, IN_PLACE["mappingSet"]["mappings"]))
        flow = plans.get("flow")
        if flow is not None and flow.action in ("none", "update"):
            version = str(ids.get("mappingVersion") or 0)
            flow.changes.append(Change("mappingVersion", version, "(the new version)", IN_PLACE["flow"]["mappingVersion"]))
            flow.action = "update"
    plans["mappingSet"] = plan


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


# --- Making a plan (GETs only) ---------------------------------------------------------------------

def current_credentials(spec: DataflowSpec) -> dict[str, Any] | None:
    """{secret, version}: the source secret the spec names and its current Secrets Manager version."""
    if not creates_base_connection(spec) or not spec.source.credentialsSecret:
        return None
    try:
        _, version = source_secrets.read_versioned(spec.source.credentialsSecret)
    except source_secrets.SecretUnreadable:
        version = None
    return {"secret": spec.source.credentialsSecret, "version": version}


@dataclass
class Inputs:
    """Everything a plan is made from, kept for the apply that follows it."""

    spec: DataflowSpec
    resolved: ResolvedSource
    record: records.Record | None
    applied: DataflowSpec | None = None
    live: Live = field(default_factory=Live)
    credentials: dict[str, Any] | None = None


def _mapping_drifted(client, rec: records.Record, found: Live) -> None:
    """A mapping set version never changes, so while the flow uses the version the record names,
    the record's spec says what it maps; only a flow moved to another mapping (someone re-mapped it
    in the UI) needs that mapping set read."""
    mapping_id, version = mapping_in_use(found.flow)
    if found.flow is not None and mapping_id and (mapping_id, version) != (
            rec.ids.get("mappingId"), str(rec.ids.get("mappingVersion") or 0)):
        found.mappingSet = live_mod.mapping_set(client, mapping_id, version)
        if found.mappingSet is None:
            found.missing.add("mappingSet")


def read_live(client, rec: records.Record) -> Live:
    """The record's resources now: a GET each, concurrently (the mapping set only when it moved)."""
    found = live_mod.read(client, rec.ids, with_mapping=False)
    _mapping_drifted(client, rec, found)
    return found


def make(raw: Any, *, now: float | None = None) -> tuple[Plan, Inputs]:
    """Validate `raw` (SpecInvalid when it is not a spec) and plan it against the record and AEP."""
    validated = validate_spec(raw)
    spec = DataflowSpec.model_validate(validated["spec"])
    resolved = ResolvedSource.model_validate(validated["resolved"])
    rec = records.record(spec.name)
    inputs = Inputs(spec, resolved, rec)
    if rec is None:
        return Plan(spec.name, spec.sandbox, for_new(spec), managed=False), inputs
    applied = parse_spec(rec.spec)
    client = aep_client(applied.sandbox)
    before = client.calls
    inputs.applied, inputs.live = applied, read_live(client, rec)
    inputs.credentials = current_credentials(spec)
    resources = compare(spec, resolved, applied=applied, applied_resolved=resolve_source(applied), ids=rec.ids,
                        live=inputs.live, credentials=inputs.credentials, applied_credentials=rec.credentials, now=now)
    return Plan(spec.name, spec.sandbox, resources, calls=client.calls - before), inputs


def make_many(raws: list[Any], *, now: float | None = None) -> list[dict[str, Any]]:
    """Plans of many specs at once, read with list queries filtered by id (live.read_many): a few
    calls per kind for a thousand dataflows, instead of four GETs each. A spec that is not valid
    gets {name, action: "invalid", problems}."""
    from aepflow.core.errors import SpecInvalid

    out: list[dict[str, Any] | None] = [None] * len(raws)
    managed: dict[str, list[tuple[int, Inputs]]] = {}
    for index, raw in enumerate(raws):
        try:
            validated = validate_spec(raw)
        except SpecInvalid as exc:
            name = raw.get("name") if isinstance(raw, dict) else None
            out[index] = {"name": name, "action": "invalid", "resources": [], "problems": exc.problems}
            continue
        spec = DataflowSpec.model_validate(validated["spec"])
        inputs = Inputs(spec, ResolvedSource.model_validate(validated["resolved"]), records.record(spec.name))
        if inputs.record is None:
            out[index] = Plan(spec.name, spec.sandbox, for_new(spec), managed=False).to_dict()
            continue
        inputs.applied = parse_spec(inputs.record.spec)
        managed.setdefault(aep_client(inputs.applied.sandbox).sandbox, []).append((index, inputs))
    for sandbox, group in managed.items():
        client = aep_client(sandbox)
        before = client.calls
        lives = live_mod.read_many(client, {str(i): inputs.record.ids for i, inputs in group})
        for index, inputs in group:
            inputs.live = lives[str(index)]
            _mapping_drifted(client, inputs.record, inputs.live)
        calls = client.calls - before
        versions: dict[str | None, dict[str, Any] | None] = {}  # one read per secret, however many use it
        for index, inputs in group:
            secret = inputs.spec.source.credentialsSecret
            if secret not in versions:
                versions[secret] = current_credentials(inputs.spec)
            inputs.credentials = versions[secret]
            resources = compare(inputs.spec, inputs.resolved, applied=inputs.applied,
                                applied_resolved=resolve_source(inputs.applied), ids=inputs.record.ids,
                                live=inputs.live, credentials=inputs.credentials,
                                applied_credentials=inputs.record.credentials, now=now)
            out[index] = Plan(inputs.spec.name, inputs.spec.sandbox, resources, calls=calls).to_dict()
    return [plan for plan in out if plan is not None]


def of(raw: Any) -> dict[str, Any]:
    """The plan of `raw` as the doors answer it."""
    return make(raw)[0].to_dict()


# --- A readable table ---------------------------------------------------------------------------

def _short(value: Any, width: int = 40) -> str:
    text = value if isinstance(value, str) else "-" if value is None else str(value)
    return text if len(text) <= width else text[:width - 3] + "..."


def _rules_change(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> str:
    """A mapping change in a line: how many rules, and which came and went."""
    def key(rule: dict[str, Any]) -> str:
        return f"{rule.get('source')} -> {rule.get('destination')}"

    gone = [key(r) for r in old if r not in new]
    came = [key(r) for r in new if r not in old]
    parts = [f"+ {k}" for k in came] + [f"- {k}" for k in gone]
    return f"{len(old)} rules -> {len(new)} rules ({'; '.join(parts) or 'reordered'})"


def table(plans: list[dict[str, Any]]) -> str:
    """Plans (as to_dict() gives them) as a table for people: one line per resource, one per change."""
    lines = []
    for plan in plans:
        lines.append(f"{plan['name']} ({plan.get('sandbox') or 'default sandbox'}): {plan['action']}"
                     f"  [{plan.get('calls', 0)} AEP GET call(s)]")
        for problem in plan.get("problems") or []:
            lines.append(f"  ! {problem['path']}: {problem['message']}")
        for resource in plan["resources"]:
            ident = resource.get("id") or ""
            lines.append(f"  {resource['action']:<8} {resource['kind']:<17} {ident}")
            for change in resource["changes"]:
                how = f"   ({change['how']})" if change.get("how") else ""
                if change["field"] == "mappings" and isinstance(change["old"], list) and isinstance(change["new"], list):
                    lines.append(f"      mappings: {_rules_change(change['old'], change['new'])}{how}")
                    continue
                lines.append(f"      {change['field']}: {_short(change['old'])} -> {_short(change['new'])}{how}")
            for reason in resource.get("reasons") or []:
                lines.append(f"      because {reason}")
            if resource.get("note"):
                lines.append(f"      {resource['note']}")
        lines.append("")
    return "\n".join(lines)
