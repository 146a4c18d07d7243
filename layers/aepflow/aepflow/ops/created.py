"""What aepflow created for a dataflow (and may therefore delete or replace): from the roll-back journals of
the executions that provisioned it, never what the spec only referenced."""

from __future__ import annotations

from aepflow.store import claims, journal, records


def created_by_aepflow(rec: records.Record, spec) -> dict[str, str]:
    """kind -> id of what aepflow created for this dataflow, from the roll-back journals of the
    executions that provisioned it; never what the spec only referenced."""
    claim = claims.claim_item(rec.name) or {}
    executions = list(claim.get("executions") or [])
    if rec.item.get("executionId") and rec.item["executionId"] not in executions:
        executions.append(rec.item["executionId"])
    created: dict[str, str] = {}
    for execution in executions:
        for entry in journal.Journal(execution, "").entries_newest_first():
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
