"""The apply: make AEP match a plan, in place where AEP allows it.

In place, each with `If-Match` and AEP's 412 handled (re-read, re-plan that resource, send once more):
- the flow: name, description, schedule, options (`PATCH /flows/{id}`, a JSON Patch), the mapping as a
  new version of its mapping set (`PUT /mappingSets/{id}`, then the flow's Mapping transformation moves
  to that version), enabled (`POST /flows/{id}/action?op=ENABLE|DISABLE`);
- the base connection: name, description and credentials (`PATCH /connections/{id}`, seed 002), after
  which the connection is tested (`GET /connections/{id}/test`);
- the source and target connections: name and description (and a source's params.filters).

What AEP cannot change in place is replaced: `prepare_replacement` deletes what must be made anew
(the flow first, then what it used that aepflow created), and provisioning creates it again. The API's
PATCH refuses a replacement instead, naming the spec's field (`ChangeRefused`).
"""

from __future__ import annotations

import copy
from typing import Any

from aws_lambda_powertools import Logger

from aepflow.store import journal as journal_mod

from aepflow.aep.client import aep_client
from aepflow.aep import live as live_mod
from aepflow.aep import bodies, resources
from aepflow.store import records
from aepflow.spec import source_secrets
from aepflow.aep.client import AepClient, segment
from aepflow.core.errors import AepNotFound, AepPreconditionFailed, AepValidationError, ChangeRefused, DataflowConflict, DataflowNotFound, DataflowPreconditionFailed, SpecInvalid
from aepflow.ops.plan.compare import compare
from aepflow.ops.plan.model import ID_KEY, Change, Plan, ResourcePlan
from aepflow.ops.plan.read import Inputs, make
from aepflow.core.errors import step
from aepflow.spec.model import build_models, parse_spec, resolve_source

build_models()  # parse_spec's validators, built at import (spec.build_models)

logger = Logger(child=True)

# The spec field a resource's change comes from, for a refusal that names it.
SPEC_PATH = {("flow", "scheduleParams.startTime"): "schedule.startTime", ("flow", "deltaColumn"): "deltaColumn",
             ("flow", "flowSpec"): "source", ("flow", "sourceConnectionId"): "source",
             ("flow", "targetConnectionId"): "target"}
KIND_PATH = {"baseConnection": "source", "sourceConnection": "source", "schema": "target", "dataset": "target",
             "targetConnection": "target", "mappingSet": "mapping", "flow": "(dataflow)"}
FLOW_FIELDS = {"name": "/name", "description": "/description", "options": "/options"}
CONNECTION_COLLECTION = {"baseConnection": "/connections", "sourceConnection": "/sourceConnections",
                         "targetConnection": "/targetConnections"}


# --- Refusals --------------------------------------------------------------------------------

def replacement_problems(plan: Plan) -> list[dict[str, str]]:
    """One problem per resource the plan replaces or creates, at the spec field that causes it."""
    problems = []
    for resource in plan.resources:
        if resource.action not in ("replace", "create") or resource.kind == "record":
            continue
        path = next((SPEC_PATH[(resource.kind, c.field)] for c in resource.changes
                     if (resource.kind, c.field) in SPEC_PATH), None)
        if path is None and resource.kind == "flow" and resource.action == "replace" and not resource.changes:
            continue  # replaced only because what it uses is replaced: that resource says why
        path = path or KIND_PATH.get(resource.kind, resource.kind)
        why = "; ".join(resource.reasons) or "AEP has no such resource"
        problems.append({"path": path, "message": f"{resource.kind} would be {resource.action}d: {why}"})
    seen: set[str] = set()
    return [p for p in problems if not (p["path"] in seen or seen.add(p["path"]))]


# --- One resource at a time --------------------------------------------------------------------

