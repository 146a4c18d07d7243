"""A dataflow name's claim, `DATAFLOW#<name>` / `CLAIM` (store/keys.py): which spec holds the name.

The spec's hash, the execution that holds the name, every execution started for it (their roll-back
journals say what aepflow created), a generation counter (a re-created dataflow gets a new execution
name) and where the spec came from (`origin`). A different spec under a claimed name is a conflict
unless the holder has finished. A change in place holds the claim for a short lease (`changing`), so
writes for one name are serialized."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from aepflow.core.errors import DataflowConflict
from aepflow.spec.digest import spec_hash
from aepflow.store import journal, keys, table

# Executions remembered per claim (their journals say what aepflow created for the dataflow).
EXECUTIONS_KEPT = 50
# Where a dataflow's current spec came from (the claim's `origin`): a spec file (s3://bucket/key), the
# API, a custom event (event:<id>), or an execution started directly.
API, DIRECT = "api", "execution"
# The state machine's TimeoutSeconds: an execution holding a name for longer has ended.
EXECUTION_TIMEOUT_SECONDS = 9000
# A door reserves the name, then starts the execution at once: a reservation no execution took
# within this long was left by a door that failed in between.
RESERVATION_SECONDS = 300
# How long a change in place (a PATCH, a drift revert) holds the name: far more than one takes (a
# handful of AEP calls); a holder that died frees the name when this has passed.
CHANGE_LEASE_SECONDS = 120


def _key(name: str) -> dict[str, str]:
    return keys.dataflow(name, keys.CLAIM)


def claim(name: str) -> dict[str, Any] | None:
    """The name's claim, or None when nothing holds the name (never claimed, or deleted)."""
    item = table.get(_key(name))
    return item if item and item.get("status") != "DELETED" else None


def claim_item(name: str) -> dict[str, Any] | None:
    """The CLAIM item as stored, a DELETED one included (its generation counts on)."""
    return table.get(_key(name))


def reserve(name: str, digest: str, current: dict[str, Any] | None) -> None:
    """Put this spec's hash (and the execution that will provision it) in the claim, on condition
    that nobody changed the claim since `current` was read, so two different specs posted under
    one name at the same moment cannot both start. The same spec always passes."""
    values: dict[str, Any] = {":h": digest, ":now": table.now_iso(), ":claimed": "CLAIMED"}
    condition = "attribute_not_exists(pk) OR specHash = :h"
    if current is not None and current.get("updatedAt"):
        condition += " OR updatedAt = :prev"
        values[":prev"] = current["updatedAt"]
    # pendingSince: reserved, its execution not started yet (hold() removes it), so another spec
    # that reads the claim now sees it held, not finished.
    update = "SET specHash = :h, updatedAt = :now, #s = :claimed, pendingSince = :now"
    if not table.write_if(lambda: table.resource().update_item(
            Key=_key(name), UpdateExpression=update, ConditionExpression=condition,
            ExpressionAttributeNames={"#s": "status"}, ExpressionAttributeValues=values)):
        raise DataflowConflict(f"dataflow {name!r} was claimed by another spec at the same time; "
                               "read it and try again", code="DataflowExists", status=409)


def recorded_execution(name: str) -> str | None:
    """The execution that last recorded the dataflow (its RECORD's executionId), or None."""
    item = table.get(keys.dataflow(name, keys.RECORD))
    return str(item["executionId"]) if item and item.get("executionId") else None


