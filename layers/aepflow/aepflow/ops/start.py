"""Starting a provisioning from a spec, whichever door it came through: the API's POST (start), the
bucket and custom events (start_if_changed: nothing when the record holds the spec already). The same
spec under the same name is the same execution; another spec under a name being provisioned is a 409.
A draft (apply --draft, ops/drafts.py) is another request than the same spec published: the execution's
input says `draft: true` and its name ends in -d."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from aepflow.core.errors import DataflowConflict
from aepflow.ops import drafts
from aepflow.ops.executions import describe_execution, execution_arn_for, sfn, state_machine_arn, status_of
from aepflow.spec.digest import spec_hash
from aepflow.spec.parse import build_models
from aepflow.steps.validate import validate_spec
from aepflow.store import claims, records

build_models()  # parse_spec's validators, built at import (spec.build_models)

API = claims.API  # the origin of a spec that came through the API


EXECUTION_NAME_MAX = 80


def execution_name(name: str, digest: str, generation: int = 0, version: int = 0, draft: bool = False) -> str:
    """Deterministic: the same spec (same content) under the same name is the same execution,
    so Step Functions' own StartExecution idempotency makes a second POST start nothing. `version`
    counts the specs applied under the name before (an earlier spec applied again is a new run);
    a draft of a spec is another request than the spec (its own name, -d)."""
    suffix = (f"-v{version}" if version else "") + (f"-{generation}" if generation else "") + ("-d" if draft else "")
    head = name[: EXECUTION_NAME_MAX - 11 - len(suffix)]
    return f"{head}-{digest[:10]}{suffix}"


def start(raw: Any, *, origin: str | None = None, again: bool = False, draft: bool = False) -> dict[str, Any]:
    """Validate `raw` and start its provisioning: a new dataflow, or a new spec of one, which the state
    machine applies (in place where AEP can, replacing what it cannot). Returns {name, executionArn,
    status, started}: `started` is true for exactly one of many identical requests. Raises SpecInvalid
    (every problem by field path) or DataflowConflict (another spec is being provisioned under the name).
    `again`: provision the same spec once more (a drift revert that needs resources made anew).
    `draft`: make the flow an AEP draft (ops/drafts.py), refused first where AEP allows none."""
    validated = validate_spec(raw)
    if draft:
        drafts.check_before_start(validated["spec"], validated["resolved"])
    return start_valid(validated["spec"], origin=origin, again=again, draft=draft)


def start_valid(spec: dict[str, Any], *, origin: str | None = None, again: bool = False,
                draft: bool = False) -> dict[str, Any]:
    """start() of a spec its door has validated already (validate_spec's answer): one validation per
    door, then the state machine's own (an execution can be started directly)."""
    name = spec["name"]
    digest = spec_hash(spec)
    stored = claims.claim_item(name)
    claim = stored if stored and stored.get("status") != "DELETED" else None
    if claim and claim.get("specHash") != digest and not claims.holder_finished(claim, claims.recorded_execution(name)):
        raise DataflowConflict(f"dataflow {name!r} is being provisioned from another spec; try again when it is done",
                               code="ProvisioningInProgress", status=409)
    generation = int((stored or {}).get("generation") or 0)
    if claim and claim.get("specHash") == digest and claim.get("executionHash") == digest \
            and claim.get("executionArn") and not again:
        # The spec the name holds, which the execution holding it provisions (whichever door started
        # it): the same request, so the same answer; nothing is started. (A spec changed in place since,
        # by a PATCH, holds the name now: this one is provisioned again; so is its draft, or the spec
        # of a draft.)
        arn = str(claim["executionArn"])
        described = describe_execution(arn) or {}
        if _asks_draft(described) == draft:
            return {"name": name, "executionArn": arn, "status": status_of(described.get("status")), "started": False}
    exec_name = execution_name(name, digest, generation, len((claim or {}).get("executions") or []), draft)
    claims.reserve(name, digest, stored)
    return _start_execution(spec, digest, generation, claim or stored, origin, exec_name, draft)


def _asks_draft(described: dict[str, Any]) -> bool:
    """Whether a described execution's input asked for a draft (our own input: {spec, draft?})."""
    try:
        given = json.loads(described.get("input") or "{}")
    except ValueError:
        return False
    return isinstance(given, dict) and given.get("draft") is True


def _start_execution(spec: dict[str, Any], digest: str, generation: int, claim: dict | None,
                     origin: str | None, exec_name: str, draft: bool = False) -> dict[str, Any]:
    name = spec["name"]
    payload = json.dumps({"spec": spec, **({"draft": True} if draft else {})}, sort_keys=True, separators=(",", ":"))
    try:
        arn = sfn().start_execution(stateMachineArn=state_machine_arn(), name=exec_name, input=payload)["executionArn"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ExecutionAlreadyExists":
            raise
        # Finished already (Step Functions answers ExecutionAlreadyExists for a closed execution
        # even with the same input): the same request, so the same answer.
        arn = execution_arn_for(exec_name)
        described = describe_execution(arn)
        if described is None or described.get("input") and json.loads(described["input"]) != json.loads(payload):
            raise DataflowConflict(f"execution {exec_name} exists with another input", code="DataflowExists",
                                   status=409) from None
    # StartExecution is idempotent for a running execution of the same name and input: every
    # identical request gets the same ARN. The claim's conditional write says which one started it.
    started = claims.take_start(name, arn)
    claims.hold(name, digest, arn, generation, claim, origin or (claim or {}).get("origin"))
    described = describe_execution(arn) or {}
    return {"name": name, "executionArn": arn, "status": status_of(described.get("status")), "started": started}


def start_if_changed(raw: Any, *, origin: str | None = None) -> dict[str, Any]:
    """Make the dataflow match `raw` (the bucket and custom events): nothing when it does already,
    else a provisioning, which applies the plan in place where AEP can and replaces what it cannot."""
    validated = validate_spec(raw)
    spec = validated["spec"]
    name = spec["name"]
    rec = records.record(name)
    if rec is not None and spec_hash(rec.spec) == spec_hash(spec):
        return {"action": "none", "name": name, "status": "ACTIVE"}
    if rec is None:
        claim = claims.claim(name)
        if claim and claim.get("specHash") != spec_hash(spec) and claims.holder_finished(claim, None):
            claims.mark_deleted(name, claim)  # a failed attempt: start afresh
    return {"action": "apply" if rec is not None else "provision", **start_valid(spec, origin=origin)}
