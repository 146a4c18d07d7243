"""The dataflow records: what aepflow keeps about each dataflow's applied state, `DATAFLOW#<name>` /
`RECORD` (store/keys.py).

The spec that was last applied, the AEP ids (`ids`, with the flow's etag and the mapping set version
the flow uses), the connections' etags (`etags`) and the credentials' Secrets Manager version
(`credentials`) when aepflow knows them. The state machine writes it ("Record the dataflow"); an
apply, an adopt and a credential rotation update it, each on condition that it is still the record
they read (no lost update). It also carries the last difference the drift check found between AEP
and it (`drift`, `driftFingerprint`), so that one change is alerted once."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from boto3.dynamodb.conditions import Key

from aepflow.core.errors import DataflowConflict
from aepflow.spec.digest import canonical, spec_hash
from aepflow.store import claims, keys, owners, table


@dataclass
class Record:
    """A dataflow's RECORD item, parsed."""

    name: str
    item: dict[str, Any]
    spec: dict[str, Any] = field(default_factory=dict)
    ids: dict[str, Any] = field(default_factory=dict)
    etags: dict[str, Any] = field(default_factory=dict)
    credentials: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, item: dict[str, Any]) -> Record:
        """The record, parsed. The state machine records `ids` as one JSON document, in which the
        apply step puts the etags and credentials version AEP has (an apply outside it, or a
        rotation, sets them as attributes of their own, which win)."""
        ids = table.json_object(item, "ids")
        in_ids_etags, in_ids_credentials = ids.get("etags"), ids.get("credentials")
        etags = table.json_object(item, "etags") or (in_ids_etags if isinstance(in_ids_etags, dict) else {})
        credentials = table.json_object(item, "credentials") or (
            in_ids_credentials if isinstance(in_ids_credentials, dict) else {})
        return cls(name=item.get("name") or str(item["pk"]).removeprefix("DATAFLOW#"), item=item,
                   spec=table.json_object(item, "spec"),
                   ids={k: v for k, v in ids.items() if k not in ("etags", "credentials", "applied")},
                   etags=etags, credentials=credentials)

    @property
    def flow_id(self) -> str | None:
        return self.item.get("flowId") or self.ids.get("flowId")

    @property
    def sandbox(self) -> str | None:
        return self.spec.get("sandbox")

    @property
    def drift(self) -> dict[str, Any] | None:
        return drift_of(self.item)


def record(name: str) -> Record | None:
    item = table.get(keys.dataflow(name, keys.RECORD))
    return Record.of(item) if item else None


def save(rec: Record, spec: dict[str, Any], ids: dict[str, Any], *, etags: dict[str, Any] | None = None,
         credentials: dict[str, Any] | None = None) -> None:
    """The record after an apply: conditional on it being the one `rec` read (no lost update)."""
    names = {"#spec": "spec", "#ids": "ids"}
    values: dict[str, Any] = {":spec": canonical(spec), ":ids": json.dumps(ids, sort_keys=True),
                              ":now": table.now_iso(), ":old_ids": rec.item.get("ids"),
                              ":etag": ids.get("flowEtag") or "", ":flow": ids.get("flowId") or rec.flow_id or ""}
    update = "SET #spec = :spec, #ids = :ids, updatedAt = :now, etag = :etag, flowId = :flow"
    if etags is not None:
        update += ", etags = :etags"
        values[":etags"] = json.dumps(etags, sort_keys=True)
    if credentials is not None:
        update += ", credentials = :cred"
        values[":cred"] = json.dumps(credentials, sort_keys=True)
    if not table.write_if(lambda: table.resource().update_item(
            Key=keys.dataflow(rec.name, keys.RECORD), UpdateExpression=update, ConditionExpression="#ids = :old_ids",
            ExpressionAttributeNames=names, ExpressionAttributeValues=values)):
        raise DataflowConflict(f"dataflow {rec.name!r} changed while it was being updated; read it and retry",
                               code="ConcurrentUpdate", status=409)


