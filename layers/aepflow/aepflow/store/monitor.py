"""Every DynamoDB read and write of the monitor (table DATAFLOWS_TABLE, keys pk/sk):

  pk="MONITOR#SHARD#<sandbox>", sk="<shards>#<n>"   one shard's state, zlib JSON in `state` (what it
                                                     holds is monitor/state.py's; monitor/shards.py
                                                     decodes it), written with optimistic versioning
  pk="MONITOR", sk="REGISTRY"                        when the registry was last synced from the dataflow
                                                     records, the sandboxes, flows per sandbox, and each
                                                     sandbox's watermark (`wm:<sandbox>`, ms: every run
                                                     started at or before it was handled; only moves forward)
  pk="DATAFLOW#<name>", sk="RECORD"                  read only: the records of the flows a check needs,
                                                     by key, and (registry sync) one segment of the
                                                     Dataflows index at a time

The alert claims (ALERT#..., MONITOR#PENDING) are store/alerts.py's."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from boto3.dynamodb.types import Binary

from aepflow.store import keys
from aepflow.store import table as table_mod

REGISTRY_KEY = table_mod.typed(keys.REGISTRY)
WM_PREFIX = "wm:"
RECORD_ATTRIBUTES = ("pk", "name", "status", "flowId", "ids", "spec", "connector", "updatedAt")
SYNC_ATTRIBUTES = ("name", "status", "flowId", "ids", "spec", "updatedAt")  # what a registry entry needs
BATCH_GET_MAX = 100
# Bounds: attempts at a contended shard write, rounds of UnprocessedKeys.
SAVE_ATTEMPTS = 50
BATCH_ROUNDS = 8

_plain = table_mod.plain


def _ddb() -> Any:
    return table_mod.client()


def shard_key(sandbox: str, shards: int, number: int) -> dict[str, Any]:
    return table_mod.typed(keys.shard(sandbox, shards, number))


@dataclass
class StoredShard:
    """A shard as read: its version (0 when it does not exist yet) and its encoded state."""
    version: int
    blob: bytes | None


def _stored(item: dict[str, Any] | None) -> StoredShard:
    if not item:
        return StoredShard(0, None)
    blob = item["state"]["B"]
    # boto3-stubs' Binary lacks the `value` attribute boto3's Binary.__init__ sets (boto3/dynamodb/types.py).
    return StoredShard(int(item["version"]["N"]),
                       bytes(blob.value if isinstance(blob, Binary) else blob))  # type: ignore[attr-defined]


def _batch_get(table: str, keys: list[dict[str, Any]], *, consistent: bool,
               projection: tuple[str, ...] | None = None) -> list[dict[str, Any]]:
    """BatchGetItem in chunks of 100, following UnprocessedKeys a bounded number of rounds."""
    ddb = _ddb()
    found: list[dict[str, Any]] = []
    for i in range(0, len(keys), BATCH_GET_MAX):
        request: dict[str, Any] = {"Keys": keys[i:i + BATCH_GET_MAX], "ConsistentRead": consistent}
        if projection:
            request["ProjectionExpression"] = ", ".join(f"#a{j}" for j in range(len(projection)))
            request["ExpressionAttributeNames"] = {f"#a{j}": name for j, name in enumerate(projection)}
        pending: dict[str, Any] | None = {table: request}
        for attempt in range(BATCH_ROUNDS):
            answer = ddb.batch_get_item(RequestItems=pending)
            found.extend(answer.get("Responses", {}).get(table, []))
            pending = answer.get("UnprocessedKeys") or None
            if not pending:
                break
            time.sleep(random.uniform(0, min(1.0, 0.05 * 2 ** attempt)))
        if pending:
            raise RuntimeError(f"{table}: keys still unprocessed after {BATCH_ROUNDS} BatchGetItem rounds")
    return found


def load_shards(table: str, sandbox: str, shards: int, numbers: Iterable[int]) -> dict[int, StoredShard]:
    numbers = list(numbers)
    items = _batch_get(table, [shard_key(sandbox, shards, n) for n in numbers], consistent=True)
    by_sk = {item["sk"]["S"]: item for item in items}
    return {n: _stored(by_sk.get(shard_key(sandbox, shards, n)["sk"]["S"])) for n in numbers}


def save_shard(table: str, sandbox: str, shards: int, number: int, known: StoredShard | None,
               merge: Callable[[StoredShard], tuple[bytes, int]]) -> None:
    """Write what `merge` makes of the stored shard (its new encoded state and how many flows it
    holds), reading and merging again when another writer got there first."""
    ddb = _ddb()
    key = shard_key(sandbox, shards, number)
    for _ in range(SAVE_ATTEMPTS):
        if known is None:
            known = _stored(ddb.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item"))
        blob, flows = merge(known)
        try:
            ddb.put_item(TableName=table, Item={**key, "version": {"N": str(known.version + 1)},
                                                "state": {"B": blob}, "flows": {"N": str(flows)},
                                                "updatedAt": {"N": str(int(time.time() * 1000))}},
                         ConditionExpression="attribute_not_exists(pk) OR version = :v",
                         ExpressionAttributeValues={":v": {"N": str(known.version)}})
            return
        except ddb.exceptions.ConditionalCheckFailedException:
            known = None  # another writer: read again and merge again
            time.sleep(random.uniform(0, 0.02))
    raise RuntimeError(f"monitor shard {sandbox}/{number}: too many concurrent writers")


def read_records(table: str, names: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The dataflow records named, by name (absent when there is none), read consistently:
    a missing record is what makes a check stop watching a flow."""
    wanted = [table_mod.typed(keys.dataflow(n, keys.RECORD)) for n in sorted(set(names))]
    items = _batch_get(table, wanted, consistent=True, projection=RECORD_ATTRIBUTES)
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        plain = _plain(item)
        name = plain.get("name") or str(plain.get("pk", "")).removeprefix("DATAFLOW#")
        out[name] = plain
    return out