def json_patch(changes: list[Change], fields: dict[str, str]) -> list[dict[str, Any]]:
    """RFC 6902 operations for in-place changes: add what AEP lacks, remove what the spec dropped."""
    ops = []
    for change in changes:
        if change.field.startswith("scheduleParams."):
            path = "/scheduleParams/" + change.field.split(".", 1)[1]
        elif change.field.startswith("params."):
            path = "/params/" + change.field.split(".", 1)[1]
        elif change.field in fields:
            path = fields[change.field]
        else:
            continue
        if change.new is None:
            ops.append({"op": "remove", "path": path})
        else:
            ops.append({"op": "add" if change.old is None else "replace", "path": path, "value": change.new})
    return ops


def _mapping_op(flow: dict[str, Any], version: int) -> dict[str, Any]:
    for index, transformation in enumerate(flow.get("transformations") or []):
        if transformation.get("name") == "Mapping":
            return {"op": "replace", "path": f"/transformations/{index}/params/mappingVersion", "value": str(version)}
    raise ChangeRefused("the flow has no Mapping transformation to update", code="FieldNotChangeable", status=400,
                        problems=[{"path": "mapping", "message": "the flow has no Mapping transformation"}])


def _refusal(exc: AepValidationError, path: str) -> ChangeRefused:
    path = "schedule.startTime" if "1366" in str(exc.code or "") else path
    return ChangeRefused(exc.message, code=exc.code or "AepRefused", status=400,
                         problems=[{"path": path, "message": exc.message}])


def _get(client: AepClient, kind: str, resource_id: str) -> dict[str, Any]:
    found = live_mod._get(client, kind, resource_id)
    if found is None:
        raise DataflowNotFound(f"the dataflow's {kind} {resource_id} no longer exists in AEP",
                               code="FlowNotFound" if kind == "flow" else "ResourceNotFound", status=404)
    return found