def holder_finished(current: dict[str, Any], recorded: str | None, now: float | None = None) -> bool:
    """Whether the execution holding the claim has ended: it recorded the dataflow (`recorded`, see
    recorded_execution), its roll-back wrote an outcome, or it is older than any execution may run.
    A reservation whose execution has not started yet (the door starts it at once) holds the name for
    RESERVATION_SECONDS."""
    def age(stamp: Any) -> float:
        try:
            since = datetime.strptime(str(stamp), "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        except ValueError:
            return float("inf")
        return (now or datetime.now(UTC).timestamp()) - since.timestamp()

    if current.get("pendingSince"):
        return age(current["pendingSince"]) > RESERVATION_SECONDS
    holder = current.get("executionArn")
    if not holder:  # nothing provisions it (an adopted dataflow)
        return True
    if recorded == holder:
        return True
    if journal.has_outcome(holder):
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
    if current and current.get("specHash") != digest and not holder_finished(current, recorded_execution(name)):
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


def take_start(name: str, execution_arn: str) -> bool:
    """True for exactly one caller per execution: the one whose conditional write first names
    `execution_arn` as started. Identical requests racing each other all get the same execution
    (Step Functions starts a name once); only one of them says it started it."""
    return table.write_if(lambda: table.resource().update_item(
        Key=_key(name), UpdateExpression="SET startedExecution = :e",
        ConditionExpression="attribute_not_exists(startedExecution) OR startedExecution <> :e",
        ExpressionAttributeValues={":e": execution_arn}))


def hold(name: str, digest: str, execution_arn: str, generation: int, current: dict[str, Any] | None,
         origin: str | None) -> None:
    """The claim names `execution_arn` as the one provisioning the name (appended to its executions)."""
    executions = list((current or {}).get("executions") or [])
    if execution_arn not in executions:
        executions.append(execution_arn)
    names: dict[str, str] = {"#s": "status", "#x": "executions", "#n": "name"}
    values: dict[str, Any] = {":n": name, ":h": digest, ":e": execution_arn, ":x": executions[-EXECUTIONS_KEPT:],
                              ":g": generation, ":s": "CLAIMED", ":u": table.now_iso()}
    # executionHash: the spec the holding execution provisions (the door answers it for the same spec).
    update = ("SET #n = :n, specHash = :h, executionArn = :e, executionHash = :h, #x = :x, generation = :g, "
              "#s = :s, updatedAt = :u")
    if origin:
        update += ", origin = :o"
        values[":o"] = origin
    table.resource().update_item(Key=_key(name), UpdateExpression=update + " REMOVE pendingSince",
                                 ExpressionAttributeNames=names, ExpressionAttributeValues=values)


def adopted(name: str, origin: str) -> None:
    """The claim of a dataflow adopt just recorded: named, from `origin`, not pending an execution."""
    table.resource().update_item(
        Key=_key(name), UpdateExpression="SET #n = :n, origin = :o, generation = if_not_exists(generation, :z) "
                                         "REMOVE pendingSince",
        ExpressionAttributeNames={"#n": "name"}, ExpressionAttributeValues={":n": name, ":o": origin, ":z": 0})


@contextmanager
def changing(name: str, *, now: float | None = None) -> Iterator[str]:
    """Hold the name's claim while a change in place is applied: writes for one name are serialized.
    DataflowConflict (409 ConcurrentUpdate) while another change holds it."""
    token = uuid.uuid4().hex
    moment = int(time.time() if now is None else now)
    if not table.write_if(lambda: table.resource().update_item(
            Key=_key(name), UpdateExpression="SET changing = :t, changingUntil = :until",
            ConditionExpression="attribute_exists(pk) AND (attribute_not_exists(changing) OR changingUntil < :now)",
            ExpressionAttributeValues={":t": token, ":until": moment + CHANGE_LEASE_SECONDS, ":now": moment})):
        raise DataflowConflict(f"dataflow {name!r} is being changed by another request; read it and try again",
                               code="ConcurrentUpdate", status=409)
    try:
        yield token
    finally:
        table.write_if(lambda: table.resource().update_item(
            Key=_key(name), UpdateExpression="REMOVE changing, changingUntil", ConditionExpression="changing = :t",
            ExpressionAttributeValues={":t": token}))


def set_claim_hash(name: str, digest: str, origin: str | None = None) -> None:
    """After a change applied in place: the claim holds the new spec (and, given, where it came from)."""
    update, values = "SET specHash = :h, updatedAt = :u", {":h": digest, ":u": table.now_iso(), ":deleted": "DELETED"}
    if origin:
        update, values[":o"] = update + ", origin = :o", origin
    table.write_if(lambda: table.resource().update_item(
        Key=_key(name), UpdateExpression=update, ConditionExpression="attribute_exists(pk) AND #s <> :deleted",
        ExpressionAttributeNames={"#s": "status"}, ExpressionAttributeValues=values))


def mark_deleted(name: str, current: dict[str, Any] | None, *, replacing: bool = False) -> None:
    """Free the name; the next dataflow under it gets a new generation (a new execution name).
    `replacing`: the dataflow is provisioned again at once, and what its earlier executions created
    that stays (a dataset, a base connection) is still aepflow's, so their journals stay listed."""
    generation = int((current or {}).get("generation") or 0) + 1
    kept = list((current or {}).get("executions") or []) if replacing else []
    item = {**_key(name), "name": name, "status": "DELETED", "generation": generation,
            "updatedAt": table.now_iso(), "executions": kept}
    if current and current.get("origin"):
        item["origin"] = current["origin"]
    table.resource().put_item(Item=item)