def create(name: str, spec: dict[str, Any], ids: dict[str, Any], *, connector: str, etags: dict[str, Any],
           origin: str) -> None:
    """A new record and claim for a dataflow aepflow did not provision (adopt). The flow must not be
    managed already, and the name must be free."""
    flow_id = ids["flowId"]
    owners.claim_flow(flow_id, name)
    current = claims.claim_item(name)
    item = keys.record_item(name, status="ACTIVE", connector=connector, flowId=flow_id,
                            ids=json.dumps(ids, sort_keys=True), spec=canonical(spec),
                            etags=json.dumps(etags, sort_keys=True), etag=ids.get("flowEtag") or "", origin=origin,
                            updatedAt=table.now_iso())
    try:
        claims.reserve(name, spec_hash(spec), current if current and current.get("status") == "DELETED" else None)
        made = table.write_if(lambda: table.resource().put_item(Item=item,
                                                                ConditionExpression="attribute_not_exists(pk)"))
    except DataflowConflict:
        made = False
    except BaseException:
        owners.release_flow(flow_id, name)
        raise
    if not made:
        owners.release_flow(flow_id, name)
        raise DataflowConflict(f"a dataflow named {name!r} exists already; adopt under another name",
                               code="DataflowExists", status=409) from None
    claims.adopted(name, origin)


def delete(name: str, rec: Record | None = None) -> None:
    table.resource().delete_item(Key=keys.dataflow(name, keys.RECORD))
    if rec is not None and rec.flow_id:
        owners.release_flow(rec.flow_id, name)


def pages(*, start_after: str | None = None, page_size: int | None = None,
          projection: tuple[str, ...] | None = None) -> Iterator[list[dict[str, Any]]]:
    """Pages of RECORD items in name order, from the Dataflows index (no scan of the whole table)."""
    query: dict[str, Any] = {"IndexName": keys.DATAFLOWS_INDEX,
                             "KeyConditionExpression": Key(keys.LIST_KEY).eq(keys.DATAFLOW_LIST)}
    if page_size:
        query["Limit"] = page_size
    if start_after:
        query["ExclusiveStartKey"] = {keys.LIST_KEY: keys.DATAFLOW_LIST, **keys.dataflow(start_after, keys.RECORD)}
    if projection:
        query["ProjectionExpression"] = ", ".join(f"#a{j}" for j in range(len(projection)))
        query["ExpressionAttributeNames"] = {f"#a{j}": name for j, name in enumerate(projection)}
    resource = table.resource()
    while True:
        page = resource.query(**query)
        yield page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return
        query["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def every(limit: int = 100_000) -> Iterator[Record]:
    """Every record, at most `limit` of them."""
    seen = 0
    for page in pages(page_size=500):
        for item in page:
            if seen >= limit:
                return
            seen += 1
            yield Record.of(item)


# --- Drift (kept on the RECORD item, so the drift check reads it with the records) -------------

def drift_of(item: dict[str, Any]) -> dict[str, Any] | None:
    if not item.get("driftFingerprint"):
        return None
    return table.json_object(item, "drift")


def claim_drift(name: str, fingerprint: str, drift: dict[str, Any]) -> bool:
    """Store the drift seen; True only for the one caller that stores a fingerprint not stored
    before (it sends the alert): one alert per change, however many checks overlap."""
    return table.write_if(lambda: table.resource().update_item(
        Key=keys.dataflow(name, keys.RECORD), UpdateExpression="SET driftFingerprint = :f, drift = :d",
        ConditionExpression="attribute_exists(pk) AND "
                            "(attribute_not_exists(driftFingerprint) OR driftFingerprint <> :f)",
        ExpressionAttributeValues={":f": fingerprint, ":d": json.dumps(drift, sort_keys=True, default=str)}))


def release_drift(name: str, fingerprint: str) -> None:
    """The alert could not be sent: forget the fingerprint, so the next check sends it."""
    table.write_if(lambda: table.resource().update_item(
        Key=keys.dataflow(name, keys.RECORD), UpdateExpression="REMOVE driftFingerprint, drift",
        ConditionExpression="driftFingerprint = :f", ExpressionAttributeValues={":f": fingerprint}))


def clear_drift(name: str) -> None:
    """AEP matches the record again."""
    table.write_if(lambda: table.resource().update_item(
        Key=keys.dataflow(name, keys.RECORD), UpdateExpression="REMOVE driftFingerprint, drift",
        ConditionExpression="attribute_exists(driftFingerprint)"))