class Applier:
    """Applies one plan's in-place changes; `changed` and `etags` say what it did."""

    def __init__(self, inputs: Inputs, plan: Plan, client: AepClient, *, now: float | None = None,
                 if_match: str | None = None):
        self.inputs, self.plan, self.client = inputs, plan, client
        # The client's If-Match (PATCH): sent to AEP as it is, and AEP's 412 is the client's answer.
        self.if_match = if_match
        self.ids = dict(inputs.record.ids if inputs.record else {})
        self.etags: dict[str, Any] = dict(inputs.record.etags if inputs.record else {})
        self.credentials = dict(inputs.record.credentials if inputs.record else {})
        self.changed: list[str] = []
        self.tests: dict[str, bool] = {}
        self.now = now

    def _resource(self, kind: str) -> ResourcePlan | None:
        resource = self.plan.of(kind)
        return resource if resource is not None and resource.action == "update" else None

    def run(self) -> None:
        mapping_version = self._mapping()
        self._flow(mapping_version)
        for kind in ("sourceConnection", "targetConnection", "baseConnection"):
            self._connection(kind)

    # The mapping: a new version of the same mapping set.
    def _mapping(self) -> int | None:
        if self._resource("mappingSet") is None:
            return None
        spec, resolved = self.inputs.spec, self.inputs.resolved
        # The mapping set keeps its name, the digest of the rules of its version 0 (naming.mapping_set):
        # a later spec with these new rules finds no set by that name and gets a set of its own, whose
        # version 0 is what a new flow maps with.
        current = self.inputs.live.mappingSet or live_mod.mapping_set(self.client, self.ids["mappingId"]) or {}
        body = bodies.mapping_set(spec, resolved, schema_id=self.ids["schemaId"], name=current.get("name"))
        try:
            answer = self.client.request("PUT", "conversion", f"/mappingSets/{segment(self.ids['mappingId'])}",
                                         json=body)
        except AepValidationError as exc:
            raise _refusal(exc, "mapping") from None
        version = int((answer or {}).get("version", 0))
        self.ids["mappingVersion"] = version
        self.changed.append("mappingSet.mappings")
        return version

    # The flow: one JSON Patch, then enable/disable.
    def _flow(self, mapping_version: int | None) -> None:
        resource = self._resource("flow")
        if resource is None:
            return
        flow = self.inputs.live.flow or _get(self.client, "flow", self.ids["flowId"])
        flow_id = self.ids["flowId"]
        # If-Match: the client's, as it sent it (AEP's 412 is its answer: the flow is no longer what it
        # read); else the etag aepflow last wrote, so a change made behind aepflow's back since then is a
        # 412, re-read and planned again; a flow never written by aepflow has the etag just read.
        etag = self.if_match or self.ids.get("flowEtag") or flow.get("etag")
        changes = resource.changes
        for attempt in range(2):
            ops = json_patch([c for c in changes if c.how and c.field not in ("state", "mappingVersion")], FLOW_FIELDS)
            if mapping_version is not None:
                ops.append(_mapping_op(flow, mapping_version))
            if not ops:
                etag = flow.get("etag") if attempt else etag
                break
            try:
                answer = self.client.patch("flowservice", f"/flows/{segment(flow_id)}", json=ops,
                                           headers={"If-Match": etag or ""})
                etag = (answer or {}).get("etag") or etag
                self.changed.extend(f"flow.{c.field}" for c in changes
                                    if c.how and c.field not in ("state", "mappingVersion"))
                if mapping_version is not None:
                    self.changed.append("flow.mappingVersion")
                break
            except AepPreconditionFailed:
                if self.if_match is not None:
                    raise precondition_failed(self.plan.name) from None
                if attempt:
                    raise
                logger.info("flow etag stale, re-reading it", extra={"flowId": flow_id})
                flow = _get(self.client, "flow", flow_id)
                etag = flow.get("etag")
                changes = self._replan_flow(flow)
            except AepValidationError as exc:
                raise _refusal(exc, "schedule") from None
        if flow.get("state") != ("enabled" if self.inputs.spec.enabled else "disabled"):
            op = "ENABLE" if self.inputs.spec.enabled else "DISABLE"
            answer = self.client.post("flowservice", f"/flows/{segment(flow_id)}/action", params={"op": op},
                                      headers={"If-Match": etag} if etag else None)
            etag = (answer or {}).get("etag") or etag
            self.changed.append("flow.state")
        self.ids["flowEtag"] = etag
        self.etags["flow"] = etag

    def _replan_flow(self, flow: dict[str, Any]) -> list[Change]:
        live = copy.copy(self.inputs.live)
        live.flow = flow
        inputs = self.inputs
        resources_now = compare(inputs.spec, inputs.resolved, applied=inputs.applied,
                                applied_resolved=resolve_source(inputs.applied) if inputs.applied else None,
                                ids=self.ids, live=live, credentials=inputs.credentials,
                                applied_credentials=self.credentials, now=self.now)
        replanned = next(r for r in resources_now if r.kind == "flow")
        if replanned.action == "replace":
            raise ChangeRefused("the flow changed in AEP meanwhile so that it cannot be updated in place",
                                code="FieldNotChangeable", status=400,
                                problems=[{"path": "(dataflow)", "message": "; ".join(replanned.reasons)}])
        return replanned.changes

    # A connection: one JSON Patch with If-Match; the base connection is tested after new credentials.
    def _connection(self, kind: str) -> None:
        resource = self._resource(kind)
        if resource is None:
            return
        resource_id = resource.id or self.ids[live_mod.ID_KEYS[kind]]
        current = self.inputs.live.of(kind) or _get(self.client, kind, resource_id)
        ops = json_patch(resource.changes, {"name": "/name", "description": "/description"})
        credentials = next((c for c in resource.changes if c.field == "credentials"), None)
        version = None
        if credentials is not None:
            params, version = self._auth_params()
            ops.append({"op": "replace", "path": "/auth/params", "value": params})
        if not ops:
            return
        try:
            etag = patch_connection(self.client, kind, resource_id, ops, current.get("etag"))
        except AepValidationError as exc:
            raise _refusal(exc, "source.credentialsSecret" if credentials else "source") from None
        self.etags[kind] = etag
        self.changed.extend(f"{kind}.{c.field}" for c in resource.changes if c.how)
        if credentials is not None:
            self.credentials = {"secret": self.inputs.spec.source.credentialsSecret, "version": version}
            self.tests[kind] = test_connection(self.client, resource_id)

    def _auth_params(self) -> tuple[dict[str, Any], str | None]:
        """The secret's auth params, as provisioning sends them: the keys of the auth spec validation chose."""
        spec, resolved = self.inputs.spec, self.inputs.resolved
        secret, version = source_secrets.read_versioned(spec.source.credentialsSecret or "")
        names = resolved.authParams
        return {k: v for k, v in secret.items() if not names or k in names}, version


