"""A dataflow's life after its spec: start provisioning, describe, update, delete, runs.

The API (api.py) and the S3/EventBridge intake (intake.py) are thin doors onto these
functions; the provisioning itself stays in the state machine.

DynamoDB items under `pk = DATAFLOW#<name>`:
- `sk = RECORD`: written by the state machine ("Record the dataflow"); updated here by PATCH.
- `sk = CLAIM`: written here when a door starts a provisioning: the spec's hash, the
  execution, every execution started for this name (their roll-back journals say what
  aepflow created), a generation counter (so a re-created dataflow gets a new execution
  name), and where the spec came from. A different spec under a claimed name is a 409.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import time
from datetime import datetime, timezone
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from . import journal as journal_mod
from . import monitor, naming, resources, runtime
from .client import AepClient, segment
from .errors import AepflowError, AepNotFound, AepPreconditionFailed, AepValidationError, SpecInvalid
from .mapping import mapping_set_body
from .provisioning import schedule_params, schedule_params_for_request, validate_spec
from .spec import DataflowSpec, parse_spec, resolve_source

logger = Logger(child=True)

CHANGEABLE = ("schedule", "description", "mapping", "enabled")
NOT_CHANGEABLE_REASON = {
    "source": "AEP does not let a dataflow swap its source connection; delete and re-create the dataflow",
    "target": "AEP does not let a dataflow swap its target connection; delete and re-create the dataflow",
    "name": "the name is the dataflow's key; create a new dataflow under the new name",
    "sandbox": "a dataflow cannot move between sandboxes; create it in the new sandbox",
    "deltaColumn": "AEP does not change a flow's Copy transformation in place; delete and re-create the dataflow",
    "alerts": "alerts are read from the spec by the monitor; change them with a new spec version",
}
# Delete order: the flow first, then what it used, dependants before what they depend on.
DELETE_ORDER = ("flow", "mappingSet", "targetConnection", "sourceConnection", "dataset", "schema", "baseConnection")
ID_KEY = {"flow": "flowId", "mappingSet": "mappingId", "targetConnection": "targetConnectionId",
          "sourceConnection": "sourceConnectionId", "dataset": "datasetId", "schema": "schemaId",
          "baseConnection": "baseConnectionId"}
EXECUTION_NAME_MAX = 80
TERMINAL_FAILED = ("FAILED", "TIMED_OUT", "ABORTED")


# --- Errors the doors turn into HTTP answers --------------------------------------------------

class DataflowNotFound(AepflowError):
    """No dataflow by that name (404)."""


class DataflowConflict(AepflowError):
    """A different spec already holds the name, or the record changed underneath (409)."""


class DataflowPreconditionFailed(AepflowError):
    """The client's If-Match no longer matches the dataflow (412)."""


class ChangeRefused(AepflowError):
    """A change AEP forbids or aepflow cannot apply in place; `problems` names the field (400)."""


# --- Helpers ----------------------------------------------------------------------------------

def _table():
    return journal_mod.table()


def _sfn():
    return runtime.aws_client("stepfunctions")


def _now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical(spec: dict[str, Any]) -> str:
    return json.dumps(spec, sort_keys=True, separators=(",", ":"))


def spec_hash(spec: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(spec).encode()).hexdigest()


def execution_name(name: str, digest: str, generation: int = 0) -> str:
    """Deterministic: the same spec (same content) under the same name is the same execution,
    so Step Functions' own StartExecution idempotency makes a second POST start nothing."""
    suffix = f"-{generation}" if generation else ""
    head = name[: EXECUTION_NAME_MAX - 11 - len(suffix)]
    return f"{head}-{digest[:10]}{suffix}"


_state_machine_arn: dict[str, str] = {}


