"""Making a plan: the spec validated, the record read, AEP read (GETs only, one dataflow's resources
concurrently or many dataflows' with list queries), then compared (plan.compare)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aepflow.aep import live as live_mod
from aepflow.aep.client import aep_client
from aepflow.aep.live import Live, mapping_in_use
from aepflow.core.errors import SpecInvalid
from aepflow.ops.plan import mapping as mapping_plan
from aepflow.ops.plan.compare import compare, creates_base_connection, for_new
from aepflow.ops.plan.model import Plan
from aepflow.spec import source_secrets
from aepflow.spec.model import DataflowSpec, ResolvedSource
from aepflow.spec.parse import build_models, parse_spec, resolve_source
from aepflow.steps.validate import validate_spec
from aepflow.store import records

build_models()  # parse_spec's validators, built at import (spec.build_models)

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


def _mapping_drifted(client, rec: records.Record, found: Live, spec: DataflowSpec | None = None,
                     applied: DataflowSpec | None = None) -> None:
    """The mapping set version the plan compares the spec's rules with, read only when the record
    cannot say what it holds. A version never changes, so while the flow uses the version the record
    names and the record's spec was applied unpinned, that spec says what it maps. Read: the version
    the spec pins (mapping.read_pinned: one it does not have is refused); the version the flow uses
    when someone moved the flow to another (re-mapped it in the UI), or when the record's spec was
    pinned (its rules need not be that version's)."""
    if spec is not None and spec.mappingVersion is not None and rec.ids.get("mappingId"):
        found.mappingSet = read_pinned(client, rec.ids["mappingId"], spec.mappingVersion)
        if found.mappingSet is None:
            found.missing.add("mappingSet")
        return
    mapping_id, version = mapping_in_use(found.flow)
    recorded = (rec.ids.get("mappingId"), str(mapping_plan.recorded(rec.ids)))
    moved = found.flow is not None and mapping_id and (mapping_id, version) != recorded
    was_pinned = applied is not None and applied.mappingVersion is not None and recorded[0]
    read_id, read_version = (mapping_id, version) if moved else recorded
    if (moved or was_pinned) and read_id:
        found.mappingSet = live_mod.mapping_set(client, read_id, read_version)
        if found.mappingSet is None:
            found.missing.add("mappingSet")


def read_pinned(client, mapping_id: str, version: int) -> dict[str, Any] | None:
    """GET /mappingSets/{id}?version=N for the version a spec pins; AEP's 404 is SpecInvalid naming the
    version, unless the whole set is gone (None: the plan makes a new one)."""
    found = live_mod.mapping_set(client, mapping_id, version)
    if found is not None:
        return found
    latest = live_mod.mapping_set(client, mapping_id)
    if latest is None:
        return None
    newest = mapping_plan.version_number(latest.get("version"))
    versions = f"its versions are 0 to {newest}" if newest is not None else "AEP does not say which it has"
    message = (f"mapping set {mapping_id} has no version {version}: GET /mappingSets/{mapping_id}?version="
               f"{version} answered 404 ({versions})")
    raise SpecInvalid(message, code="MappingVersionNotFound", status=400,
                      problems=[{"path": "mappingVersion", "message": message}])


def read_live(client, rec: records.Record, spec: DataflowSpec | None = None,
              applied: DataflowSpec | None = None) -> Live:
    """The record's resources now: a GET each, concurrently (the mapping set only when the record
    cannot say what the version compared holds)."""
    found = live_mod.read(client, rec.ids, with_mapping=False)
    _mapping_drifted(client, rec, found, spec, applied)
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
    inputs.applied, inputs.live = applied, read_live(client, rec, spec, applied)
    inputs.credentials = current_credentials(spec)
    resources = compare(spec, resolved, applied=applied, applied_resolved=resolve_source(applied), ids=rec.ids,
                        live=inputs.live, credentials=inputs.credentials, applied_credentials=rec.credentials, now=now)
    return Plan(spec.name, spec.sandbox, resources, calls=client.calls - before), inputs


def make_many(raws: list[Any], *, now: float | None = None) -> list[dict[str, Any]]:
    """Plans of many specs at once, read with list queries filtered by id (live.read_many): a few
    calls per kind for a thousand dataflows, instead of four GETs each. A spec that is not valid
    gets {name, action: "invalid", problems}."""
    out: list[dict[str, Any] | None] = [None] * len(raws)
    # sandbox -> (index, inputs, its record, the spec the record applied) of each managed dataflow
    managed: dict[str, list[tuple[int, Inputs, records.Record, DataflowSpec]]] = {}
    for index, raw in enumerate(raws):
        try:
            validated = validate_spec(raw)
        except SpecInvalid as exc:
            name = raw.get("name") if isinstance(raw, dict) else None
            out[index] = {"name": name, "action": "invalid", "resources": [], "problems": exc.problems}
            continue
        spec = DataflowSpec.model_validate(validated["spec"])
        record = records.record(spec.name)
        inputs = Inputs(spec, ResolvedSource.model_validate(validated["resolved"]), record)
        if record is None:
            out[index] = Plan(spec.name, spec.sandbox, for_new(spec), managed=False).to_dict()
            continue
        inputs.applied = applied = parse_spec(record.spec)
        managed.setdefault(aep_client(applied.sandbox).sandbox, []).append((index, inputs, record, applied))
    for sandbox, group in managed.items():
        client = aep_client(sandbox)
        before = client.calls
        lives = live_mod.read_many(client, {str(i): record.ids for i, _, record, _ in group})
        refused: set[int] = set()
        for index, inputs, record, applied in group:
            inputs.live = lives[str(index)]
            try:
                _mapping_drifted(client, record, inputs.live, inputs.spec, applied)
            except SpecInvalid as exc:  # a pinned version the set does not have
                out[index] = {"name": inputs.spec.name, "action": "invalid", "resources": [], "problems": exc.problems}
                refused.add(index)
        calls = client.calls - before
        versions: dict[str | None, dict[str, Any] | None] = {}  # one read per secret, however many use it
        for index, inputs, record, applied in group:
            if index in refused:
                continue
            secret = inputs.spec.source.credentialsSecret
            if secret not in versions:
                versions[secret] = current_credentials(inputs.spec)
            inputs.credentials = versions[secret]
            resources = compare(inputs.spec, inputs.resolved, applied=applied,
                                applied_resolved=resolve_source(applied), ids=record.ids,
                                live=inputs.live, credentials=inputs.credentials,
                                applied_credentials=record.credentials, now=now)
            out[index] = Plan(inputs.spec.name, inputs.spec.sandbox, resources, calls=calls).to_dict()
    return [plan for plan in out if plan is not None]


def of(raw: Any) -> dict[str, Any]:
    """The plan of `raw` as the doors answer it."""
    return make(raw)[0].to_dict()