def patch_connection(client: AepClient, kind: str, resource_id: str, ops: list[dict[str, Any]],
                     etag: str | None) -> str | None:
    """PATCH a connection with If-Match; a 412 is re-read and sent once more. Returns the new etag.
    flow-service.yaml types the body of PATCH /connections/{id} as ONE PatchInstruction (seed 002
    sends an array; the spec wins), so a base connection gets one PATCH per change, each with the
    etag the previous one answered; source and target connections take the array."""
    path = f"{CONNECTION_COLLECTION[kind]}/{segment(resource_id)}"
    bodies: list[Any] = list(ops) if kind == "baseConnection" else [ops]
    for body in bodies:
        for attempt in range(2):
            try:
                answer = client.patch("flowservice", path, json=body, headers={"If-Match": etag or ""})
                etag = (answer or {}).get("etag") or etag
                break
            except AepPreconditionFailed:
                if attempt:
                    raise
                logger.info("connection etag stale, re-reading it", extra={"kind": kind, "id": resource_id})
                etag = _get(client, kind, resource_id).get("etag")
    return etag


def test_connection(client: AepClient, connection_id: str) -> bool:
    """GET /connections/{id}/test (flow-service.yaml testConnection): `result` is true when AEP
    could connect to the source with the connection's credentials."""
    try:
        answer = client.get("flowservice", f"/connections/{segment(connection_id)}/test") or {}
    except (AepValidationError, AepNotFound) as exc:
        logger.warning("connection test refused", extra={"connectionId": connection_id, "code": exc.code})
        return False
    return answer.get("result") is True


# --- Doors -------------------------------------------------------------------------------------

def in_place(plan: Plan, inputs: Inputs, *, if_match: str | None = None, now: float | None = None,
             origin: str | None = None) -> dict[str, Any]:
    """Apply a plan that needs no replacement (ChangeRefused otherwise); save the record. `origin`: the
    door the new spec came through (the API's PATCH), kept on the claim."""
    rec = inputs.record
    if rec is None:
        raise DataflowNotFound(f"no provisioned dataflow named {plan.name!r}", code="DataflowNotFound", status=404)
    problems = replacement_problems(plan)
    if problems:
        raise ChangeRefused(f"{', '.join(p['path'] for p in problems)} cannot be changed in place",
                            code="FieldNotChangeable", status=400, problems=problems)
    client = aep_client(inputs.applied.sandbox if inputs.applied else inputs.spec.sandbox)
    if if_match is not None and not etag_matches(if_match, (inputs.live.flow or {}).get("etag")):
        raise precondition_failed(plan.name)
    applier = Applier(inputs, plan, client, now=now, if_match=if_match)
    applier.run()
    spec = inputs.spec.model_dump(mode="json", by_alias=True, exclude_none=True)
    if applier.etags.get("flow") is None and inputs.live.flow is not None:
        applier.ids["flowEtag"] = applier.ids.get("flowEtag") or inputs.live.flow.get("etag")
    for kind in ("sourceConnection", "baseConnection", "targetConnection"):
        found = inputs.live.of(kind)
        if kind not in applier.etags and found is not None:
            applier.etags[kind] = found.get("etag")
    if inputs.live.flow is not None and "flow" not in applier.etags:
        applier.etags["flow"] = inputs.live.flow.get("etag")
    credentials = applier.credentials
    if not credentials and inputs.credentials:
        credentials = inputs.credentials  # first apply since provisioning: the version now in AEP
    records.save(rec, spec, applier.ids, etags=applier.etags, credentials=credentials)
    records.set_claim_hash(plan.name, records.spec_hash(spec), origin)
    records.clear_drift(plan.name)
    changed = sorted(set(applier.changed) | {f"record.{c.field}" for r in plan.resources if r.kind == "record"
                                             for c in r.changes})
    result: dict[str, Any] = {"name": plan.name, "status": "ACTIVE", "action": "update" if changed else "none",
                              "changed": _spec_fields(inputs, spec), "aepChanges": changed,
                              "etag": applier.ids.get("flowEtag"), "ids": applier.ids, "spec": spec,
                              "plan": plan.to_dict()}
    if applier.tests:
        result["connectionTest"] = applier.tests
    return result


