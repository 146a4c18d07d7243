"""The record store: what aepflow keeps about each dataflow, in DynamoDB under `pk = DATAFLOW#<name>`.

- `sk = RECORD`: the applied state. The spec that was last applied, the AEP ids (`ids`, with the
  flow's etag and the mapping set version the flow uses), the connections' etags (`etags`) and the
  credentials' Secrets Manager version (`credentials`) when aepflow knows them. The state machine
  writes it ("Record the dataflow"); an apply, an adopt and a credential rotation update it, each on
  condition that it is still the record they read (no lost update).
- `sk = CLAIM`: the name's reservation. The spec's hash, the execution that holds the name, every
  execution started for it (their roll-back journals say what aepflow created), a generation counter
  (a re-created dataflow gets a new execution name) and where the spec came from. A different spec
  under a claimed name is a conflict unless the holder has finished.
  The RECORD also carries the last difference the drift check found between AEP and it
  (`drift`, `driftFingerprint`), so that one change is alerted once.

`pk = FLOW#<flowId>`, `sk = DATAFLOW` says which dataflow owns a flow: one owner per flow. The state
machine writes it ("Claim the flow for the dataflow", before "Record the dataflow") and adopt writes it,
each on condition that no other dataflow holds it, keyed on the id AEP answers for the flow.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterator

from botocore.exceptions import ClientError

from aepflow.store import journal as journal_mod
from aepflow.core.errors import DataflowConflict, step

RECORD, CLAIM = "RECORD", "CLAIM"
# Executions remembered per claim (their journals say what aepflow created for the dataflow).
EXECUTIONS_KEPT = 50


def table():
    return journal_mod.table()


def now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical(spec: dict[str, Any]) -> str:
    return json.dumps(spec, sort_keys=True, separators=(",", ":"))


def spec_hash(spec: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(spec).encode()).hexdigest()


def key(name: str, sort_key: str) -> dict[str, str]:
    return {"pk": journal_mod.dataflow_key(name), "sk": sort_key}


def _conditional_failed(exc: ClientError) -> bool:
    return exc.response["Error"]["Code"] == "ConditionalCheckFailedException"


def get_item(name: str, sort_key: str) -> dict[str, Any] | None:
    return table().get_item(Key=key(name, sort_key), ConsistentRead=True).get("Item")


def _json(item: dict[str, Any], attribute: str) -> dict[str, Any]:
    try:
        value = json.loads(item.get(attribute) or "{}")
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


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
    def of(cls, item: dict[str, Any]) -> "Record":
        """The record, parsed. The state machine records `ids` as one JSON document, in which the
        apply step puts the etags and credentials version AEP has (an apply outside it, or a
        rotation, sets them as attributes of their own, which win)."""
        ids = _json(item, "ids")
        etags = _json(item, "etags") or (ids.get("etags") if isinstance(ids.get("etags"), dict) else {})
        credentials = _json(item, "credentials") or (
            ids.get("credentials") if isinstance(ids.get("credentials"), dict) else {})
        return cls(name=item.get("name") or str(item["pk"]).removeprefix("DATAFLOW#"), item=item,
                   spec=_json(item, "spec"), ids={k: v for k, v in ids.items() if k not in ("etags", "credentials",
                                                                                            "applied")},
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
    item = get_item(name, RECORD)
    return Record.of(item) if item else None


def claim(name: str) -> dict[str, Any] | None:
    """The name's claim, or None when nothing holds the name (never claimed, or deleted)."""
    item = get_item(name, CLAIM)
    return item if item and item.get("status") != "DELETED" else None


def claim_item(name: str) -> dict[str, Any] | None:
    """The CLAIM item as stored, a DELETED one included (its generation counts on)."""
    return get_item(name, CLAIM)


# --- The name's reservation -------------------------------------------------------------------

