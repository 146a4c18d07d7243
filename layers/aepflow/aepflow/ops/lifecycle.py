"""A dataflow's life after its spec, as the doors see it: start provisioning, describe, change,
delete. The API (api.py), the bucket and custom events (intake.py) and the CLI call these.

Where the parts live: the record store is records.py, the plan plan.py, the apply apply.py, runs
runs.py, drift drift.py, adopt adopt.py, credential rotation rotation.py; provisioning itself is
the state machine's (provisioning.py)."""

from __future__ import annotations

import json
import os
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from aepflow.ops.apply import patch as apply_patch
from aepflow.ops.created import created_by_aepflow

from aepflow.aep.client import aep_client
from aepflow.store import journal as journal_mod
from aepflow.aep import live as live_mod
from aepflow.ops.plan import read as plan_read
from aepflow.ops.plan.model import ID_KEY
from aepflow.store import records
from aepflow.aep import resources
from aepflow.core import aws
from aepflow.core.errors import AepNotFound, AepValidationError, ChangeRefused, DataflowConflict, DataflowNotFound, DataflowPreconditionFailed
from aepflow.steps.validate import validate_spec
from aepflow.spec.model import build_models, parse_spec

build_models()  # parse_spec's validators, built at import (spec.build_models)

logger = Logger(child=True)

__all__ = ["ChangeRefused", "DataflowConflict", "DataflowNotFound", "DataflowPreconditionFailed", "adopt", "apply",
           "delete", "describe", "list_dataflows", "plan", "runs", "start", "start_run", "update"]

# Delete order: the flow first, then what it used, dependants before what they depend on.
DELETE_ORDER = ("flow", "mappingSet", "targetConnection", "sourceConnection", "dataset", "schema", "baseConnection")
EXECUTION_NAME_MAX = 80

canonical, spec_hash = records.canonical, records.spec_hash
API = records.API  # the origin of a spec that came through the API


def _sfn():
    return aws.aws_client("stepfunctions")


def execution_name(name: str, digest: str, generation: int = 0, version: int = 0) -> str:
    """Deterministic: the same spec (same content) under the same name is the same execution,
    so Step Functions' own StartExecution idempotency makes a second POST start nothing. `version`
    counts the specs applied under the name before (an earlier spec applied again is a new run)."""
    suffix = (f"-v{version}" if version else "") + (f"-{generation}" if generation else "")
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
        answer = aws.aws_client("cloudformation").describe_stack_resource(
            StackName=os.environ["AEPFLOW_STACK_NAME"], LogicalResourceId="ProvisionDataflowStateMachine")
        _state_machine_arn["arn"] = answer["StackResourceDetail"]["PhysicalResourceId"]
    return _state_machine_arn["arn"]


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

def start(raw: Any, *, origin: str | None = None, again: bool = False) -> dict[str, Any]:
    """Validate `raw` and start its provisioning: a new dataflow, or a new spec of one, which the state
    machine applies (in place where AEP can, replacing what it cannot). Returns {name, executionArn,
    status, started}: `started` is true for exactly one of many identical requests. Raises SpecInvalid
    (every problem by field path) or DataflowConflict (another spec is being provisioned under the name).
    `again`: provision the same spec once more (a drift revert that needs resources made anew)."""
    validated = validate_spec(raw)
    spec = validated["spec"]
    name = spec["name"]
    digest = spec_hash(spec)
    stored = records.claim_item(name)
    claim = stored if stored and stored.get("status") != "DELETED" else None
    if claim and claim.get("specHash") != digest and not records.holder_finished(claim, records.record(name)):
        raise DataflowConflict(f"dataflow {name!r} is being provisioned from another spec; try again when it is done",
                               code="ProvisioningInProgress", status=409)
    generation = int((stored or {}).get("generation") or 0)
    if claim and claim.get("specHash") == digest and claim.get("executionHash") == digest \
            and claim.get("executionArn") and not again:
        # The spec the name holds, which the execution holding it provisions (whichever door started
        # it): the same request, so the same answer; nothing is started. (A spec changed in place since,
        # by a PATCH, holds the name now: this one is provisioned again.)
        arn = str(claim["executionArn"])
        return {"name": name, "executionArn": arn, "status": _status_of((_describe_execution(arn) or {}).get("status")),
                "started": False}
    exec_name = execution_name(name, digest, generation, len((claim or {}).get("executions") or []))
    records.reserve(name, digest, stored)
    return _start_execution(spec, digest, generation, claim or stored, origin, exec_name)


