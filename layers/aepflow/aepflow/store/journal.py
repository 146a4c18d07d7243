"""What an execution created, kept in DynamoDB so a roll-back can undo it newest first
even when the failing branch of a Parallel state took the other branches' results
with it. An entry is written before the POST (the intent, with the deterministic name)
and completed with the id after it, so a create whose answer was lost is still found.

The entries go through the process's one low-level DynamoDB client (aws.dynamodb): a boto3
resource is not safe to share between threads, and making one costs more than the write.

`DATAFLOW#<name>` / `FIRST-PROVISIONING` is the dataflow's record of the execution that first
provisioned it, which the state machine writes on condition that no other execution did
(provision_dataflow.asl.json, "Is this the dataflow's first provisioning?"). Only then may an
execution skip asking AEP what exists: every other one may find what an earlier one created."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from collections.abc import Iterator
from typing import Any

from boto3.dynamodb.conditions import Key
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from aepflow.core import aws

# The sparse index of dataflow records (template.yaml: DataflowsTable, index Dataflows).
DATAFLOWS_INDEX = "Dataflows"
LIST_KEY = "listKey"
DATAFLOW_LIST = "DATAFLOW"

KINDS = ("baseConnection", "sourceConnection", "schema", "dataset", "targetConnection", "mappingSet", "flow")
FIRST_PROVISIONING = "FIRST-PROVISIONING"
_serialize, _deserialize = TypeSerializer().serialize, TypeDeserializer().deserialize


def table():
    return aws.table()


def _item(values: dict[str, Any]) -> dict[str, Any]:
    return {k: _serialize(v) for k, v in values.items()}


def _put(values: dict[str, Any]) -> None:
    aws.dynamodb().put_item(TableName=aws.settings().table_name, Item=_item(values))


def _set_state(execution: str, sort_key: str, state: str, resource_id: str | None = None) -> None:
    update, values = "SET #s = :s", {":s": state}
    if resource_id is not None:
        update, values = update + ", resourceId = :id", {**values, ":id": resource_id}
    aws.dynamodb().update_item(TableName=aws.settings().table_name,
                                   Key=_item({"pk": execution_key(execution), "sk": sort_key}),
                                   UpdateExpression=update, ExpressionAttributeNames={"#s": "state"},
                                   ExpressionAttributeValues=_item(values))


def _query(execution: str, prefix: str, newest_first: bool = False) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    query: dict[str, Any] = {"TableName": aws.settings().table_name,
                             "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
                             "ExpressionAttributeValues": _item({":pk": execution_key(execution), ":prefix": prefix}),
                             "ScanIndexForward": not newest_first}
    while True:
        page = aws.dynamodb().query(**query)
        items.extend({k: _deserialize(v) for k, v in item.items()} for item in page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            return items
        query["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def execution_key(execution: str) -> str:
    return f"EXECUTION#{execution}"


def dataflow_key(name: str) -> str:
    return f"DATAFLOW#{name}"


@dataclass
class Journal:
    execution: str
    sandbox: str

    def intend(self, kind: str, name: str) -> str:
        sort_key = f"RESOURCE#{time.time_ns():020d}#{kind}"
        _put({"pk": execution_key(self.execution), "sk": sort_key, "kind": kind, "name": name,
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
            _put({"pk": execution_key(self.execution), "sk": f"WARNING#{time.time_ns():020d}", "step": step,
                  "warnings": json.dumps(kept)})

    def mark(self, sort_key: str, state: str) -> None:
        _set_state(self.execution, sort_key, state)

    def rolling_back(self) -> bool:
        return rolling_back(self.execution)


def dataflow_record(name: str, **attributes: Any) -> dict[str, Any]:
    """A dataflow record's keys (the table's and the index's) with its attributes."""
    return {"pk": dataflow_key(name), "sk": "RECORD", LIST_KEY: DATAFLOW_LIST, "name": name, **attributes}


def dataflow_record_pages(table_resource, *, start_after: str | None = None,
                          page_size: int | None = None) -> Iterator[list[dict[str, Any]]]:
    """Pages of dataflow records in name order, from the index (no scan of the whole table)."""
    query: dict[str, Any] = {"IndexName": DATAFLOWS_INDEX, "KeyConditionExpression": Key(LIST_KEY).eq(DATAFLOW_LIST)}
    if page_size:
        query["Limit"] = page_size
    if start_after:
        query["ExclusiveStartKey"] = {LIST_KEY: DATAFLOW_LIST, "pk": dataflow_key(start_after), "sk": "RECORD"}
    while True:
        page = table_resource.query(**query)
        yield page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return
        query["ExclusiveStartKey"] = page["LastEvaluatedKey"]


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
# undoes what it made (step_context.Context.ensure), so nothing it made outlives the roll-back.
ROLLING_BACK = "ROLLING-BACK"


def begin_roll_back(execution: str) -> None:
    _put({"pk": execution_key(execution), "sk": ROLLING_BACK, "at": time.time_ns()})


def rolling_back(execution: str) -> bool:
    item = aws.dynamodb().get_item(TableName=aws.settings().table_name, ConsistentRead=True,
                                       Key=_item({"pk": execution_key(execution), "sk": ROLLING_BACK})).get("Item")
    return item is not None


# Why a mapping set outlives a roll-back (the roll-back's, a late create's and a delete's word for it).
MAPPING_SET_KEPT = "Data Prep offers no way to delete a mapping set"


def put_outcome(execution: str, outcome: dict[str, Any]) -> None:
    _put({"pk": execution_key(execution), "sk": "OUTCOME", **outcome})


def _outcome_item(execution: str) -> dict[str, Any] | None:
    return aws.dynamodb().get_item(TableName=aws.settings().table_name,
                                       Key=_item({"pk": execution_key(execution), "sk": "OUTCOME"})).get("Item")


def has_outcome(execution: str) -> bool:
    """Whether the execution's roll-back (or its invalid spec's) has written an outcome: it has ended."""
    return _outcome_item(execution) is not None


def get_outcome(execution: str) -> dict[str, Any] | None:
    """The outcome the roll-back wrote, with what creates that ended after it undid (see
    ROLLING_BACK): their journal entries say so, the roll-back's lists (written when it ended) do not."""
    item = _outcome_item(execution)
    if not item:
        return None
    outcome = {k: _deserialize(v) for k, v in item.items()}
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
