"""The state machine's "Apply the plan in place" (functions/apply_plan): a provisioning that finds the
dataflow's flow plans the spec against the record and AEP, applies in place what AEP can change, and
deletes first what a replacement makes anew (the create path then makes it)."""

from __future__ import annotations

from typing import Any

from aepflow.aep import live as live_mod
from aepflow.aep import resources
from aepflow.aep.client import AepClient, aep_client
from aepflow.core.errors import AepNotFound, AepValidationError, step
from aepflow.ops.apply.changes import Applier, replacement_problems
from aepflow.ops.created import created_by_aepflow
from aepflow.ops.plan import mapping as mapping_plan
from aepflow.ops.plan.compare import compare
from aepflow.ops.plan.model import ID_KEY, Plan, ResourcePlan
from aepflow.ops.plan.read import Inputs
from aepflow.s3 import grants
from aepflow.spec.parse import parse_spec, resolve_source
from aepflow.store import journal, owners, records


def prepare_replacement(plan: Plan, inputs: Inputs, client: AepClient | None = None) -> dict[str, Any]:
    """Before a replacement is provisioned: change in place what stays (a connection's name, new
    credentials), then delete what the plan replaces (the flow first, then what it used, dependants
    before what they depend on), never what the spec only referenced. Returns the ids that remain,
    the replaced ones null, for provisioning to make anew."""
    rec = inputs.record
    assert rec is not None
    client = client or aep_client(inputs.applied.sandbox if inputs.applied else inputs.spec.sandbox)
    replaced = set(plan.kinds("replace"))
    if "flow" in replaced and inputs.spec.mappingVersion is None and (
            (plan.of("mappingSet") or ResourcePlan("mappingSet", None, "none")).action == "update"
            or str(rec.ids.get("mappingVersion") or 0) != "0"):
        # A new flow maps with version 0 of its mapping set: new rules, or rules changed in place
        # since, get a mapping set of their own (Data Prep cannot delete the old one). A pinned
        # version is of the set the dataflow has: the new flow maps with it (steps.flow).
        replaced.add("mappingSet")
    applier = Applier(inputs, plan, client)
    for kind in ("sourceConnection", "targetConnection", "baseConnection"):
        if kind not in replaced:
            applier._connection(kind)
    ids = dict(applier.ids)
    created = created_by_aepflow(rec, inputs.applied or inputs.spec)
    deleted = []
    for kind in ("flow", "targetConnection", "sourceConnection", "dataset", "schema", "baseConnection"):
        if kind not in replaced or kind not in created:
            continue
        try:
            resources.delete_by_kind(client, kind, created[kind])
            deleted.append({"kind": kind, "id": created[kind]})
        except AepNotFound:
            deleted.append({"kind": kind, "id": created[kind], "note": "already gone"})
        except AepValidationError as exc:
            if kind != "baseConnection":
                raise
            deleted.append({"kind": kind, "id": created[kind], "kept": f"still in use: {exc.message}"})
            replaced.discard(kind)
        if kind == "flow":
            owners.release_flow(created[kind], rec.name)  # its replacement is claimed when recorded
    deleted += _old_grant(inputs)
    for kind in replaced | set(plan.kinds("create")):
        ids[ID_KEY.get(kind, kind)] = None
    ids.update(flowEtag=None, mappingVersion=None)
    return {"deleted": deleted, "ids": ids, "etags": applier.etags, "credentials": applier.credentials}


def _old_grant(inputs: Inputs) -> list[dict[str, Any]]:
    """A dataflow that Adobe's role read from one bucket and now reads another (or reads with keys) leaves
    no statement for the role in the old bucket's policy: removed here, as a delete removes it (a path
    changed within the bucket is replaced in place by the grant step, under the same Sids)."""
    old, new = inputs.applied, inputs.spec
    if old is None or old.source.access != "iam-role" or not old.source.bucket:
        return []
    if new.source.access == "iam-role" and new.source.bucket == old.source.bucket:
        return []
    entry, refused = grants.withdraw(old.name, old.source.bucket)
    return [{**entry, "kept": refused}] if refused else [entry]


# --- The state machine's "Apply the plan in place" ------------------------------------------------

@step("apply-plan")
def apply_plan(ctx) -> dict[str, Any]:
    """The step (functions/apply_plan): apply_step with the step's state and AEP client. Before a new
    source connection replaces the old one, the source is explored and the spec held against it
    (source_steps.explore_and_check), so a table that does not exist fails here, before anything
    is deleted."""
    from aepflow.steps.source import explore_and_check  # the create path's own check

    def check_source(base_connection_id: str) -> None:
        # Not an iam-role source: Adobe's role reads a new path only once "Let Adobe's role read the source's
        # files" has run, in the create path, whose explore then holds the spec to the files.
        if ctx.resolved.inCatalog and ctx.resolved.exploresColumns and not ctx.spec.source.columns \
                and ctx.spec.source.access != "iam-role":
            explore_and_check(ctx, base_connection_id)

    return apply_step(ctx.event.state, ctx.client, check_source=check_source, execution=ctx.event.execution)


