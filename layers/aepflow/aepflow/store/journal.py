"""What an execution created, kept in DynamoDB so a roll-back can undo it newest first
even when the failing branch of a Parallel state took the other branches' results
with it. An entry is written before the POST (the intent, with the deterministic name)
and completed with the id after it, so a create whose answer was lost is still found.

The entries go through the process's one low-level DynamoDB client (table.client): a boto3
resource is not safe to share between threads, and making one costs more than the write.

`DATAFLOW#<name>` / `FIRST-PROVISIONING` is the dataflow's record of the execution that first
provisioned it, which the state machine writes on condition that no other execution did
(provision_dataflow.asl.json, "Is this the dataflow's first provisioning?"). Only then may an
execution skip asking AEP what exists: every other one may find what an earlier one created."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from aepflow.store import keys, table

KINDS = ("baseConnection", "sourceConnection", "schema", "dataset", "targetConnection", "mappingSet", "flow")


def _key(execution: str, sort_key: str) -> dict[str, Any]:
    return table.typed({"pk": keys.execution_pk(execution), "sk": sort_key})


def _put(values: dict[str, Any]) -> None:
    table.client().put_item(TableName=table.name(), Item=table.typed(values))


def _get(execution: str, sort_key: str, *, consistent: bool = False) -> dict[str, Any] | None:
    item = table.client().get_item(TableName=table.name(), Key=_key(execution, sort_key),
                                   ConsistentRead=consistent).get("Item")
    return table.plain(item) if item else None


def _set_state(execution: str, sort_key: str, state: str, resource_id: str | None = None) -> None:
    update, values = "SET #s = :s", {":s": state}
    if resource_id is not None:
        update, values = update + ", resourceId = :id", {**values, ":id": resource_id}
    table.client().update_item(TableName=table.name(), Key=_key(execution, sort_key), UpdateExpression=update,
                               ExpressionAttributeNames={"#s": "state"}, ExpressionAttributeValues=table.typed(values))


def _query(execution: str, prefix: str, newest_first: bool = False) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    query: dict[str, Any] = {"TableName": table.name(),
                             "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
                             "ExpressionAttributeValues": table.typed({":pk": keys.execution_pk(execution),
                                                                       ":prefix": prefix}),
                             "ScanIndexForward": not newest_first}
    while True:
        page = table.client().query(**query)
        items.extend(table.plain(item) for item in page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            return items
        query["ExclusiveStartKey"] = page["LastEvaluatedKey"]


@dataclass
class Journal:
    execution: str
    sandbox: str

    def intend(self, kind: str, name: str) -> str:
        sort_key = f"RESOURCE#{time.time_ns():020d}#{kind}"
        _put({"pk": keys.execution_pk(self.execution), "sk": sort_key, "kind": kind, "name": name,
              "sandbox": self.sandbox, "state": "intended"})
        return sort_key

    def created(self, sort_key: str, resource_id: str) -> None:
        _set_state(self.execution, sort_key, "created", resource_id)

    def entries_newest_first(self) -> list[dict[str, Any]]:
        return _query(self.execution, "RESOURCE#", newest_first=True)

    def warn(self, step: str, warnings: list[dict[str, str]]) -> None:
        """Keep what a step found worth saying but not failing for (a deprecated connector, a
        mapped attribute a REST preview did not show): the result lists them. One item per call, so a
        step that has many to say waits for one write (a DynamoDB item holds 400 KB: 200 of 1000
        characters each, more than any step has)."""
        kept = [{"path": str(w.get("path", "")), "message": str(w.get("message", ""))[:1000]} for w in warnings[:200]]
        if kept:
            _put({"pk": keys.execution_pk(self.execution), "sk": f"WARNING#{time.time_ns():020d}", "step": step,
                  "warnings": json.dumps(kept)})

    def mark(self, sort_key: str, state: str) -> None:
        _set_state(self.execution, sort_key, state)

    def rolling_back(self) -> bool:
        return rolling_back(self.execution)


def warnings(execution: str) -> list[dict[str, str]]:
    """Every warning an execution's steps kept, oldest first, each once."""
    items = _query(execution, "WARNING#")
    seen: set[tuple[str, str]] = set()
    out = []
    for item in items:
        kept = json.loads(item["warnings"]) if "warnings" in item else [item]  # (one per item, before)
        for warning in kept:
            key = (warning.get("path", ""), warning.get("message", ""))
            if key not in seen:
                seen.add(key)
                out.append({"path": key[0], "message": key[1], "step": item.get("step", "")})
    return out


# Written by the roll-back before it reads the journal. A create step that is still running when a
# sibling branch fails (Step Functions stops the branches, not a Lambda already invoked) finishes
# its create after the roll-back may have read the journal; it reads this item after its create and
# undoes what it made (steps/context.Context.ensure), so nothing it made outlives the roll-back.
ROLLING_BACK = "ROLLING-BACK"


def begin_roll_back(execution: str) -> None:
    _put({"pk": keys.execution_pk(execution), "sk": ROLLING_BACK, "at": time.time_ns()})


def rolling_back(execution: str) -> bool:
    return _get(execution, ROLLING_BACK, consistent=True) is not None


# Why a mapping set outlives a roll-back (the roll-back's, a late create's and a delete's word for it).
MAPPING_SET_KEPT = "Data Prep offers no way to delete a mapping set"


def put_outcome(execution: str, outcome: dict[str, Any]) -> None:
    _put({"pk": keys.execution_pk(execution), "sk": "OUTCOME", **outcome})


def has_outcome(execution: str) -> bool:
    """Whether the execution's roll-back (or its invalid spec's) has written an outcome: it has ended."""
    return _get(execution, "OUTCOME") is not None


def get_outcome(execution: str) -> dict[str, Any] | None:
    """The outcome the roll-back wrote, with what creates that ended after it undid (see
    ROLLING_BACK): their journal entries say so, the roll-back's lists (written when it ended) do not."""
    outcome = _get(execution, "OUTCOME")
    if not outcome:
        return None
    if outcome.get("status") != "FAILED":
        return outcome
    rolled_back = json.loads(outcome.get("rolledBack") or "[]")
    left_behind = json.loads(outcome.get("leftBehind") or "[]")
    listed = {(r.get("kind"), r.get("id")) for r in rolled_back + left_behind}
    for entry in _query(execution, "RESOURCE#"):
        key = (entry.get("kind"), entry.get("resourceId"))
        if not key[1] or key in listed:
            continue
        if entry.get("state") == "deleted":
            rolled_back.append({"kind": key[0], "id": key[1]})
        elif entry.get("state") == "left-behind":
            left_behind.append({"kind": key[0], "id": key[1], "reason": MAPPING_SET_KEPT})
    outcome["rolledBack"], outcome["leftBehind"] = json.dumps(rolled_back), json.dumps(left_behind)
    return outcome


# --- What an execution's apply step did ----------------------------------------------------------

def put_applied(execution: str, summary: dict[str, Any]) -> None:
    """The plan an execution applied (in place, or what it deleted to replace), kept under the
    execution's key, so its result says it whichever path the execution took after."""
    _put({"pk": keys.execution_pk(execution), "sk": "APPLIED", "summary": json.dumps(summary, sort_keys=True,
                                                                                   default=str)})


def applied(execution: str) -> dict[str, Any] | None:
    item = _get(execution, "APPLIED")
    return table.json_object(item, "summary") if item else None