def precondition_failed(name: str) -> DataflowPreconditionFailed:
    """The client's If-Match is not the dataflow's etag (the header itself is never echoed)."""
    return DataflowPreconditionFailed(
        f"dataflow {name!r} changed since it was read; GET it again and send its ETag in If-Match",
        code="PreconditionFailed", status=412,
        problems=[{"path": "(header) If-Match", "message": "does not match the dataflow's current ETag"}])


def _spec_fields(inputs: Inputs, spec: dict[str, Any]) -> list[str]:
    """The top-level spec fields that differ from what was applied (what a person changed)."""
    old = inputs.record.spec if inputs.record else {}
    return sorted(k for k in set(old) | set(spec) if old.get(k) != spec.get(k))


def etag_matches(if_match: str, etag: str | None) -> bool:
    """RFC 9110 If-Match: `*` or one of a comma-separated list of entity tags (a weak W/ prefix
    is ignored; AEP's etags carry their own quotes)."""
    if if_match.strip() == "*":
        return etag is not None
    wanted = {tag.strip().removeprefix("W/") for tag in if_match.split(",")}
    return etag is not None and etag.strip() in wanted


# The spec fields PATCH /dataflows/{name} takes. In `source`, only the credentials secret (a new
# secret's params reach AEP in place) and params.filters; any other field is refused up front.
PATCHABLE = ("schedule", "description", "mapping", "enabled", "options", "alerts", "onDrift", "onDelete", "resources",
             "source")
NOT_PATCHABLE_REASON = {
    "source": "AEP does not let a dataflow swap its source; only source.credentialsSecret and "
              "source.params.filters change in place",
    "target": "AEP does not let a dataflow swap its target connection; delete and re-create the dataflow",
    "name": "the name is the dataflow's key; create a new dataflow under the new name",
    "sandbox": "a dataflow cannot move between sandboxes; create it in the new sandbox",
    "deltaColumn": "AEP does not change a flow's Copy transformation in place; delete and re-create the dataflow",
}


def _source_patchable(value: Any) -> bool:
    if not isinstance(value, dict) or not value or set(value) - {"credentialsSecret", "params"}:
        return False
    if "credentialsSecret" in value and not isinstance(value["credentialsSecret"], str):
        return False
    params = value.get("params")
    return params is None or (isinstance(params, dict) and not set(params) - {"filters"})