def _start_execution(spec: dict[str, Any], digest: str, generation: int, claim: dict | None,
                     origin: str | None, exec_name: str) -> dict[str, Any]:
    name = spec["name"]
    payload = json.dumps({"spec": spec}, sort_keys=True, separators=(",", ":"))
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
    # StartExecution is idempotent for a running execution of the same name and input: every
    # identical request gets the same ARN. The claim's conditional write says which one started it.
    started = records.take_start(name, arn)
    records.hold(name, digest, arn, generation, claim, origin or (claim or {}).get("origin"))
    described = _describe_execution(arn) or {}
    return {"name": name, "executionArn": arn, "status": _status_of(described.get("status")), "started": started}


def _status_of(execution_status: str | None) -> str:
    return {"RUNNING": "PROVISIONING", "SUCCEEDED": "ACTIVE", None: "PROVISIONING"}.get(
        execution_status, "FAILED")


# --- Describe ---------------------------------------------------------------------------------

def _live_flow(client, flow_id: str | None) -> dict[str, Any] | None:
    if not flow_id:
        return None
    flow = live_mod._get(client, "flow", flow_id)
    if flow is None:
        return {"id": flow_id, "state": "missing"}
    return {"id": flow["id"], "state": flow.get("state"), "etag": flow.get("etag"),
            "scheduleParams": flow.get("scheduleParams"), "description": flow.get("description"),
            "transformations": flow.get("transformations"), "lastOperation": flow.get("lastOperation"),
            "updatedAt": flow.get("updatedAt"), "updatedBy": flow.get("updatedBy")}


def describe(name: str, *, live: bool = True) -> dict[str, Any]:
    rec = records.record(name)
    claim = records.claim(name)
    if rec is None and claim is None:
        raise DataflowNotFound(f"no dataflow named {name!r}", code="DataflowNotFound", status=404)
    view: dict[str, Any] = {"name": name, "status": "PROVISIONING", "executionArn": None, "errors": [],
                            "spec": None, "ids": {}, "updatedAt": None, "flow": None, "drift": None}
    if claim and claim.get("executionArn"):
        view["executionArn"] = claim.get("executionArn")
        described = _describe_execution(claim.get("executionArn"))
        view["status"] = _status_of((described or {}).get("status"))
        view["steps"] = execution_steps(claim.get("executionArn"))
        if view["status"] == "FAILED":
            view["errors"] = _outcome_errors(claim["executionArn"])
    elif claim:  # an adopted dataflow: never provisioned by aepflow
        view["status"] = "ACTIVE" if rec else "PROVISIONING"
    if rec:
        view.update(spec=rec.spec, ids=rec.ids, updatedAt=rec.item.get("updatedAt"),
                    connector=rec.item.get("connector"), drift=rec.drift)
        view["executionArn"] = view["executionArn"] or rec.item.get("executionId")
        # A running re-provisioning (a new spec version) keeps the dataflow ACTIVE meanwhile.
        if view["status"] == "FAILED" and claim and claim.get("executionArn") != rec.item.get("executionId"):
            view["status"] = "ACTIVE"
        elif view["status"] != "FAILED":
            view["status"] = "ACTIVE" if not claim or view["status"] == "ACTIVE" else view["status"]
        if live:
            view["flow"] = _live_flow(aep_client(rec.sandbox), rec.ids.get("flowId"))
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
    for page in records.pages(start_after=cursor, page_size=limit + 1):
        items.extend(page)
        if len(items) > limit:
            break
    more, items = len(items) > limit, items[:limit]
    return {"items": [{"name": i["name"], "status": i.get("status"), "connector": i.get("connector"),
                       "flowId": i.get("flowId"), "updatedAt": i.get("updatedAt")} for i in items],
            "next": items[-1]["name"] if more else None}


# --- Change -----------------------------------------------------------------------------------

def update(name: str, patch: dict[str, Any], *, if_match: str | None = None,
           now: float | None = None) -> dict[str, Any]:
    """PATCH: a JSON Merge Patch over the spec, planned and applied in place (apply.patch)."""
    return apply_patch.patch(name, patch, if_match=if_match, now=now)


def plan(raw: Any) -> dict[str, Any]:
    """What applying `raw` would do, from the live AEP resources and the record (GETs only)."""
    return plan_read.of(raw)