def reserve(name: str, digest: str, current: dict[str, Any] | None) -> None:
    """Put this spec's hash (and the execution that will provision it) in the claim, on condition
    that nobody changed the claim since `current` was read, so two different specs posted under
    one name at the same moment cannot both start. The same spec always passes."""
    values: dict[str, Any] = {":h": digest, ":now": now_iso(), ":claimed": "CLAIMED"}
    condition = "attribute_not_exists(pk) OR specHash = :h"
    if current is not None and current.get("updatedAt"):
        condition += " OR updatedAt = :prev"
        values[":prev"] = current["updatedAt"]
    # pendingSince: reserved, its execution not started yet (hold() removes it), so another spec
    # that reads the claim now sees it held, not finished.
    update = "SET specHash = :h, updatedAt = :now, #s = :claimed, pendingSince = :now"
    try:
        table().update_item(Key=key(name, CLAIM), UpdateExpression=update, ConditionExpression=condition,
                            ExpressionAttributeNames={"#s": "status"}, ExpressionAttributeValues=values)
    except ClientError as exc:
        if _conditional_failed(exc):
            raise DataflowConflict(f"dataflow {name!r} was claimed by another spec at the same time; "
                                   "read it and try again", code="DataflowExists", status=409) from None
        raise


# Where a dataflow's current spec came from (the claim's `origin`): a spec file (s3://bucket/key), the
# API, a custom event, or an execution started directly.
API, DIRECT = "api", "execution"
# The state machine's TimeoutSeconds: an execution holding a name for longer has ended.
EXECUTION_TIMEOUT_SECONDS = 9000
# A door reserves the name, then starts the execution at once: a reservation no execution took
# within this long was left by a door that failed in between.
RESERVATION_SECONDS = 300