def refused_fields(patch: dict[str, Any]) -> list[dict[str, str]]:
    """The patch's top-level fields that can never change in place, each with the reason."""
    problems = []
    for key, value in patch.items():
        if key in PATCHABLE and (key != "source" or _source_patchable(value)):
            continue
        reason = NOT_PATCHABLE_REASON.get(key, f"only {', '.join(PATCHABLE)} can be changed in place")
        problems.append({"path": key, "message": reason})
    return problems


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON Merge Patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def patch(name: str, changes: dict[str, Any], *, if_match: str | None = None, now: float | None = None) -> dict[str, Any]:
    """PATCH /dataflows/{name}: a JSON Merge Patch over the spec, planned and applied in place."""
    if not isinstance(changes, dict):
        raise SpecInvalid("the body must be a JSON Merge Patch object", code="SpecInvalid", status=400,
                          problems=[{"path": "(body)", "message": "expected an object"}])
    problems = refused_fields(changes)
    if problems:
        raise ChangeRefused(f"{', '.join(p['path'] for p in problems)} cannot be changed in place",
                            code="FieldNotChangeable", status=400, problems=problems)
    if records.record(name) is None:
        raise DataflowNotFound(f"no provisioned dataflow named {name!r}", code="DataflowNotFound", status=404)
    refuse_while_provisioning(name)
    with records.changing(name):  # one change of a name at a time; what it reads is read inside
        rec = records.record(name)
        if rec is None:
            raise DataflowNotFound(f"no provisioned dataflow named {name!r}", code="DataflowNotFound", status=404)
        new_raw = merge_patch(rec.spec, changes)
        new_raw["name"] = name
        plan, inputs = make(new_raw, now=now)
        if inputs.live.flow is None and "flow" in inputs.live.missing:
            raise DataflowNotFound(f"the dataflow's flow {rec.flow_id} no longer exists in AEP", code="FlowNotFound",
                                   status=404)
        return in_place(plan, inputs, if_match=if_match, now=now, origin=records.API)


def refuse_while_provisioning(name: str) -> None:
    """A change in place, or a delete, waits for the execution provisioning the name (409)."""
    claim = records.claim(name)
    if claim is not None and not records.holder_finished(claim, records.record(name)):
        raise DataflowConflict(f"dataflow {name!r} is being provisioned by {claim.get('executionArn')}; "
                               "change it when that is done", code="ProvisioningInProgress", status=409)


def prepare_replacement(plan: Plan, inputs: Inputs, client: AepClient | None = None) -> dict[str, Any]:
    """Before a replacement is provisioned: change in place what stays (a connection's name, new
    credentials), then delete what the plan replaces (the flow first, then what it used, dependants
    before what they depend on), never what the spec only referenced. Returns the ids that remain,
    the replaced ones null, for provisioning to make anew."""
    rec = inputs.record
    assert rec is not None
    client = client or aep_client(inputs.applied.sandbox if inputs.applied else inputs.spec.sandbox)
    replaced = set(plan.kinds("replace"))
    if "flow" in replaced and (plan.of("mappingSet") or ResourcePlan("mappingSet", None, "none")).action == "update" \
            or "flow" in replaced and str(rec.ids.get("mappingVersion") or 0) != "0":
        # A new flow maps with version 0 of its mapping set: new rules, or rules changed in place
        # since, get a mapping set of their own (Data Prep cannot delete the old one).
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
            records.release_flow(created[kind], rec.name)  # its replacement is claimed when recorded
    for kind in replaced | set(plan.kinds("create")):
        ids[ID_KEY.get(kind, kind)] = None
    ids.update(flowEtag=None, mappingVersion=None)
    return {"deleted": deleted, "ids": ids, "etags": applier.etags, "credentials": applier.credentials}


# --- The state machine's "Apply the plan in place" ------------------------------------------------