ID_FIELDS = ("baseConnectionId", "sourceConnectionId", "schemaId", "datasetId", "targetConnectionId", "mappingId",
             "flowId", "flowEtag", "flowSpecId", "mappingVersion")


def apply_step(state: dict[str, Any], client: AepClient, *, check_source=None,
               execution: str | None = None) -> dict[str, Any]:
    """A provisioning that finds the dataflow's flow in AEP: plan the spec against the record (or,
    with none, against what was found by name) and AEP, and apply it. In place, the state goes on
    with the flow's new etag to be recorded; for a replacement, the replaced resources are deleted
    and their ids come back null, so the create path makes them anew. Returns the whole state with
    `ids` replaced; `ids.applied` says what was done, `ids.etags` and `ids.credentials` what AEP has."""
    from aepflow.ops.plan.read import current_credentials, read_live
    from aepflow.spec.model import DataflowSpec, ResolvedSource

    spec = DataflowSpec.model_validate(state["spec"])
    resolved = ResolvedSource.model_validate(state["resolved"])
    found = {k: v for k, v in (state.get("ids") or {}).items() if k in ID_FIELDS}
    rec = records.record(spec.name)
    if rec is None or not rec.flow_id:
        rec = records.Record(name=spec.name, item={"ids": "{}"}, ids=found)
        applied = None
    else:
        applied = parse_spec(rec.spec)
    inputs = Inputs(spec, resolved, rec, applied=applied)
    inputs.live = read_live(client, rec, spec, applied)
    if applied is None and spec.mappingVersion is None and rec.ids.get("mappingId"):
        # Nothing recorded: what the flow maps with is read (the version the flow found names).
        inputs.live.mappingSet = live_mod.mapping_set(client, rec.ids["mappingId"],
                                                      mapping_plan.in_use(rec.ids, inputs.live))
    inputs.credentials = current_credentials(spec)
    resources_planned = compare(spec, resolved, applied=applied, applied_resolved=resolve_source(applied)
                                if applied else None, ids=rec.ids, live=inputs.live, credentials=inputs.credentials,
                                applied_credentials=rec.credentials)
    plan = Plan(spec.name, spec.sandbox, resources_planned)
    summary: dict[str, Any] = {"action": plan.action, "plan": [
        {"kind": r.kind, "action": r.action, "changes": [c.field for c in r.changes], "reasons": r.reasons}
        for r in plan.resources if r.action != "none"]}
    if not replacement_problems(plan):
        applier = Applier(inputs, plan, client)
        applier.run()
        applier.ids.setdefault("mappingVersion", mapping_plan.in_use(rec.ids, inputs.live))  # a flow found by name
        ids = {**{k: found.get(k) for k in ID_FIELDS}, **{k: v for k, v in applier.ids.items() if k in ID_FIELDS}}
        ids["flowEtag"] = applier.etags.get("flow") or (inputs.live.flow or {}).get("etag") or ids.get("flowEtag")
        etags = {**{k: (inputs.live.of(k) or {}).get("etag") for k in ("flow", "sourceConnection", "baseConnection",
                                                                       "targetConnection") if inputs.live.of(k)},
                 **{k: v for k, v in applier.etags.items() if v}}
        summary["changed"] = sorted(set(applier.changed))
        credentials = applier.credentials or inputs.credentials or {}
    else:
        replaced = plan.kinds("replace")
        if check_source is not None and "sourceConnection" in replaced and rec.ids.get("baseConnectionId") \
                and "baseConnection" not in replaced:
            check_source(rec.ids["baseConnectionId"])
        prepared = prepare_replacement(plan, inputs, client)
        ids = {**{k: found.get(k) for k in ID_FIELDS}, **{k: v for k, v in prepared["ids"].items() if k in ID_FIELDS}}
        etags, credentials = {k: v for k, v in prepared["etags"].items() if v}, prepared["credentials"] or {}
        summary["deleted"] = prepared["deleted"]
        summary["replacedBecause"] = sorted({p["path"].split(".")[0] for p in replacement_problems(plan)})
    if rec.ids.get("draft") is True:  # a draft stays one until it is published (ops/drafts.py)
        ids["draft"] = True
    ids.update(etags=etags, credentials=credentials, applied=summary)
    if execution:
        journal.put_applied(execution, summary)
    return {**state, "ids": ids}