def holder_finished(current: dict[str, Any], rec: "Record | None", now: float | None = None) -> bool:
    """Whether the execution holding the claim has ended: it recorded the dataflow, its roll-back
    wrote an outcome, or it is older than any execution may run. A reservation whose execution has
    not started yet (the door starts it at once) holds the name for RESERVATION_SECONDS."""
    def age(stamp: Any) -> float:
        try:
            since = datetime.strptime(str(stamp), "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
        except ValueError:
            return float("inf")
        return (now or datetime.now(timezone.utc).timestamp()) - since.timestamp()

    if current.get("pendingSince"):
        return age(current["pendingSince"]) > RESERVATION_SECONDS
    holder = current.get("executionArn")
    if not holder:  # nothing provisions it (an adopted dataflow)
        return True
    if rec is not None and rec.item.get("executionId") == holder:
        return True
    if journal_mod.has_outcome(holder):
        return True
    return age(current.get("updatedAt")) > EXECUTION_TIMEOUT_SECONDS


def reserve_for_execution(name: str, spec: dict[str, Any], execution_arn: str) -> dict[str, Any]:
    """The provisioning's own reservation of the name, whatever door started it (the API and the
    bucket reserve before they start; the CLI and a direct StartExecution do not): the claim names
    this execution, or the provisioning is refused with DataflowConflict, while another execution
    provisions another spec under the name."""
    digest = spec_hash(spec)
    stored = claim_item(name)
    current = stored if stored and stored.get("status") != "DELETED" else None
    if current and current.get("executionArn") == execution_arn:
        return {"name": name, "reserved": "already"}
    if current and current.get("specHash") != digest and not holder_finished(current, record(name)):
        raise DataflowConflict(
            f"dataflow {name!r} is being provisioned from another spec by {current.get('executionArn')}; "
            "start this one when it is done", code="ProvisioningInProgress", status=409,
            problems=[{"path": "name", "message": "another provisioning of another spec holds the name"}])
    reserve(name, digest, stored)
    generation = int((stored or {}).get("generation") or 0)
    # Started directly (the command line, a StartExecution by hand): the same spec keeps where it came
    # from; another spec came from no door (so no spec file's delete tears it down).
    origin = (stored or {}).get("origin") if (stored or {}).get("specHash") == digest else DIRECT
    hold(name, digest, execution_arn, generation, stored, origin)
    return {"name": name, "reserved": "now"}


@step("reserve-name")
def reserve_name(state: dict[str, Any], execution: str) -> dict[str, Any]:
    """The state machine's "Reserve the dataflow's name" (functions/reserve_name): every provisioning
    goes through the name's claim, whichever door started it (reserve_for_execution)."""
    spec = state.get("spec") if isinstance(state.get("spec"), dict) else {}
    return reserve_for_execution(str(spec.get("name")), spec, execution)


def take_start(name: str, execution_arn: str) -> bool:
    """True for exactly one caller per execution: the one whose conditional write first names
    `execution_arn` as started. Identical requests racing each other all get the same execution
    (Step Functions starts a name once); only one of them says it started it."""
    try:
        table().update_item(Key=key(name, CLAIM), UpdateExpression="SET startedExecution = :e",
                            ConditionExpression="attribute_not_exists(startedExecution) OR startedExecution <> :e",
                            ExpressionAttributeValues={":e": execution_arn})
        return True
    except ClientError as exc:
        if _conditional_failed(exc):
            return False
        raise


def hold(name: str, digest: str, execution_arn: str, generation: int, current: dict[str, Any] | None,
         origin: str | None) -> None:
    """The claim names `execution_arn` as the one provisioning the name (appended to its executions)."""
    executions = list((current or {}).get("executions") or [])
    if execution_arn not in executions:
        executions.append(execution_arn)
    names: dict[str, str] = {"#s": "status", "#x": "executions"}
    values: dict[str, Any] = {":n": name, ":h": digest, ":e": execution_arn, ":x": executions[-EXECUTIONS_KEPT:],
                              ":g": generation, ":s": "CLAIMED", ":u": now_iso()}
    # executionHash: the spec the holding execution provisions (the door answers it for the same spec).
    update = ("SET #n = :n, specHash = :h, executionArn = :e, executionHash = :h, #x = :x, generation = :g, #s = :s, "
              "updatedAt = :u REMOVE pendingSince")
    names["#n"] = "name"
    if origin:
        update = update.replace(" REMOVE", ", origin = :o REMOVE")
        values[":o"] = origin
    table().update_item(Key=key(name, CLAIM), UpdateExpression=update, ExpressionAttributeNames=names,
                        ExpressionAttributeValues=values)


# How long a change in place (a PATCH, a drift revert) holds the name: far more than one takes (a
# handful of AEP calls); a holder that died frees the name when this has passed.
CHANGE_LEASE_SECONDS = 120


@contextmanager
def changing(name: str, *, now: float | None = None) -> Iterator[str]:
    """Hold the name's claim while a change in place is applied: writes for one name are serialized.
    DataflowConflict (409 ConcurrentUpdate) while another change holds it."""
    token = uuid.uuid4().hex
    moment = time.time() if now is None else now
    try:
        table().update_item(Key=key(name, CLAIM), UpdateExpression="SET changing = :t, changingUntil = :until",
                            ConditionExpression="attribute_exists(pk) AND (attribute_not_exists(changing) "
                                                "OR changingUntil < :now)",
                            ExpressionAttributeValues={":t": token, ":until": int(moment) + CHANGE_LEASE_SECONDS,
                                                       ":now": int(moment)})
    except ClientError as exc:
        if _conditional_failed(exc):
            raise DataflowConflict(f"dataflow {name!r} is being changed by another request; read it and try again",
                                   code="ConcurrentUpdate", status=409) from None
        raise
    try:
        yield token
    finally:
        try:
            table().update_item(Key=key(name, CLAIM), UpdateExpression="REMOVE changing, changingUntil",
                                ConditionExpression="changing = :t", ExpressionAttributeValues={":t": token})
        except ClientError as exc:
            if not _conditional_failed(exc):
                raise


def set_claim_hash(name: str, digest: str, origin: str | None = None) -> None:
    """After a change applied in place: the claim holds the new spec (and, given, where it came from)."""
    update, values = "SET specHash = :h, updatedAt = :u", {":h": digest, ":u": now_iso(), ":deleted": "DELETED"}
    if origin:
        update, values[":o"] = update + ", origin = :o", origin
    try:
        table().update_item(Key=key(name, CLAIM), UpdateExpression=update,
                            ConditionExpression="attribute_exists(pk) AND #s <> :deleted",
                            ExpressionAttributeNames={"#s": "status"}, ExpressionAttributeValues=values)
    except ClientError as exc:
        if not _conditional_failed(exc):
            raise


def mark_deleted(name: str, current: dict[str, Any] | None, *, replacing: bool = False) -> None:
    """Free the name; the next dataflow under it gets a new generation (a new execution name).
    `replacing`: the dataflow is provisioned again at once, and what its earlier executions created
    that stays (a dataset, a base connection) is still aepflow's, so their journals stay listed."""
    generation = int((current or {}).get("generation") or 0) + 1
    kept = list((current or {}).get("executions") or []) if replacing else []
    item = {**key(name, CLAIM), "name": name, "status": "DELETED", "generation": generation,
            "updatedAt": now_iso(), "executions": kept}
    if current and current.get("origin"):
        item["origin"] = current["origin"]
    table().put_item(Item=item)


# --- The record ------------------------------------------------------------------------------

def save(rec: Record, spec: dict[str, Any], ids: dict[str, Any], *, etags: dict[str, Any] | None = None,
         credentials: dict[str, Any] | None = None) -> None:
    """The record after an apply: conditional on it being the one `rec` read (no lost update)."""
    names = {"#spec": "spec", "#ids": "ids"}
    values: dict[str, Any] = {":spec": canonical(spec), ":ids": json.dumps(ids, sort_keys=True), ":now": now_iso(),
                              ":old_ids": rec.item.get("ids"), ":etag": ids.get("flowEtag") or "",
                              ":flow": ids.get("flowId") or rec.flow_id or ""}
    update = "SET #spec = :spec, #ids = :ids, updatedAt = :now, etag = :etag, flowId = :flow"
    if etags is not None:
        update += ", etags = :etags"
        values[":etags"] = json.dumps(etags, sort_keys=True)
    if credentials is not None:
        update += ", credentials = :cred"
        values[":cred"] = json.dumps(credentials, sort_keys=True)
    try:
        table().update_item(Key=key(rec.name, RECORD), UpdateExpression=update, ConditionExpression="#ids = :old_ids",
                            ExpressionAttributeNames=names, ExpressionAttributeValues=values)
    except ClientError as exc:
        if _conditional_failed(exc):
            raise DataflowConflict(f"dataflow {rec.name!r} changed while it was being updated; read it and retry",
                                   code="ConcurrentUpdate", status=409) from None
        raise


def already_managed(flow_id: str, owner: str | None) -> DataflowConflict:
    return DataflowConflict(f"flow {flow_id} is already managed as dataflow {owner!r}; a flow has one owner: "
                            f"change it through {owner!r}, or delete that dataflow first", code="AlreadyManaged",
                            status=409, problems=[{"path": "flowId", "message": f"managed as dataflow {owner!r}"}])


def create(name: str, spec: dict[str, Any], ids: dict[str, Any], *, connector: str, etags: dict[str, Any],
           origin: str) -> None:
    """A new record and claim for a dataflow aepflow did not provision (adopt). The flow must not be
    managed already, and the name must be free."""
    flow_id = ids["flowId"]
    try:
        table().put_item(Item={**flow_key(flow_id), "name": name, "updatedAt": now_iso()},
                         ConditionExpression="attribute_not_exists(pk)")
    except ClientError as exc:
        if _conditional_failed(exc):
            raise already_managed(flow_id, flow_owner(flow_id)) from None
        raise
    current = claim_item(name)
    try:
        reserve(name, spec_hash(spec), current if current and current.get("status") == "DELETED" else None)
        table().put_item(Item=journal_mod.dataflow_record(
            name, status="ACTIVE", connector=connector, flowId=flow_id, ids=json.dumps(ids, sort_keys=True),
            spec=canonical(spec), etags=json.dumps(etags, sort_keys=True), etag=ids.get("flowEtag") or "",
            origin=origin, updatedAt=now_iso()), ConditionExpression="attribute_not_exists(pk)")
    except (ClientError, DataflowConflict) as exc:
        table().delete_item(Key=flow_key(flow_id))
        if isinstance(exc, DataflowConflict) or _conditional_failed(exc):
            raise DataflowConflict(f"a dataflow named {name!r} exists already; adopt under another name",
                                   code="DataflowExists", status=409) from None
        raise
    table().update_item(Key=key(name, CLAIM), UpdateExpression="SET #n = :n, origin = :o, generation = "
                                                               "if_not_exists(generation, :z) REMOVE pendingSince",
                        ExpressionAttributeNames={"#n": "name"},
                        ExpressionAttributeValues={":n": name, ":o": origin, ":z": 0})


def delete(name: str, rec: Record | None = None) -> None:
    table().delete_item(Key=key(name, RECORD))
    if rec is not None and rec.flow_id:
        release_flow(rec.flow_id, name)


# --- Which dataflow owns a flow ------------------------------------------------------------------

def flow_key(flow_id: str) -> dict[str, str]:
    return {"pk": f"FLOW#{flow_id}", "sk": "DATAFLOW"}


def flow_owner(flow_id: str) -> str | None:
    """The name of the dataflow that owns the flow, or None."""
    item = table().get_item(Key=flow_key(flow_id), ConsistentRead=True).get("Item")
    return str(item["name"]) if item and item.get("name") else None


def release_flow(flow_id: str, name: str) -> None:
    """The flow is no longer the dataflow's (deleted, or replaced by a new one): forget its owner, on
    condition that it is still this dataflow."""
    try:
        table().delete_item(Key=flow_key(flow_id), ConditionExpression="attribute_not_exists(pk) OR #n = :n",
                            ExpressionAttributeNames={"#n": "name"}, ExpressionAttributeValues={":n": name})
    except ClientError as exc:
        if not _conditional_failed(exc):
            raise


def pages(*, start_after: str | None = None, page_size: int | None = None) -> Iterator[list[dict[str, Any]]]:
    """Pages of RECORD items in name order (the Dataflows index; no scan)."""
    return journal_mod.dataflow_record_pages(table(), start_after=start_after, page_size=page_size)


def every(limit: int = 100_000) -> Iterator[Record]:
    """Every record, at most `limit` of them."""
    seen = 0
    for page in pages(page_size=500):
        for item in page:
            if seen >= limit:
                return
            seen += 1
            yield Record.of(item)


# --- What an execution's apply step did (beside its roll-back journal) --------------------------

def put_applied(execution: str, summary: dict[str, Any]) -> None:
    """The plan an execution applied (in place, or what it deleted to replace), kept under the
    execution's key, so its result says it whichever path the execution took after."""
    table().put_item(Item={"pk": journal_mod.execution_key(execution), "sk": "APPLIED",
                           "summary": json.dumps(summary, sort_keys=True, default=str)})


def applied(execution: str) -> dict[str, Any] | None:
    item = table().get_item(Key={"pk": journal_mod.execution_key(execution), "sk": "APPLIED"}).get("Item")
    return _json(item, "summary") if item else None


# --- Drift (kept on the RECORD item, so the drift check reads it with the records) -------------

def drift_of(item: dict[str, Any]) -> dict[str, Any] | None:
    if not item.get("driftFingerprint"):
        return None
    try:
        found = json.loads(item.get("drift") or "{}")
    except ValueError:
        found = {}
    return found if isinstance(found, dict) else None


def claim_drift(name: str, fingerprint: str, drift: dict[str, Any]) -> bool:
    """Store the drift seen; True only for the one caller that stores a fingerprint not stored
    before (it sends the alert): one alert per change, however many checks overlap."""
    try:
        table().update_item(Key=key(name, RECORD), UpdateExpression="SET driftFingerprint = :f, drift = :d",
                            ConditionExpression="attribute_exists(pk) AND "
                                                "(attribute_not_exists(driftFingerprint) OR driftFingerprint <> :f)",
                            ExpressionAttributeValues={":f": fingerprint,
                                                       ":d": json.dumps(drift, sort_keys=True, default=str)})
        return True
    except ClientError as exc:
        if _conditional_failed(exc):
            return False
        raise


def release_drift(name: str, fingerprint: str) -> None:
    """The alert could not be sent: forget the fingerprint, so the next check sends it."""
    try:
        table().update_item(Key=key(name, RECORD), UpdateExpression="REMOVE driftFingerprint, drift",
                            ConditionExpression="driftFingerprint = :f", ExpressionAttributeValues={":f": fingerprint})
    except ClientError as exc:
        if not _conditional_failed(exc):
            raise


def clear_drift(name: str) -> None:
    """AEP matches the record again."""
    try:
        table().update_item(Key=key(name, RECORD), UpdateExpression="REMOVE driftFingerprint, drift",
                            ConditionExpression="attribute_exists(driftFingerprint)")
    except ClientError as exc:
        if not _conditional_failed(exc):
            raise
