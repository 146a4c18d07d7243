"""One result object per provisioned spec: what `python -m local provision` prints."""

from __future__ import annotations

import json
from typing import Any

ID_FIELDS = ("baseConnectionId", "sourceConnectionId", "schemaId", "datasetId", "targetConnectionId",
             "mappingId", "flowSpecId", "flowId")


def result_of(stack: Any, spec: Any, execution_arn: str, described: dict[str, Any]) -> dict[str, Any]:
    from aepflow.ops.executions import what_happened
    from aepflow.store import journal

    name = spec.get("name") if isinstance(spec, dict) else None
    result: dict[str, Any] = {"name": name, "status": None, "errors": [], **{k: None for k in ID_FIELDS},
                              "etag": None, "executionArn": execution_arn}
    # What the steps found worth saying without failing (a deprecated connector, a mapped
    # attribute a REST preview did not show), kept in the execution's journal.
    result["warnings"] = journal.warnings(execution_arn)
    if described["status"] == "SUCCEEDED":
        output = json.loads(described["output"])
        ids = output.get("ids") or {}
        result.update({k: ids.get(k) for k in ID_FIELDS})
        result.update(name=output.get("name", name), status="ACTIVE", etag=ids.get("flowEtag"))
        # What the provisioning did: created the dataflow, or applied a new spec's plan to it
        # (update in place, replace, or nothing to do), as the API's GET /dataflows/{name} says it.
        result.update(what_happened(execution_arn, "ACTIVE"))
        if ids.get("mappingVersion") is not None:
            result["mappingVersion"] = ids["mappingVersion"]
        return result
    outcome = journal.get_outcome(execution_arn) or {}
    errors = json.loads(outcome.get("errors") or "[]")
    result["status"] = outcome.get("status") or "FAILED"
    if result["status"] == "INVALID":
        result["errors"] = [p for e in errors
                            for p in (e.get("problems") or [{"path": "(spec)", "message": e.get("message")}])]
    else:
        result["errors"] = [{k: e[k] for k in ("code", "message", "step", "type", "status", "requestId", "problems")
                             if k in e}
                            for e in errors] or [{"message": described.get("error") or described["status"]}]
        result.update(what_happened(execution_arn, "FAILED"))
    return result


def longest_sequential_chain(records: list[dict[str, Any]]) -> int:
    """The longest run of requests each starting after the previous one ended."""
    ordered = sorted(records, key=lambda r: r["endedAt"])
    best: list[int] = []
    for i, record in enumerate(ordered):
        before = [best[j] for j in range(i) if ordered[j]["endedAt"] <= record["startedAt"]]
        best.append(1 + max(before, default=0))
    return max(best, default=0)
