"""Roll back what a failed execution created, newest first, from its journal; record the outcome;
and the failure notification the state machine publishes to SNS."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from aepflow.aep import resources
from aepflow.aep.client import aep_client
from aepflow.core import scrub
from aepflow.core.errors import AepflowError, AepNotFound, BucketPolicyRefused, step
from aepflow.core.observability import logger
from aepflow.s3 import grants
from aepflow.store import journal, owners


def describe_failure(error: dict[str, Any] | None) -> dict[str, Any]:
    """The Catch's {Error, Cause} as aepflow's error dict (type, code, message, step, ...)."""
    error = error or {}
    cause: Any = error.get("Cause") or ""
    try:
        cause = json.loads(cause)
    except (TypeError, ValueError):
        pass
    message = cause.get("errorMessage") if isinstance(cause, dict) else cause
    try:
        parsed = json.loads(message) if isinstance(message, str) else None
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and "message" in parsed:
        return parsed
    return {"type": error.get("Error") or "Error", "message": str(message or error.get("Error") or "unknown")[:1000]}


@dataclass
class RollBackResult:
    """What a roll-back did, as the state machine's Notify and the outcome record say it (JSON's
    own types: a step after validation imports no pydantic)."""

    status: str
    name: str | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)
    rolledBack: list[dict[str, str]] = field(default_factory=list)
    leftBehind: list[dict[str, str]] = field(default_factory=list)


def _remove_grant(grant_id: str) -> str:
    """Take the statements a "bucketGrant" entry names out of its bucket's policy (gone already: done)."""
    try:
        grant = grants.Grant.of_id(grant_id)
    except ValueError as exc:
        raise BucketPolicyRefused(f"the journal's bucket grant cannot be read back: {exc}") from None
    grants.remove(grant)
    return grant.id


@step("roll-back")
def roll_back(state: dict[str, Any], execution: str) -> RollBackResult:
    failure = describe_failure(state.get("error"))
    spec_raw = state.get("spec") or {}
    name = spec_raw.get("name") if isinstance(spec_raw, dict) else None
    status = "INVALID" if failure.get("type") == "SpecInvalid" else "FAILED"
    result = RollBackResult(status=status, name=name if isinstance(name, str) else None, errors=[failure])
    if status == "FAILED" and "resolved" in state:
        client = aep_client((spec_raw or {}).get("sandbox"))
        entries = journal.Journal(execution, client.sandbox)
        journal.begin_roll_back(execution)  # before the journal is read: see journal.ROLLING_BACK
        for entry in entries.entries_newest_first():
            kind, resource_id = entry["kind"], entry.get("resourceId")
            if entry.get("state") in ("deleted", "left-behind", "found"):  # "found": not this execution's
                continue
            try:
                if kind == grants.KIND:  # statements in a bucket's policy, not an AEP resource
                    resource_id = resource_id or entry["name"]  # "intended": the policy may hold them
                    resource_id = _remove_grant(resource_id)
                    entries.mark(entry["sk"], "deleted")
                    result.rolledBack.append({"kind": kind, "id": resource_id})
                    continue
                resource_id = resource_id or resources.find_id_by_name(client, kind, entry["name"])
                if not resource_id:
                    entries.mark(entry["sk"], "deleted")
                    continue
                if kind == "flow" and owners.flow_owner(resource_id) not in (None, name):
                    # Found by its name on a retry, and another dataflow's: never this roll-back's to delete.
                    entries.mark(entry["sk"], "found")
                    continue
                if kind == "mappingSet":
                    # Data Prep's API has no DELETE for mapping sets (data-prep.yaml); a re-run finds
                    # and reuses this one by name, so it is never duplicated.
                    result.leftBehind.append({"kind": kind, "id": resource_id,
                                              "reason": journal.MAPPING_SET_KEPT})
                    entries.mark(entry["sk"], "left-behind")
                    continue
                try:
                    resources.delete_by_kind(client, kind, resource_id)
                except AepNotFound:
                    pass  # already gone: what roll-back wants
                entries.mark(entry["sk"], "deleted")
                result.rolledBack.append({"kind": kind, "id": resource_id})
            except AepflowError as exc:
                logger.error("roll-back could not delete", extra={"dataflow": result.name, "sandbox": client.sandbox,
                                                                   "kind": kind, "id": resource_id,
                                                                   "error": exc.to_dict()})
                result.leftBehind.append({"kind": kind, "id": str(resource_id), "reason": exc.message})
    journal.put_outcome(execution, {"status": result.status, "name": result.name or "",
                                    "errors": json.dumps(result.errors), "rolledBack": json.dumps(result.rolledBack),
                                    "leftBehind": json.dumps(result.leftBehind)})
    return result


def failure_notification(result: RollBackResult, sandbox: str | None) -> dict[str, str]:
    error = result.errors[0] if result.errors else {}
    what = "invalid" if result.status == "INVALID" else "failed"
    subject = f"aepflow: dataflow {result.name or '(unnamed)'} {what}"
    if sandbox:
        subject += f" in {sandbox}"
    lines = [f"Dataflow: {result.name or '(unnamed)'}", f"Status: {result.status}",
             f"Step: {error.get('step', '-')}", f"Error: {error.get('code') or error.get('type', '-')}",
             f"Message: {error.get('message', '-')}"]
    for problem in error.get("problems") or []:
        lines.append(f"  - {problem.get('path')}: {problem.get('message')}")
    if result.rolledBack:
        lines.append("Rolled back: " + ", ".join(f"{r['kind']} {r['id']}" for r in result.rolledBack))
    if result.leftBehind:
        lines.append("Left behind: " + ", ".join(f"{r['kind']} {r['id']} ({r['reason']})" for r in result.leftBehind))
    return {"subject": scrub.scrub(subject[:99]), "message": scrub.scrub("\n".join(lines))}
