"""The provisioning's executions as Step Functions holds them: the state machine (found through
CloudFormation), an execution's status, its steps so far and the errors its roll-back recorded."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from aepflow.core import aws, settings
from aepflow.core.settings import StarterSettings
from aepflow.store import journal


def sfn():
    return aws.aws_client("stepfunctions")


_state_machine_arn: dict[str, str] = {}


def state_machine_arn() -> str:
    """The provisioning state machine. Its ARN cannot be a Globals variable (every step
    function would then depend on the state machine that depends on them), so it is read
    once from CloudFormation (the stack's name: StarterSettings) and cached; the local stack
    gives it as CloudFormation would answer."""
    cfg = settings.load(StarterSettings)
    if cfg.provision_state_machine_arn:
        return cfg.provision_state_machine_arn
    if "arn" not in _state_machine_arn:
        answer = aws.aws_client("cloudformation").describe_stack_resource(
            StackName=cfg.stack_name, LogicalResourceId="ProvisionDataflowStateMachine")
        _state_machine_arn["arn"] = answer["StackResourceDetail"]["PhysicalResourceId"]
    return _state_machine_arn["arn"]


def describe_execution(arn: str | None) -> dict[str, Any] | None:
    if not arn:
        return None
    try:
        return sfn().describe_execution(executionArn=arn)
    except ClientError as exc:
        if exc.response["Error"]["Code"] in ("ExecutionDoesNotExist", "InvalidArn"):
            return None
        raise


def execution_arn_for(name: str) -> str:
    machine = state_machine_arn()
    return machine.replace(":stateMachine:", ":execution:") + f":{name}"


def outcome_errors(execution_arn: str) -> list[dict[str, Any]]:
    outcome = journal.get_outcome(execution_arn) or {}
    try:
        return json.loads(outcome.get("errors") or "[]")
    except ValueError:
        return []


def what_happened(execution_arn: str | None, status: str) -> dict[str, Any]:
    """What a provisioning did, as its result says it: for an ACTIVE one, the action (create, or the
    applied plan's update, replace or none), the fields it changed and why it replaced; for a FAILED
    one, what the roll-back deleted and what it left behind (and why). Empty while it runs."""
    if not execution_arn or status not in ("ACTIVE", "FAILED"):
        return {}
    if status == "FAILED":
        outcome = journal.get_outcome(execution_arn) or {}
        return {key: _json_list(outcome.get(key)) for key in ("rolledBack", "leftBehind")}
    applied = journal.applied(execution_arn)
    if not applied:  # no plan was applied: the execution made the dataflow
        return {"action": "create", "changed": []}
    # An update lists the fields it changed; a replacement, the planned changes that made it one.
    changed = applied.get("changed") or [f"{r.get('kind')}.{field}" for r in applied.get("plan") or []
                                         for field in r.get("changes") or []]
    found: dict[str, Any] = {"action": applied.get("action") or "create", "changed": changed}
    if applied.get("replacedBecause"):
        found["replacedBecause"] = applied["replacedBecause"]
    return found


def _json_list(text: Any) -> list[Any]:
    try:
        value = json.loads(text or "[]")
    except (TypeError, ValueError):
        return []
    return value if isinstance(value, list) else []


def status_of(execution_status: str | None) -> str:
    return {"RUNNING": "PROVISIONING", "SUCCEEDED": "ACTIVE", None: "PROVISIONING"}.get(
        execution_status, "FAILED")


# The provisioning's task states, the steps a user waits for (the Pass/Choice/Parallel states are
# plumbing). Read from the execution history: at most this many events.
HISTORY_EVENTS = 500


def execution_steps(arn: str | None) -> list[dict[str, str]]:
    """The provisioning's steps so far, in order: {step, status} with status running, done or
    failed, from the execution's history (one page of at most HISTORY_EVENTS events)."""
    if not arn:
        return []
    try:
        events = sfn().get_execution_history(executionArn=arn, maxResults=HISTORY_EVENTS)["events"]
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