def state_machine_arn() -> str:
    """The provisioning state machine. Its ARN cannot be a Globals variable (every step
    function would then depend on the state machine that depends on them), so it is read
    once from CloudFormation (stack name in AEPFLOW_STACK_NAME) and cached; the local stack
    sets PROVISION_STATE_MACHINE_ARN to what CloudFormation would answer."""
    explicit = os.environ.get("PROVISION_STATE_MACHINE_ARN")
    if explicit:
        return explicit
    if "arn" not in _state_machine_arn:
        answer = boto3.client("cloudformation").describe_stack_resource(
            StackName=os.environ["AEPFLOW_STACK_NAME"], LogicalResourceId="ProvisionDataflowStateMachine")
        _state_machine_arn["arn"] = answer["StackResourceDetail"]["PhysicalResourceId"]
    return _state_machine_arn["arn"]


def get_item(name: str, sort_key: str) -> dict[str, Any] | None:
    return _table().get_item(Key={"pk": journal_mod.dataflow_key(name), "sk": sort_key},
                             ConsistentRead=True).get("Item")


def _record_spec(record: dict[str, Any]) -> dict[str, Any]:
    return json.loads(record.get("spec") or "{}")


def _record_ids(record: dict[str, Any]) -> dict[str, Any]:
    return json.loads(record.get("ids") or "{}")


def _describe_execution(arn: str | None) -> dict[str, Any] | None:
    if not arn:
        return None
    try:
        return _sfn().describe_execution(executionArn=arn)
    except ClientError as exc:
        if exc.response["Error"]["Code"] in ("ExecutionDoesNotExist", "InvalidArn"):
            return None
        raise


def _execution_arn_for(name: str) -> str:
    machine = state_machine_arn()
    return machine.replace(":stateMachine:", ":execution:") + f":{name}"


def _outcome_errors(execution_arn: str) -> list[dict[str, Any]]:
    outcome = journal_mod.get_outcome(execution_arn) or {}
    try:
        return json.loads(outcome.get("errors") or "[]")
    except ValueError:
        return []


# --- Start ------------------------------------------------------------------------------------

def start(raw: Any, *, origin: str | None = None) -> dict[str, Any]:
    """Validate `raw` and start its provisioning. Returns {name, executionArn, status, started}.
    Raises SpecInvalid (every problem by field path) or DataflowConflict."""
    validated = validate_spec(raw)
    spec = validated["spec"]
    name = spec["name"]
    digest = spec_hash(spec)
    claim = get_item(name, "CLAIM")
    record = get_item(name, "RECORD")
    if claim and claim.get("status") != "DELETED":
        if claim.get("specHash") != digest:
            described = _describe_execution(claim.get("executionArn"))
            failed_without_record = (record is None and described is not None
                                     and described["status"] in TERMINAL_FAILED)
            if not failed_without_record:
                raise DataflowConflict(
                    f"dataflow {name!r} already exists with a different spec; change it with PATCH",
                    code="DataflowExists", status=409)
    elif record is not None and spec_hash(_record_spec(record)) != digest:
        raise DataflowConflict(f"dataflow {name!r} already exists with a different spec; change it with PATCH",
                               code="DataflowExists", status=409)
    generation = int((claim or {}).get("generation") or 0)
    _reserve(name, digest, claim)
    return _start_execution(spec, digest, generation, claim, origin)


def _reserve(name: str, digest: str, claim: dict[str, Any] | None) -> None:
    """Put this spec's hash in the dataflow's claim before any execution starts, on condition
    that nobody changed the claim since it was read, so two different specs posted under one
    name at the same moment cannot both start. The same spec always passes: its execution
    name is the same, and Step Functions starts it once."""
    values: dict[str, Any] = {":h": digest, ":now": _now_iso()}
    condition = "attribute_not_exists(pk) OR specHash = :h"
    if claim is not None and claim.get("updatedAt"):
        condition += " OR updatedAt = :prev"
        values[":prev"] = claim["updatedAt"]
    try:
        _table().update_item(Key={"pk": journal_mod.dataflow_key(name), "sk": "CLAIM"},
                             UpdateExpression="SET specHash = :h, updatedAt = :now",
                             ConditionExpression=condition, ExpressionAttributeValues=values)
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            raise DataflowConflict(f"dataflow {name!r} was claimed by another spec at the same time; "
                                   "change it with PATCH", code="DataflowExists", status=409) from None
        raise