@step("apply-plan")
def apply_plan(ctx) -> dict[str, Any]:
    """The step (functions/apply_plan): apply_step with the step's state and AEP client. Before a new
    source connection replaces the old one, the source is explored and the spec held against it
    (source_steps.explore_and_check), so a table that does not exist fails here, before anything
    is deleted."""
    from aepflow.steps.source import explore_and_check  # the create path's own check

    def check_source(base_connection_id: str) -> None:
        if ctx.resolved.inCatalog and ctx.resolved.exploresColumns and not ctx.spec.source.columns:
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
    inputs.live = read_live(client, rec)
    if applied is None and rec.ids.get("mappingId"):  # nothing recorded: what the flow maps with is read
        inputs.live.mappingSet = live_mod.mapping_set(client, rec.ids["mappingId"], rec.ids.get("mappingVersion"))
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
        ids = {**{k: found.get(k) for k in ID_FIELDS}, **{k: v for k, v in applier.ids.items() if k in ID_FIELDS}}
        ids["flowEtag"] = applier.etags.get("flow") or (inputs.live.flow or {}).get("etag") or ids.get("flowEtag")
        etags = {**{k: (inputs.live.of(k) or {}).get("etag") for k in ("flow", "sourceConnection", "baseConnection",
                                                                       "targetConnection") if inputs.live.of(k)},
                 **{k: v for k, v in applier.etags.items() if v}}
        summary["changed"] = sorted(set(applier.changed))
        credentials = applier.credentials or inputs.credentials or {}
    else:
        if check_source is not None and "sourceConnection" in plan.kinds("replace") and rec.ids.get("baseConnectionId") \
                and "baseConnection" not in plan.kinds("replace"):
            check_source(rec.ids["baseConnectionId"])
        prepared = prepare_replacement(plan, inputs, client)
        ids = {**{k: found.get(k) for k in ID_FIELDS}, **{k: v for k, v in prepared["ids"].items() if k in ID_FIELDS}}
        etags, credentials = {k: v for k, v in prepared["etags"].items() if v}, prepared["credentials"] or {}
        summary["deleted"] = prepared["deleted"]
        summary["replacedBecause"] = sorted({p["path"].split(".")[0] for p in replacement_problems(plan)})
    ids.update(etags=etags, credentials=credentials, applied=summary)
    if execution:
        records.put_applied(execution, summary)
    return {**state, "ids": ids}


def created_by_aepflow(rec: records.Record, spec) -> dict[str, str]:
    """kind -> id of what aepflow created for this dataflow, from the roll-back journals of the
    executions that provisioned it; never what the spec only referenced."""
    claim = records.claim_item(rec.name) or {}
    executions = list(claim.get("executions") or [])
    if rec.item.get("executionId") and rec.item["executionId"] not in executions:
        executions.append(rec.item["executionId"])
    created: dict[str, str] = {}
    for execution in executions:
        for entry in journal_mod.Journal(execution, "").entries_newest_first():
            if entry.get("state") == "created" and entry.get("resourceId"):
                created.setdefault(entry["kind"], entry["resourceId"])
    ids = rec.ids
    # The flow and its own connections are the dataflow's (aepflow made them, or adopted them).
    for kind, key in (("flow", "flowId"), ("sourceConnection", "sourceConnectionId"),
                      ("targetConnection", "targetConnectionId"), ("mappingSet", "mappingId")):
        if ids.get(key):
            created[kind] = ids[key]
    if not spec.source.baseConnectionId and ids.get("baseConnectionId"):
        created["baseConnection"] = ids["baseConnectionId"]
    if spec.source.baseConnectionId:
        created.pop("baseConnection", None)
    if spec.target.schema_.id:
        created.pop("schema", None)
    if spec.target.dataset.id:
        created.pop("dataset", None)
    return created


def reapply(rec: records.Record, *, now: float | None = None) -> dict[str, Any]:
    """The record's own spec applied again in place (drift revert), holding the name as a PATCH does."""
    with records.changing(rec.name):
        plan, inputs = make(parse_spec(rec.spec).model_dump(mode="json", by_alias=True, exclude_none=True), now=now)
        return in_place(plan, inputs, now=now)
