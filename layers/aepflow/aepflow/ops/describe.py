"""A dataflow as the doors show it: its record, its provisioning's status and steps, the flow's live
state from AEP and the last drift; and the list of dataflows, a page at a time."""

from __future__ import annotations

from typing import Any

from aepflow.aep import live as live_mod
from aepflow.aep.client import aep_client
from aepflow.core.errors import DataflowNotFound
from aepflow.ops.executions import describe_execution, execution_steps, outcome_errors, status_of, what_happened
from aepflow.store import claims, records


def _live_flow(client, flow_id: str | None) -> dict[str, Any] | None:
    if not flow_id:
        return None
    flow = live_mod.get_one(client, "flow", flow_id)
    if flow is None:
        return {"id": flow_id, "state": "missing"}
    return {"id": flow["id"], "state": flow.get("state"), "etag": flow.get("etag"),
            "scheduleParams": flow.get("scheduleParams"), "description": flow.get("description"),
            "transformations": flow.get("transformations"), "lastOperation": flow.get("lastOperation"),
            "updatedAt": flow.get("updatedAt"), "updatedBy": flow.get("updatedBy")}


def describe(name: str, *, live: bool = True) -> dict[str, Any]:
    rec = records.record(name)
    claim = claims.claim(name)
    if rec is None and claim is None:
        raise DataflowNotFound(f"no dataflow named {name!r}", code="DataflowNotFound", status=404)
    view: dict[str, Any] = {"name": name, "status": "PROVISIONING", "executionArn": None, "errors": [],
                            "spec": None, "ids": {}, "updatedAt": None, "flow": None, "drift": None}
    if claim and claim.get("executionArn"):
        view["executionArn"] = claim.get("executionArn")
        described = describe_execution(claim.get("executionArn"))
        view["status"] = status_of((described or {}).get("status"))
        view["steps"] = execution_steps(claim.get("executionArn"))
        if view["status"] == "FAILED":
            view["errors"] = outcome_errors(claim["executionArn"])
        # What the last provisioning did: its action and changes, or what its roll-back undid.
        view.update(what_happened(claim["executionArn"], view["status"]))
    elif claim:  # an adopted dataflow: never provisioned by aepflow
        view["status"] = "ACTIVE" if rec else "PROVISIONING"
    if rec:
        view.update(spec=rec.spec, ids=rec.ids, updatedAt=rec.item.get("updatedAt"),
                    connector=rec.item.get("connector"), drift=rec.drift)
        view["executionArn"] = view["executionArn"] or rec.item.get("executionId")
        # A running re-provisioning (a new spec version) keeps the dataflow ACTIVE meanwhile.
        if view["status"] == "FAILED" and claim and claim.get("executionArn") != rec.item.get("executionId"):
            view["status"] = "ACTIVE"
        elif view["status"] != "FAILED":
            view["status"] = "ACTIVE" if not claim or view["status"] == "ACTIVE" else view["status"]
        if live:
            view["flow"] = _live_flow(aep_client(rec.sandbox), rec.ids.get("flowId"))
    return view


def list_dataflows(limit: int = 50, cursor: str | None = None) -> dict[str, Any]:
    """One page of records in name order (no live AEP state; GET /dataflows/{name} has it).
    `cursor` is the last name of the previous page. One item more than the page tells
    whether another page follows."""
    items: list[dict[str, Any]] = []
    for page in records.pages(start_after=cursor, page_size=limit + 1):
        items.extend(page)
        if len(items) > limit:
            break
    more, items = len(items) > limit, items[:limit]
    return {"items": [{"name": i["name"], "status": i.get("status"), "connector": i.get("connector"),
                       "flowId": i.get("flowId"), "updatedAt": i.get("updatedAt")} for i in items],
            "next": items[-1]["name"] if more else None}
