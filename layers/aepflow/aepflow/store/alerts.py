"""The alerts' claims (monitor/alerts.py says how they make an alert go out exactly once):

  pk="ALERT#<flowId>#<runId|due-<ms>>#<kind>", sk="ALERT"   the claim: state pending|sent, the whole
                                                            publish request, leaseUntil (ms), attempts
  pk="MONITOR#PENDING", sk=<alert pk>                       a marker: an alert whose publish is not
                                                            known to have happened, for the sweep

Through the process's low-level DynamoDB client (thread-safe); `table` is the table's name."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from aepflow.store import keys
from aepflow.store import table as table_mod

BATCH_GET_MAX, BATCH_ROUNDS = 100, 8


def _ddb() -> Any:
    return table_mod.client()


def _alert_key(key: str) -> dict[str, Any]:
    return table_mod.typed(keys.alert(key))


def claim(table: str, key: str, attributes: dict[str, Any]) -> bool:
    """Put the alert's claim unless one exists: True for the one caller that made it."""
    item = table_mod.typed({**keys.alert(key), **attributes})
    return table_mod.write_if(lambda: _ddb().put_item(TableName=table, Item=item,
                                                      ConditionExpression="attribute_not_exists(pk)"))


def read(table: str, key: str) -> dict[str, Any] | None:
    item = _ddb().get_item(TableName=table, Key=_alert_key(key), ConsistentRead=True).get("Item")
    return table_mod.plain(item) if item else None


def claimed(table: str, alert_keys: list[str]) -> dict[str, dict[str, Any]]:
    """The claims that exist among `alert_keys` (pk, state, leaseUntil), 100 keys per BatchGetItem. A
    chunk whose keys stay unprocessed after a bounded number of rounds is left out (unknown)."""
    found: dict[str, dict[str, Any]] = {}
    for i in range(0, len(alert_keys), BATCH_GET_MAX):
        chunk = alert_keys[i:i + BATCH_GET_MAX]
        pending: dict[str, Any] | None = {table: {
            "Keys": [_alert_key(key) for key in chunk], "ConsistentRead": True,
            "ProjectionExpression": "pk, #s, leaseUntil", "ExpressionAttributeNames": {"#s": "state"}}}
        for attempt in range(BATCH_ROUNDS):
            answer = _ddb().batch_get_item(RequestItems=pending)
            for raw in answer.get("Responses", {}).get(table, []):
                item = table_mod.plain(raw)
                found[item["pk"]] = item
            pending = answer.get("UnprocessedKeys") or None
            if not pending:
                break
            time.sleep(min(1.0, 0.05 * 2 ** attempt))
        if pending:
            for key in chunk:
                found.pop(key, None)
    return found


def put_marker(table: str, key: str, lease: int) -> None:
    _ddb().put_item(TableName=table, Item=table_mod.typed({**keys.pending(key), "leaseUntil": lease}))


def drop_marker(table: str, key: str) -> None:
    _ddb().delete_item(TableName=table, Key=table_mod.typed(keys.pending(key)))


def release(table: str, key: str) -> None:
    """The publish failed: the claim's lease ends now, so the next sweep publishes it again."""
    _ddb().update_item(TableName=table, Key=_alert_key(key), UpdateExpression="SET leaseUntil = :z",
                       ExpressionAttributeValues={":z": {"N": "0"}})


def mark_sent(table: str, key: str, message_id: str) -> None:
    """Published: the claim says so, then its marker goes."""
    _ddb().update_item(TableName=table, Key=_alert_key(key),
                       UpdateExpression="SET #s = :sent, sentAt = :t, messageId = :m",
                       ExpressionAttributeNames={"#s": "state"},
                       ExpressionAttributeValues=table_mod.typed({":sent": "sent", ":t": int(time.time() * 1000),
                                                                  ":m": message_id}))
    drop_marker(table, key)


def markers(table: str) -> Iterator[dict[str, Any]]:
    """Every pending-alert marker, page by page (a bounded number of pages)."""
    request: dict[str, Any] = {"TableName": table, "KeyConditionExpression": "pk = :p",
                               "ExpressionAttributeValues": {":p": {"S": keys.PENDING_PK}}, "ConsistentRead": True}
    for _ in range(100_000):
        page = _ddb().query(**request)
        for raw in page.get("Items", []):
            yield table_mod.plain(raw)
        if "LastEvaluatedKey" not in page:
            return
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    raise RuntimeError("pending alerts: too many pages")


def take_over(table: str, key: str, lease: int, now: int) -> dict[str, Any] | None:
    """Take a pending claim whose lease has run out (the new lease, one more attempt): the claim as it
    now is, or None when it is not pending or its lease still runs."""
    try:
        got = _ddb().update_item(
            TableName=table, Key=_alert_key(key), UpdateExpression="SET leaseUntil = :new, attempts = attempts + :one",
            ConditionExpression="#s = :pending AND leaseUntil < :now", ExpressionAttributeNames={"#s": "state"},
            ExpressionAttributeValues=table_mod.typed({":new": lease, ":one": 1, ":pending": "pending", ":now": now}),
            ReturnValues="ALL_NEW")
    except Exception as exc:
        if table_mod.conditional_failed(exc):
            return None
        raise
    return table_mod.plain(got["Attributes"])
