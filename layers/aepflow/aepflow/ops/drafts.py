"""Drafts (help/sources/tutorials/api/draft.md): `aepflow apply --draft` provisions a dataflow whose flow
AEP holds as a draft (POST /flows?mode=draft), which makes no run and which the monitor does not watch;
`aepflow publish NAME` publishes it (POST /flows/{id}/action?op=publish), and from then on it runs on
its schedule and is watched.

Before a draft is started (check_before_start): the dataflow is not one published already (a published
flow never goes back to a draft), and AEP allows a draft of it (the flow spec's, and the connection spec's,
attributes.isDraftModeSupported, "Check for draft mode support"), read at the door so that a refusal
creates nothing; "Resolve the flow spec" checks it again for an execution started another way.

Adobe's order: a dataflow is published once its source and target connections are ("You cannot publish
a dataflow if its associated source and target connections are still in draft state"). aepflow drafts
the flow alone (its connections are created published), so publishing the flow is the one call."""

from __future__ import annotations

from typing import Any

from aepflow.aep import drafts, resources
from aepflow.aep.client import aep_client
from aepflow.core.errors import AepNotFound, ChangeRefused, DataflowConflict, DataflowNotFound, FlowSpecMismatch
from aepflow.ops.apply.patch import refuse_while_provisioning
from aepflow.steps.flow import check_draft_mode, read_flow_spec
from aepflow.store import claims, records


def check_before_start(spec: dict[str, Any], resolved: dict[str, Any]) -> None:
    """apply --draft of a validated spec (validate_spec's answer): DataflowConflict (409 AlreadyPublished)
    when the dataflow is published already; ChangeRefused (400 DraftNotSupported) when AEP's flow spec or
    connection spec does not allow a draft, saying which. Two GETs (the flow spec, the connection spec)."""
    name = spec["name"]
    rec = records.record(name)
    if rec is not None and rec.ids.get("draft") is not True:
        raise DataflowConflict(f"dataflow {name!r} is published already; a published dataflow does not go back to a "
                               "draft (apply it without --draft, or delete it first)", code="AlreadyPublished",
                               status=409, problems=[{"path": "(draft)", "message": "the dataflow is published"}])
    client = aep_client(spec.get("sandbox"))
    try:
        flow_spec = read_flow_spec(client, resolved.get("flowSpecId"), str(resolved.get("flowSpecName")))
        check_draft_mode(client, flow_spec, str(resolved.get("connectionSpecId")), name)
    except FlowSpecMismatch as exc:
        raise ChangeRefused(exc.message, code="DraftNotSupported", status=400, problems=exc.problems) from None


def publish(name: str) -> dict[str, Any]:
    """POST /dataflows/{name}/publish: publish the dataflow's draft flow in AEP, then disable it if its spec
    says `enabled: false` (a draft does not run, so it was not disabled when made); the record no longer
    says draft. 404 when there is no such dataflow, 409 (NotADraft) when it is not a draft."""
    if records.record(name) is None:
        raise DataflowNotFound(f"no provisioned dataflow named {name!r}", code="DataflowNotFound", status=404)
    refuse_while_provisioning(name)
    with claims.changing(name):  # one change of a name at a time; what it reads is read inside
        rec = records.record(name)
        if rec is None or not rec.flow_id:
            raise DataflowNotFound(f"no provisioned dataflow named {name!r}", code="DataflowNotFound", status=404)
        if rec.ids.get("draft") is not True:
            raise DataflowConflict(f"dataflow {name!r} is not a draft: it is published already (aepflow apply "
                                   "--draft makes a draft)", code="NotADraft", status=409)
        client = aep_client(rec.sandbox)
        try:
            flow = resources.get_flow_service(client, "flow", rec.flow_id)
        except AepNotFound:
            raise DataflowNotFound(f"the dataflow's flow {rec.flow_id} no longer exists in AEP", code="FlowNotFound",
                                   status=404) from None
        etag, state, published = flow.get("etag"), flow.get("state"), False
        if drafts.is_draft(flow):  # else published in AEP already (the UI, say): the record catches up
            etag = drafts.publish_flow(client, rec.flow_id, etag).get("etag") or etag
            state, published = "enabled", True
        if published and rec.spec.get("enabled") is False:
            answer = resources.flow_action(client, rec.flow_id, "DISABLE", etag)
            etag, state = answer.get("etag") or etag, "disabled"
        ids = {k: v for k, v in rec.ids.items() if k != "draft"}
        ids["flowEtag"] = etag
        records.save(rec, rec.spec, ids, etags={**rec.etags, "flow": etag}, credentials=rec.credentials or None)
    return {"name": name, "flowId": rec.flow_id, "published": published, "state": state, "etag": etag}