# --- Runs and adopt (their own modules; here for the doors) --------------------------------------
# Imported when called: the bucket's intake, which also starts and deletes through this module,
# never adopts or runs a flow, and its cold start does without them (and the monitor's classify).

def runs(name: str, limit: int = 20) -> dict[str, Any]:
    from aepflow.ops import dataflow_runs as runs_mod

    return runs_mod.recent(name, limit=limit)


def start_run(name: str, window: dict[str, Any] | None = None) -> dict[str, Any]:
    from aepflow.ops import dataflow_runs as runs_mod

    return runs_mod.start(name, window)


def adopt(flow_id: str, *, name: str | None = None, sandbox: str | None = None) -> dict[str, Any]:
    from aepflow.ops import adopt as adopt_mod

    return adopt_mod.adopt(flow_id, name=name, sandbox=sandbox)


# --- Delete -----------------------------------------------------------------------------------

# What a delete keeps unless asked: what the dataflow ingested into.
DATA_KINDS = ("dataset", "schema")
KEPT_DATA = ("it holds the data the dataflow ingested: kept (delete it with the dataflow with ?deleteData=true, "
             "`aepflow delete --delete-data`, or the spec's onDelete: {dataset: delete})")


def delete(name: str, *, delete_data: bool = False) -> dict[str, Any]:
    """Delete the flow, then what aepflow created for it, newest first; the dataset and the schema aepflow
    created are kept (with what was ingested) unless `delete_data` or the spec's onDelete says so. Refused
    (409) while an execution provisions the name. Idempotent."""
    rec = records.record(name)
    claim = records.claim_item(name)
    result: dict[str, Any] = {"name": name, "status": "DELETED", "deleted": [], "kept": [], "leftBehind": []}
    if rec is None:
        if claim is None:
            raise DataflowNotFound(f"no dataflow named {name!r}", code="DataflowNotFound", status=404)
        if claim.get("status") != "DELETED":
            described = _describe_execution(claim.get("executionArn"))
            if described and described["status"] == "RUNNING":
                raise DataflowConflict(f"dataflow {name!r} is still being provisioned; delete it when it is done",
                                       code="ProvisioningInProgress", status=409)
            records.mark_deleted(name, claim)
        result["alreadyDeleted"] = True
        return result
    apply_patch.refuse_while_provisioning(name)
    with records.changing(name):
        rec = records.record(name)
        if rec is None:  # deleted meanwhile
            return {**result, "alreadyDeleted": True}
        _delete_resources(rec, result, delete_data=delete_data)
        records.delete(name, rec)
        records.mark_deleted(name, records.claim_item(name))
    return result


def _delete_resources(rec: records.Record, result: dict[str, Any], *, delete_data: bool) -> None:
    spec = parse_spec(rec.spec)
    client = aep_client(spec.sandbox)
    created = created_by_aepflow(rec, spec)
    delete_data = delete_data or spec.onDelete.dataset == "delete"
    for kind, key in ID_KEY.items():
        if rec.ids.get(key) and kind not in created:
            result["kept"].append({"kind": kind, "id": rec.ids[key],
                                   "reason": "referenced by the spec, not created by aepflow"})
    for kind in DELETE_ORDER:
        resource_id = created.get(kind)
        if not resource_id:
            continue
        if kind in DATA_KINDS and not delete_data:
            result["kept"].append({"kind": kind, "id": resource_id, "reason": KEPT_DATA})
            continue
        if kind == "mappingSet":
            result["leftBehind"].append({"kind": kind, "id": resource_id,
                                         "reason": journal_mod.MAPPING_SET_KEPT})
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


# --- Apply (the bucket and custom events: a new spec version) ------------------------------------

def apply(raw: Any, *, origin: str | None = None) -> dict[str, Any]:
    """Make the dataflow match `raw` (the bucket and custom events): nothing when it does already,
    else a provisioning, which applies the plan in place where AEP can and replaces what it cannot."""
    validated = validate_spec(raw)
    spec = validated["spec"]
    name = spec["name"]
    rec = records.record(name)
    if rec is not None and spec_hash(rec.spec) == spec_hash(spec):
        return {"action": "none", "name": name, "status": "ACTIVE"}
    if rec is None:
        claim = records.claim(name)
        if claim and claim.get("specHash") != spec_hash(spec) and records.holder_finished(claim, None):
            records.mark_deleted(name, claim)  # a failed attempt: start afresh
    return {"action": "apply" if rec is not None else "provision", **start(spec, origin=origin)}
