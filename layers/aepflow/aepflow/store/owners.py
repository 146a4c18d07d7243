"""Which dataflow owns a flow, `FLOW#<flowId>` / `DATAFLOW` (store/keys.py): one owner per flow. The
state machine writes it ("Claim the flow for the dataflow", before "Record the dataflow") and adopt
writes it (claim_flow), each on condition that no other dataflow holds it, keyed on the id AEP
answers for the flow."""

from __future__ import annotations

from aepflow.core.errors import DataflowConflict
from aepflow.store import keys, table


def flow_owner(flow_id: str) -> str | None:
    """The name of the dataflow that owns the flow, or None."""
    item = table.get(keys.flow(flow_id))
    return str(item["name"]) if item and item.get("name") else None


def already_managed(flow_id: str, owner: str | None) -> DataflowConflict:
    return DataflowConflict(f"flow {flow_id} is already managed as dataflow {owner!r}; a flow has one owner: "
                            f"change it through {owner!r}, or delete that dataflow first", code="AlreadyManaged",
                            status=409, problems=[{"path": "flowId", "message": f"managed as dataflow {owner!r}"}])


def claim_flow(flow_id: str, name: str) -> None:
    """The flow is the dataflow's from now on; AlreadyManaged when another dataflow holds it."""
    if not table.write_if(lambda: table.resource().put_item(
            Item={**keys.flow(flow_id), "name": name, "updatedAt": table.now_iso()},
            ConditionExpression="attribute_not_exists(pk)")):
        raise already_managed(flow_id, flow_owner(flow_id))


def release_flow(flow_id: str, name: str) -> None:
    """The flow is no longer the dataflow's (deleted, or replaced by a new one): forget its owner, on
    condition that it is still this dataflow."""
    table.write_if(lambda: table.resource().delete_item(
        Key=keys.flow(flow_id), ConditionExpression="attribute_not_exists(pk) OR #n = :n",
        ExpressionAttributeNames={"#n": "name"}, ExpressionAttributeValues={":n": name}))