def _start_execution(spec: dict[str, Any], digest: str, generation: int, claim: dict | None,
                     origin: str | None) -> dict[str, Any]:
    name = spec["name"]
    exec_name = execution_name(name, digest, generation)
    payload = json.dumps({"spec": spec}, sort_keys=True, separators=(",", ":"))
    started = True
    try:
        arn = _sfn().start_execution(stateMachineArn=state_machine_arn(), name=exec_name, input=payload)["executionArn"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ExecutionAlreadyExists":
            raise
        # Finished already (Step Functions answers ExecutionAlreadyExists for a closed execution
        # even with the same input): the same request, so the same answer.
        arn = _execution_arn_for(exec_name)
        described = _describe_execution(arn)
        if described is None or described.get("input") and json.loads(described["input"]) != json.loads(payload):
            raise DataflowConflict(f"execution {exec_name} exists with another input", code="DataflowExists",
                                   status=409) from None
        started = False
    executions = list((claim or {}).get("executions") or [])
    if arn not in executions:
        executions.append(arn)
    item = {"pk": journal_mod.dataflow_key(name), "sk": "CLAIM", "name": name, "specHash": digest,
            "executionArn": arn, "executions": executions[-50:], "generation": generation,
            "status": "CLAIMED", "updatedAt": _now_iso()}
    if origin or (claim or {}).get("origin"):
        item["origin"] = origin or claim["origin"]
    _table().put_item(Item=item)
    described = _describe_execution(arn) or {}
    return {"name": name, "executionArn": arn, "status": _status_of(described.get("status")), "started": started}


def _status_of(execution_status: str | None) -> str:
    return {"RUNNING": "PROVISIONING", "SUCCEEDED": "ACTIVE", None: "PROVISIONING"}.get(
        execution_status, "FAILED")


# --- Describe ---------------------------------------------------------------------------------

def _live_flow(client: AepClient, flow_id: str | None) -> dict[str, Any] | None:
    if not flow_id:
        return None
    try:
        flow = resources.get_flow_service(client, "flow", flow_id)
    except AepNotFound:
        return {"id": flow_id, "state": "missing"}
    return {"id": flow["id"], "state": flow.get("state"), "etag": flow.get("etag"),
            "scheduleParams": flow.get("scheduleParams"), "description": flow.get("description"),
            "transformations": flow.get("transformations"), "lastOperation": flow.get("lastOperation"),
            "updatedAt": flow.get("updatedAt")}


def describe(name: str, *, live: bool = True) -> dict[str, Any]:
    record = get_item(name, "RECORD")
    claim = get_item(name, "CLAIM")
    if claim and claim.get("status") == "DELETED":
        claim = None
    if record is None and claim is None:
        raise DataflowNotFound(f"no dataflow named {name!r}", code="DataflowNotFound", status=404)
    view: dict[str, Any] = {"name": name, "status": "PROVISIONING", "executionArn": None, "errors": [],
                            "spec": None, "ids": {}, "updatedAt": None, "flow": None}
    if claim:
        view["executionArn"] = claim.get("executionArn")
        described = _describe_execution(claim.get("executionArn"))
        view["status"] = _status_of((described or {}).get("status"))
        view["steps"] = execution_steps(claim.get("executionArn"))
        if view["status"] == "FAILED":
            view["errors"] = _outcome_errors(claim["executionArn"])
    if record:
        ids = _record_ids(record)
        view.update(spec=_record_spec(record), ids=ids, updatedAt=record.get("updatedAt"),
                    connector=record.get("connector"))
        view["executionArn"] = view["executionArn"] or record.get("executionId")
        # A running re-provisioning (a new spec version) keeps the dataflow ACTIVE meanwhile.
        if view["status"] == "FAILED" and claim and claim.get("executionArn") != record.get("executionId"):
            view["status"] = "ACTIVE"
        elif view["status"] != "FAILED":
            view["status"] = "ACTIVE" if not claim or view["status"] == "ACTIVE" else view["status"]
        if live:
            sandbox = view["spec"].get("sandbox")
            view["flow"] = _live_flow(runtime.aep_client(sandbox), ids.get("flowId"))
    return view


# The provisioning's task states, the steps a user waits for (the Pass/Choice/Parallel states are
# plumbing). Read from the execution history: at most this many events.
HISTORY_EVENTS = 500


def execution_steps(arn: str | None) -> list[dict[str, str]]:
    """The provisioning's steps so far, in order: {step, status} with status running, done or
    failed, from the execution's history (one page of at most HISTORY_EVENTS events)."""
    if not arn:
        return []
    try:
        events = _sfn().get_execution_history(executionArn=arn, maxResults=HISTORY_EVENTS)["events"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] in ("ExecutionDoesNotExist", "InvalidArn"):
            return []
        raise
    steps: dict[str, str] = {}
    by_id: dict[int, str] = {}
    for event in events:
        details = event.get("stateEnteredEventDetails") or event.get("stateExitedEventDetails") or {}
        kind = event.get("type", "")
        if kind == "TaskStateEntered":
            steps[details.get("name", "?")] = "running"
            by_id[event["id"]] = details.get("name", "?")
        elif kind == "TaskStateExited" and details.get("name") in steps:
            steps[details["name"]] = "done"
        elif kind in ("TaskFailed", "TaskTimedOut", "LambdaFunctionFailed", "LambdaFunctionTimedOut"):
            entered = _entered_task(event, by_id, events)
            if entered:
                steps[entered] = "failed"
    return [{"step": name, "status": status} for name, status in steps.items()]


def _entered_task(event: dict[str, Any], by_id: dict[int, str], events: list[dict[str, Any]]) -> str | None:
    """The task state a failure event belongs to: the nearest TaskStateEntered before it."""
    previous = event.get("previousEventId")
    index = {e["id"]: e for e in events}
    for _ in range(50):
        if previous in by_id:
            return by_id[previous]
        previous = (index.get(previous) or {}).get("previousEventId")
        if previous is None:
            return None
    return None


def list_dataflows(limit: int = 50, cursor: str | None = None) -> dict[str, Any]:
    """One page of records in name order (no live AEP state; GET /dataflows/{name} has it).
    `cursor` is the last name of the previous page. One item more than the page tells
    whether another page follows."""
    items: list[dict[str, Any]] = []
    for page in journal_mod.dataflow_record_pages(_table(), start_after=cursor, page_size=limit + 1):
        items.extend(page)
        if len(items) > limit:
            break
    more, items = len(items) > limit, items[:limit]
    return {"items": [{"name": i["name"], "status": i.get("status"), "connector": i.get("connector"),
                       "flowId": i.get("flowId"), "updatedAt": i.get("updatedAt")} for i in items],
            "next": items[-1]["name"] if more else None}


# --- Update -----------------------------------------------------------------------------------

def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON Merge Patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def refused_fields(patch: dict[str, Any]) -> list[dict[str, str]]:
    problems = []
    for key in patch:
        if key not in CHANGEABLE:
            reason = NOT_CHANGEABLE_REASON.get(key, f"only {', '.join(CHANGEABLE)} can be changed in place")
            problems.append({"path": key, "message": reason})
    return problems


def _start_time_problems(old: dict[str, Any], new: dict[str, Any], now: float) -> list[dict[str, str]]:
    old_start = (old.get("schedule") or {}).get("startTime")
    new_start = (new.get("schedule") or {}).get("startTime")
    if new_start == old_start:
        return []
    if new_start is not None and new_start <= now:
        return [{"path": "schedule.startTime",
                 "message": f"{new_start} has already passed; AEP refuses a startTime in the past (1366)"}]
    if old_start is not None and old_start <= now:
        return [{"path": "schedule.startTime",
                 "message": f"the current startTime {old_start} has already passed, so AEP no longer lets it change (1366)"}]
    return []


def _flow_ops(old: DataflowSpec, new: DataflowSpec, flow: dict[str, Any], mapping_version: int | None) -> list[dict]:
    ops: list[dict[str, Any]] = []
    old_params = schedule_params_for_request(schedule_params(old))
    new_params = schedule_params_for_request(schedule_params(new))
    live_params = flow.get("scheduleParams") or {}
    for key in sorted(set(old_params) | set(new_params)):
        if new_params.get(key) == old_params.get(key) and live_params.get(key) == new_params.get(key):
            continue
        path = f"/scheduleParams/{key}"
        if key not in new_params:
            if key in live_params:
                ops.append({"op": "remove", "path": path})
        else:
            ops.append({"op": "replace" if key in live_params else "add", "path": path, "value": new_params[key]})
    description = new.description or f"aepflow dataflow {new.name}"
    if description != flow.get("description"):
        ops.append({"op": "replace" if "description" in flow else "add", "path": "/description",
                    "value": description})
    if mapping_version is not None:
        for index, transformation in enumerate(flow.get("transformations") or []):
            if transformation.get("name") == "Mapping":
                ops.append({"op": "replace", "path": f"/transformations/{index}/params/mappingVersion",
                            "value": str(mapping_version)})
                break
        else:
            raise ChangeRefused("the flow has no Mapping transformation to update", code="FieldNotChangeable",
                                status=400, problems=[{"path": "mapping", "message": "the flow has no Mapping transformation"}])
    return ops


def _get_flow(client: AepClient, flow_id: str) -> dict[str, Any]:
    try:
        return resources.get_flow_service(client, "flow", flow_id)
    except AepNotFound:
        raise DataflowNotFound(f"the dataflow's flow {flow_id} no longer exists in AEP", code="FlowNotFound",
                               status=404) from None


def _aep_refusal(exc: AepValidationError, field: str) -> ChangeRefused:
    path = "schedule.startTime" if "1366" in str(exc.code or "") else field
    return ChangeRefused(exc.message, code=exc.code or "AepRefused", status=400,
                         problems=[{"path": path, "message": exc.message}])


def etag_matches(if_match: str, etag: str | None) -> bool:
    """RFC 9110 If-Match: `*` or one of a comma-separated list of entity tags (a weak W/ prefix
    is ignored; AEP's etags carry their own quotes)."""
    if if_match.strip() == "*":
        return etag is not None
    wanted = {tag.strip().removeprefix("W/") for tag in if_match.split(",")}
    return etag is not None and etag.strip() in wanted


def update(name: str, patch: dict[str, Any], *, if_match: str | None = None,
           now: float | None = None) -> dict[str, Any]:
    """Apply a JSON Merge Patch over the changeable fields of the dataflow's spec. With
    `if_match`, only while the flow's etag (the ETag of GET /dataflows/{name}) still matches."""
    if not isinstance(patch, dict):
        raise SpecInvalid("the body must be a JSON Merge Patch object", code="SpecInvalid", status=400,
                          problems=[{"path": "(body)", "message": "expected an object"}])
    problems = refused_fields(patch)
    if problems:
        raise ChangeRefused(f"{', '.join(p['path'] for p in problems)} cannot be changed in place",
                            code="FieldNotChangeable", status=400, problems=problems)
    record = get_item(name, "RECORD")
    if record is None:
        raise DataflowNotFound(f"no provisioned dataflow named {name!r}", code="DataflowNotFound", status=404)
    old_raw = _record_spec(record)
    new_raw = merge_patch(old_raw, patch)
    new_raw["name"] = name
    old, new = parse_spec(old_raw), parse_spec(new_raw)
    new_dump = new.model_dump(mode="json", by_alias=True, exclude_none=True)
    problems = _start_time_problems(old_raw, new_dump, time.time() if now is None else now)
    if problems:
        raise ChangeRefused("startTime cannot be changed", code="FieldNotChangeable", status=400, problems=problems)
    ids = _record_ids(record)
    client = runtime.aep_client(new.sandbox)
    flow_id = ids["flowId"]
    flow = _get_flow(client, flow_id)
    if if_match is not None and not etag_matches(if_match, flow.get("etag")):
        raise DataflowPreconditionFailed(
            f"dataflow {name!r} changed since it was read (If-Match {if_match} is not its etag {flow.get('etag')}); "
            "read it again", code="PreconditionFailed", status=412,
            problems=[{"path": "(header) If-Match", "message": "does not match the dataflow's current ETag"}])
    changes: list[str] = []
    mapping_version = None
    if [r.model_dump() for r in new.mapping] != [r.model_dump() for r in old.mapping]:
        resolved = resolve_source(new)
        body = mapping_set_body(name=naming.mapping_set(new), schema_id=ids["schemaId"], rules=new.mapping,
                                dialect=resolved.mappingDialect)
        try:
            answer = client.request("PUT", "conversion", f"/mappingSets/{segment(ids['mappingId'])}", json=body)
        except AepValidationError as exc:
            raise _aep_refusal(exc, "mapping") from None
        mapping_version = int((answer or {}).get("version", 0))
        ids["mappingVersion"] = mapping_version
        changes.append("mapping")
    etag = ids.get("flowEtag")
    for attempt in range(2):
        ops = _flow_ops(old, new, flow, mapping_version)
        if not ops:
            etag = flow.get("etag")
            break
        try:
            answer = client.patch("flowservice", f"/flows/{segment(flow_id)}", json=ops,
                                  headers={"If-Match": etag or flow.get("etag") or ""})
            etag = (answer or {}).get("etag") or etag
            changes.extend({"scheduleParams": "schedule", "description": "description"}[field]
                           for field in {op["path"].split("/")[1] for op in ops} - {"transformations"})
            break
        except AepPreconditionFailed:
            if attempt:
                raise
            logger.info("etag stale, re-reading the flow", extra={"flowId": flow_id})
            flow = _get_flow(client, flow_id)
            etag = flow.get("etag")
        except AepValidationError as exc:
            raise _aep_refusal(exc, "schedule") from None
    if new.enabled != old.enabled or (flow.get("state") == "disabled") == new.enabled:
        op = "ENABLE" if new.enabled else "DISABLE"
        answer = client.post("flowservice", f"/flows/{segment(flow_id)}/action", params={"op": op},
                             headers={"If-Match": etag} if etag else None)
        etag = (answer or {}).get("etag") or etag
        changes.append("enabled")
    ids["flowEtag"] = etag
    _save_record(name, record, new_dump, ids)
    claim = get_item(name, "CLAIM")
    if claim and claim.get("status") != "DELETED":
        _table().update_item(Key={"pk": journal_mod.dataflow_key(name), "sk": "CLAIM"},
                             UpdateExpression="SET specHash = :h, updatedAt = :u",
                             ExpressionAttributeValues={":h": spec_hash(new_dump), ":u": _now_iso()})
    return {"name": name, "status": "ACTIVE", "changed": sorted(set(changes)), "etag": etag, "ids": ids,
            "spec": new_dump}


def _save_record(name: str, record: dict[str, Any], spec: dict[str, Any], ids: dict[str, Any]) -> None:
    """Conditional on the record being the one this update read (no lost update)."""
    try:
        _table().update_item(
            Key={"pk": journal_mod.dataflow_key(name), "sk": "RECORD"},
            UpdateExpression="SET #spec = :spec, #ids = :ids, updatedAt = :now, etag = :etag",
            ConditionExpression="#ids = :old_ids",
            ExpressionAttributeNames={"#spec": "spec", "#ids": "ids"},
            ExpressionAttributeValues={":spec": canonical(spec), ":ids": json.dumps(ids), ":now": _now_iso(),
                                       ":old_ids": record["ids"], ":etag": ids.get("flowEtag") or ""})
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            raise DataflowConflict(f"dataflow {name!r} changed while it was being updated; read it and retry",
                                   code="ConcurrentUpdate", status=409) from None
        raise


# --- Delete -----------------------------------------------------------------------------------

def _created_by_aepflow(name: str, record: dict[str, Any], claim: dict[str, Any] | None,
                        spec: DataflowSpec) -> dict[str, str]:
    """kind -> id of what aepflow created for this dataflow, from the roll-back journals of the
    executions that provisioned it; never what the spec only referenced."""
    executions = list((claim or {}).get("executions") or [])
    if record.get("executionId") and record["executionId"] not in executions:
        executions.append(record["executionId"])
    created: dict[str, str] = {}
    for execution in executions:
        for entry in journal_mod.Journal(execution, "").entries_newest_first():
            if entry.get("state") == "created" and entry.get("resourceId"):
                created.setdefault(entry["kind"], entry["resourceId"])
    ids = _record_ids(record)
    # Always aepflow's (named aepflow:<name>:…; a spec cannot reference them).
    for kind in ("flow", "sourceConnection", "targetConnection", "mappingSet"):
        if ids.get(ID_KEY[kind]):
            created[kind] = ids[ID_KEY[kind]]
    if not spec.source.baseConnectionId and ids.get("baseConnectionId"):
        created["baseConnection"] = ids["baseConnectionId"]
    # What the spec references is never deleted, whatever a journal says.
    if spec.source.baseConnectionId:
        created.pop("baseConnection", None)
    if spec.target.schema_.id:
        created.pop("schema", None)
    if spec.target.dataset.id:
        created.pop("dataset", None)
    return created


def delete(name: str) -> dict[str, Any]:
    """Delete the flow, then what aepflow created for it, newest first. Idempotent."""
    record = get_item(name, "RECORD")
    claim = get_item(name, "CLAIM")
    result: dict[str, Any] = {"name": name, "status": "DELETED", "deleted": [], "kept": [], "leftBehind": []}
    if record is None:
        if claim is None:
            raise DataflowNotFound(f"no dataflow named {name!r}", code="DataflowNotFound", status=404)
        if claim.get("status") != "DELETED":
            described = _describe_execution(claim.get("executionArn"))
            if described and described["status"] == "RUNNING":
                raise DataflowConflict(f"dataflow {name!r} is still being provisioned; delete it when it is done",
                                       code="ProvisioningInProgress", status=409)
            _mark_deleted(name, claim)
        result["alreadyDeleted"] = True
        return result
    spec = parse_spec(_record_spec(record))
    client = runtime.aep_client(spec.sandbox)
    created = _created_by_aepflow(name, record, claim, spec)
    ids = _record_ids(record)
    for kind, key in ID_KEY.items():
        if ids.get(key) and kind not in created:
            result["kept"].append({"kind": kind, "id": ids[key], "reason": "referenced by the spec, not created by aepflow"})
    for kind in DELETE_ORDER:
        resource_id = created.get(kind)
        if not resource_id:
            continue
        if kind == "mappingSet":
            result["leftBehind"].append({"kind": kind, "id": resource_id,
                                         "reason": "Data Prep offers no way to delete a mapping set"})
            continue
        try:
            resources.delete_by_kind(client, kind, resource_id)
            result["deleted"].append({"kind": kind, "id": resource_id})
        except AepNotFound:
            result["deleted"].append({"kind": kind, "id": resource_id, "note": "already gone"})
        except AepValidationError as exc:
            if kind == "baseConnection":  # 1418: another flow still uses the account
                result["kept"].append({"kind": kind, "id": resource_id, "reason": f"still in use: {exc.message}"})
                continue
            raise
    _table().delete_item(Key={"pk": journal_mod.dataflow_key(name), "sk": "RECORD"})
    _mark_deleted(name, claim)
    return result


def _mark_deleted(name: str, claim: dict[str, Any] | None) -> None:
    generation = int((claim or {}).get("generation") or 0) + 1
    item = {"pk": journal_mod.dataflow_key(name), "sk": "CLAIM", "name": name, "status": "DELETED",
            "generation": generation, "updatedAt": _now_iso(), "executions": []}
    if claim and claim.get("origin"):
        item["origin"] = claim["origin"]
    _table().put_item(Item=item)


# --- Apply (the intake: a new spec version) ---------------------------------------------------

def apply(raw: Any, *, origin: str | None = None) -> dict[str, Any]:
    """Make the dataflow match `raw`: provision it, change it in place where AEP allows it,
    or replace it (delete, then provision) where AEP requires a new flow."""
    validated = validate_spec(raw)
    spec = validated["spec"]
    name = spec["name"]
    record = get_item(name, "RECORD")
    if record is None:
        claim = get_item(name, "CLAIM")
        if claim and claim.get("status") != "DELETED" and claim.get("specHash") != spec_hash(spec):
            described = _describe_execution(claim.get("executionArn"))
            if described and described["status"] == "RUNNING":
                raise DataflowConflict(f"dataflow {name!r} is still being provisioned from another spec version",
                                       code="ProvisioningInProgress", status=409)
            _mark_deleted(name, claim)  # the failed attempt: start afresh
        return {"action": "provision", **start(spec, origin=origin)}
    current = _record_spec(record)
    if spec_hash(current) == spec_hash(spec):
        return {"action": "none", "name": name, "status": "ACTIVE"}
    differing = {k for k in set(current) | set(spec) if current.get(k) != spec.get(k)}
    if differing <= set(CHANGEABLE):
        patch = {k: spec.get(k) for k in differing}
        return {"action": "update", **update(name, patch)}
    deleted = delete(name)
    return {"action": "replace", "replacedBecause": sorted(differing - set(CHANGEABLE)), "deleted": deleted,
            **start(spec, origin=origin)}


# --- Runs -------------------------------------------------------------------------------------

def runs(name: str, limit: int = 20) -> dict[str, Any]:
    record = get_item(name, "RECORD")
    if record is None:
        raise DataflowNotFound(f"no provisioned dataflow named {name!r}", code="DataflowNotFound", status=404)
    spec = parse_spec(_record_spec(record))
    flow_id = record.get("flowId") or _record_ids(record).get("flowId")
    client = runtime.aep_client(spec.sandbox)
    page = client.get("flowservice", "/runs", params=[
        ("property", f"flowId=={flow_id}"), ("orderby", "-metrics.durationSummary.startedAtUTC"),
        ("limit", str(limit))]) or {}
    now_ms = int(time.time() * 1000)
    summary = []
    for run in page.get("items") or []:
        metrics = run.get("metrics") or {}
        records = metrics.get("recordSummary") or {}
        status = metrics.get("statusSummary") or {}
        summary.append({
            "id": run.get("id"), "status": status.get("status"),
            "startedAt": (metrics.get("durationSummary") or {}).get("startedAtUTC"),
            "completedAt": (metrics.get("durationSummary") or {}).get("completedAtUTC"),
            "recordsRead": records.get("inputRecordCount"), "recordsWritten": records.get("outputRecordCount"),
            "recordsFailed": records.get("failedRecordCount"),
            "problem": monitor.classify(run, spec.alerts, now_ms),
            "errors": [{"code": e.get("code"), "message": e.get("message")} for e in status.get("errors") or []],
        })
    return {"name": name, "flowId": flow_id, "runs": summary}
