"""The API's PATCH /dataflows/{name}: a JSON Merge Patch over the spec's fields AEP can change in
place, planned and applied at once, one change of a name at a time, with the client's If-Match."""

from __future__ import annotations

import copy
from typing import Any

from aepflow.aep.client import aep_client
from aepflow.core.errors import ChangeRefused, DataflowConflict, DataflowNotFound, SpecInvalid
from aepflow.ops.apply.changes import Applier, precondition_failed, replacement_problems
from aepflow.ops.plan import mapping as mapping_plan
from aepflow.ops.plan.model import Plan
from aepflow.ops.plan.read import Inputs, make
from aepflow.spec import digest
from aepflow.store import claims, records


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
    applier.ids.setdefault("mappingVersion", mapping_plan.in_use(rec.ids, inputs.live))  # a record that never said
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
    claims.set_claim_hash(plan.name, digest.spec_hash(spec), origin)
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
# secret's params reach AEP in place) and the filter (params.filters, PATCH /sourceConnections; filter.md), or
# params.filters; any other field is refused up front.
PATCHABLE = ("schedule", "description", "mapping", "mappingVersion", "enabled", "options", "alerts", "onDrift",
             "onDelete", "onFailure", "resources", "source")
NOT_PATCHABLE_REASON = {
    "source": "AEP does not let a dataflow swap its source; only source.credentialsSecret and "
              "source.filter (params.filters) change in place",
    "target": "AEP does not let a dataflow swap its target connection; delete and re-create the dataflow",
    "name": "the name is the dataflow's key; create a new dataflow under the new name",
    "sandbox": "a dataflow cannot move between sandboxes; create it in the new sandbox",
    "deltaColumn": "AEP does not change a flow's Copy transformation in place; delete and re-create the dataflow",
}


def _source_patchable(value: Any) -> bool:
    if not isinstance(value, dict) or not value or set(value) - {"credentialsSecret", "params", "filter"}:
        return False
    if "credentialsSecret" in value and not isinstance(value["credentialsSecret"], str):
        return False
    if value.get("filter") is not None and not isinstance(value["filter"], str):
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


def patch(name: str, changes: dict[str, Any], *, if_match: str | None = None,
          now: float | None = None) -> dict[str, Any]:
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
    with claims.changing(name):  # one change of a name at a time; what it reads is read inside
        rec = records.record(name)
        if rec is None:
            raise DataflowNotFound(f"no provisioned dataflow named {name!r}", code="DataflowNotFound", status=404)
        new_raw = merge_patch(rec.spec, changes)
        new_raw["name"] = name
        plan, inputs = make(new_raw, now=now)
        if inputs.live.flow is None and "flow" in inputs.live.missing:
            raise DataflowNotFound(f"the dataflow's flow {rec.flow_id} no longer exists in AEP", code="FlowNotFound",
                                   status=404)
        return in_place(plan, inputs, if_match=if_match, now=now, origin=claims.API)


def refuse_while_provisioning(name: str) -> None:
    """A change in place, or a delete, waits for the execution provisioning the name (409)."""
    claim = claims.claim(name)
    if claim is not None and not claims.holder_finished(claim, claims.recorded_execution(name)):
        raise DataflowConflict(f"dataflow {name!r} is being provisioned by {claim.get('executionArn')}; "
                               "change it when that is done", code="ProvisioningInProgress", status=409)
