"""What an execution created, kept in DynamoDB so a roll-back can undo it newest first
even when the failing branch of a Parallel state took the other branches' results
with it. An entry is written before the POST (the intent, with the deterministic name)
and completed with the id after it, so a create whose answer was lost is still found."""

from __future__ import annotations

import time
from dataclasses import dataclass
from collections.abc import Iterator
from typing import Any

import boto3
from boto3.dynamodb.conditions import Key

from . import runtime

# The sparse index of dataflow records (template.yaml: DataflowsTable, index Dataflows).
DATAFLOWS_INDEX = "Dataflows"
LIST_KEY = "listKey"
DATAFLOW_LIST = "DATAFLOW"

KINDS = ("baseConnection", "sourceConnection", "schema", "dataset", "targetConnection", "mappingSet", "flow")


def table():
    return runtime.table()


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
        table().put_item(Item={"pk": execution_key(self.execution), "sk": sort_key, "kind": kind, "name": name,
                               "sandbox": self.sandbox, "state": "intended"})
        return sort_key

    def created(self, sort_key: str, resource_id: str) -> None:
        table().update_item(Key={"pk": execution_key(self.execution), "sk": sort_key},
                            UpdateExpression="SET #s = :s, resourceId = :id",
                            ExpressionAttributeNames={"#s": "state"},
                            ExpressionAttributeValues={":s": "created", ":id": resource_id})

    def entries_newest_first(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        query: dict[str, Any] = {"KeyConditionExpression": Key("pk").eq(execution_key(self.execution))
                                 & Key("sk").begins_with("RESOURCE#"), "ScanIndexForward": False}
        while True:
            page = table().query(**query)
            items.extend(page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return items
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def warn(self, step: str, warnings: list[dict[str, str]]) -> None:
        """Keep what a step found worth saying but not failing for (a deprecated connector, a
        mapped attribute a REST preview did not show): the result lists them."""
        for warning in warnings:
            table().put_item(Item={"pk": execution_key(self.execution), "sk": f"WARNING#{time.time_ns():020d}",
                                   "step": step, "path": str(warning.get("path", "")),
                                   "message": str(warning.get("message", ""))[:1000]})

    def mark(self, sort_key: str, state: str) -> None:
        table().update_item(Key={"pk": execution_key(self.execution), "sk": sort_key},
                            UpdateExpression="SET #s = :s", ExpressionAttributeNames={"#s": "state"},
                            ExpressionAttributeValues={":s": state})


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
    items: list[dict[str, Any]] = []
    query: dict[str, Any] = {"KeyConditionExpression": Key("pk").eq(execution_key(execution))
                             & Key("sk").begins_with("WARNING#")}
    while True:
        page = table().query(**query)
        items.extend(page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            break
        query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    seen: set[tuple[str, str]] = set()
    out = []
    for item in items:
        key = (item.get("path", ""), item.get("message", ""))
        if key not in seen:
            seen.add(key)
            out.append({"path": key[0], "message": key[1], "step": item.get("step", "")})
    return out


def put_outcome(execution: str, outcome: dict[str, Any]) -> None:
    table().put_item(Item={"pk": execution_key(execution), "sk": "OUTCOME", **outcome})


def get_outcome(execution: str) -> dict[str, Any] | None:
    return table().get_item(Key={"pk": execution_key(execution), "sk": "OUTCOME"}).get("Item")