def read_record(table: str, name: str) -> dict[str, Any] | None:
    return read_records(table, [name]).get(name)


def record_pages(table: str, segment: int, segments: int) -> Iterator[list[dict[str, Any]]]:
    """One segment of a parallel Scan of the Dataflows index (dataflow records only), page by page."""
    ddb = _ddb()
    request: dict[str, Any] = {
        "TableName": table, "IndexName": keys.DATAFLOWS_INDEX, "Segment": segment, "TotalSegments": segments,
        "ProjectionExpression": ", ".join(f"#a{j}" for j in range(len(SYNC_ATTRIBUTES))),
        "ExpressionAttributeNames": {f"#a{j}": name for j, name in enumerate(SYNC_ATTRIBUTES)}}
    for _ in range(1_000_000):  # a bound far above any index (1 MB pages)
        page = ddb.scan(**request)
        yield [_plain(item) for item in page.get("Items", [])]
        if "LastEvaluatedKey" not in page:
            return
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    raise RuntimeError("Dataflows index: too many pages")


# ------------------------------------------------------------------ the registry's summary
@dataclass
class Registry:
    synced_at: int | None
    shards: int | None  # MONITOR_SHARDS of the last sync
    sandboxes: set[str]
    counts: dict[str, int]
    watermarks: dict[str, int]


def read_registry(table: str) -> Registry:
    item = _ddb().get_item(TableName=table, Key=REGISTRY_KEY, ConsistentRead=True).get("Item")
    plain = _plain(item) if item else {}
    synced = plain.get("syncedAt")
    return Registry(synced_at=int(synced) if synced is not None else None,
                    shards=int(plain["shards"]) if plain.get("shards") is not None else None,
                    sandboxes={str(s) for s in plain.get("sandboxes") or ()},
                    counts={str(k): int(v) for k, v in json.loads(plain.get("counts") or "{}").items()},
                    watermarks={k[len(WM_PREFIX):]: int(v) for k, v in plain.items() if k.startswith(WM_PREFIX)})


def table_items(table: str) -> int:
    """DynamoDB's item count of the whole table (refreshed about every six hours): an upper
    bound of the dataflow records, to size a first registry sync."""
    return int(_ddb().describe_table(TableName=table)["Table"].get("ItemCount") or 0)


def record_sync(table: str, synced_at: int, shards: int, counts: dict[str, int]) -> None:
    """After a full sync: when, into how many shards, and how many flows each sandbox has
    (sandboxes are only added)."""
    values: dict[str, Any] = {":t": {"N": str(synced_at)}, ":c": {"S": json.dumps(counts, sort_keys=True)},
                              ":k": {"N": str(shards)}}
    expression = "SET syncedAt = :t, counts = :c, shards = :k"
    if counts:
        expression += " ADD sandboxes :s"
        values[":s"] = {"SS": sorted(counts)}
    _ddb().update_item(TableName=table, Key=REGISTRY_KEY, UpdateExpression=expression,
                               ExpressionAttributeValues=values)


def record_counts(table: str, counts: dict[str, int]) -> None:
    """Flows per sandbox as the last poll found them (what the next poll splits its work by)."""
    if not counts:
        return
    _ddb().update_item(TableName=table, Key=REGISTRY_KEY, UpdateExpression="SET counts = :c",
                               ExpressionAttributeValues={":c": {"S": json.dumps(counts, sort_keys=True)}})


def add_sandbox(table: str, sandbox: str) -> None:
    _ddb().update_item(TableName=table, Key=REGISTRY_KEY, UpdateExpression="ADD sandboxes :s",
                               ExpressionAttributeValues={":s": {"SS": [sandbox]}})


def advance_watermark(table: str, sandbox: str, value: int) -> bool:
    """Move a sandbox's watermark forward (never back: overlapping polls). True when it moved."""
    ddb = _ddb()
    try:
        ddb.update_item(TableName=table, Key=REGISTRY_KEY, UpdateExpression="SET #w = :w",
                        ConditionExpression="attribute_not_exists(#w) OR #w < :w",
                        ExpressionAttributeNames={"#w": WM_PREFIX + sandbox},
                        ExpressionAttributeValues={":w": {"N": str(value)}})
        return True
    except ddb.exceptions.ConditionalCheckFailedException:
        return False  # another poll already moved it further
