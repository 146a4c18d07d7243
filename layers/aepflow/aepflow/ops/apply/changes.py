"""The in-place changes of a plan, one resource at a time, each with If-Match and AEP's 412 handled: the
flow's JSON Patch, the mapping as a new version of its set, enable/disable, the connections' PATCH
(and a test of new credentials)."""

from __future__ import annotations

import copy
from typing import Any

from aepflow.aep import bodies, drafts, resources
from aepflow.aep import live as live_mod
from aepflow.aep.client import AepClient, segment
from aepflow.core.errors import (
    AepNotFound,
    AepPreconditionFailed,
    AepServerError,
    AepValidationError,
    ChangeRefused,
    DataflowNotFound,
    DataflowPreconditionFailed,
)
from aepflow.core.observability import logger
from aepflow.ops.plan import mapping as mapping_plan
from aepflow.ops.plan.compare import compare
from aepflow.ops.plan.model import Change, Plan, ResourcePlan
from aepflow.ops.plan.read import Inputs
from aepflow.spec import source_secrets
from aepflow.spec.parse import resolve_source

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
    unique = []
    for p in problems:  # the first problem at each path
        if p["path"] not in seen:
            seen.add(p["path"])
            unique.append(p)
    return unique


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
    found = live_mod.get_one(client, kind, resource_id)
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
        # The version the flow moves to: the one the PUT makes, or one the set has (a pin, a move back).
        mapping_version = self._mapping()
        if mapping_version is None and self._resource("flow") is not None:
            mapping_version = mapping_plan.target_version(self.plan.of("flow"))
        self._flow(mapping_version)
        if mapping_version is not None and "flow.mappingVersion" in self.changed:
            self.ids["mappingVersion"] = mapping_version
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
        version = mapping_plan.version_number((answer if isinstance(answer, dict) else {}).get("version"))
        if version is None:  # the version is made; which one AEP does not say, so the flow cannot move to it
            raise AepServerError(f"PUT /mappingSets/{self.ids['mappingId']} answered no version number",
                                 code="AepAnswerInvalid", status=502)
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
                logger.info("flow etag stale, re-reading it", extra={"dataflow": self.plan.name, "flowId": flow_id})
                flow = _get(self.client, "flow", flow_id)
                etag = flow.get("etag")
                changes = self._replan_flow(flow)
            except AepValidationError as exc:
                raise _refusal(exc, "schedule") from None
        # A draft is neither enabled nor disabled: publishing it does that (ops/drafts.py).
        if not drafts.is_draft(flow) and flow.get("state") != ("enabled" if self.inputs.spec.enabled else "disabled"):
            op = "ENABLE" if self.inputs.spec.enabled else "DISABLE"
            etag = resources.flow_action(self.client, flow_id, op, etag).get("etag") or etag
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


def precondition_failed(name: str) -> DataflowPreconditionFailed:
    """The client's If-Match is not the dataflow's etag (the header itself is never echoed)."""
    return DataflowPreconditionFailed(
        f"dataflow {name!r} changed since it was read; GET it again and send its ETag in If-Match",
        code="PreconditionFailed", status=412,
        problems=[{"path": "(header) If-Match", "message": "does not match the dataflow's current ETag"}])
