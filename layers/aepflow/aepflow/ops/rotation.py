"""Credential rotation: a source secret's value changed (Secrets Manager rotation, or a new version put
by hand), so the base connections aepflow made from it get the new `auth.params`, and nothing else
of their dataflows changes.

Triggered by EventBridge with Secrets Manager's CloudTrail events (the pattern of
docs.aws.amazon.com/secretsmanager/latest/userguide/monitoring-eventbridge.html, "Match events when
a secret value rotates": eventName PutSecretValue, UpdateSecret or RotationSucceeded). For every
record whose spec names that secret (and creates its base connection, rather than referencing one):
read the secret's current version; when it is not the version the record says AEP has, send
`PATCH /connections/{id}` `{"op": "replace", "path": "/auth/params", "value": …}` with If-Match
(seed 002, "Update your connection", sends it in an array; flow-service.yaml types the body as one
PatchInstruction, and the spec wins; a 412 is re-read and sent once more), then test the connection
(`GET /connections/{id}/test`). A refused PATCH or a failed test alerts (SNS, problem
`credentials`); the record then keeps the old version, so the next rotation event tries again."""

from __future__ import annotations

from typing import Any

from aepflow.aep import live as live_mod
from aepflow.aep.client import aep_client
from aepflow.core import aws, settings
from aepflow.core.errors import AepflowError, DataflowNotFound
from aepflow.core.observability import about, logger
from aepflow.core.scrub import scrub
from aepflow.core.settings import RotationSettings
from aepflow.ops.apply.changes import patch_connection, test_connection
from aepflow.spec import secret_names, source_secrets
from aepflow.spec.model import ResolvedSource
from aepflow.spec.parse import build_models, parse_spec
from aepflow.steps.validate import validate_spec
from aepflow.store import records

build_models()  # parse_spec's validators, built at import (spec.build_models)


EVENT_NAMES = ("PutSecretValue", "UpdateSecret", "RotationSucceeded")


def secret_of(event: dict[str, Any]) -> str | None:
    """The secret a Secrets Manager CloudTrail event is about (its name or ARN), or None."""
    detail = event.get("detail") or {}
    if event.get("source") != "aws.secretsmanager" or detail.get("eventName") not in EVENT_NAMES:
        return None
    request = detail.get("requestParameters") or {}
    answer = detail.get("responseElements") or {}
    extra = detail.get("additionalEventData") or {}
    for value in (request.get("secretId"), answer.get("arn"), answer.get("aRN"), extra.get("SecretId")):
        if isinstance(value, str) and value:
            return value
    return None


def _same_secret(a: str | None, b: str | None) -> bool:
    if not a or not b:
        return False
    return source_secrets.name_of(a) == source_secrets.name_of(b)


def users_of(secret: str, limit: int = 100_000) -> list[records.Record]:
    """The records whose spec creates its base connection from `secret`."""
    found = []
    for rec in records.every(limit=limit):
        source = rec.spec.get("source") or {}
        if not source.get("baseConnectionId") and _same_secret(source.get("credentialsSecret"), secret):
            found.append(rec)
    return found


def _alert(rec: records.Record, message: str) -> None:
    topic = settings.load(RotationSettings).alerts_topic_arn
    text = scrub("\n".join([f"Dataflow: {rec.name}", f"Base connection: {rec.ids.get('baseConnectionId')}",
                            "Status: the source's new credentials did not reach AEP, or AEP cannot connect with them",
                            f"Reason: {message}"]))
    aws.aws_client("sns").publish(
        TopicArn=topic, Subject=f"aepflow: credentials of {rec.name} not rotated"[:99], Message=text,
        MessageAttributes={"problem": {"DataType": "String", "StringValue": "credentials"},
                           "severity": {"DataType": "String", "StringValue": "critical"},
                           "dataflow": {"DataType": "String", "StringValue": rec.name}})


def rotate_one(rec: records.Record) -> dict[str, Any]:
    """Send the secret's current value to the record's base connection, if AEP does not have it yet."""
    spec = parse_spec(rec.spec)
    secret_name = spec.source.credentialsSecret or ""
    connection_id = rec.ids.get("baseConnectionId")
    value, version = source_secrets.read_versioned(secret_name)
    if version and rec.credentials.get("version") == version:
        return {"name": rec.name, "action": "none", "reason": "AEP has this version already", "version": version}
    resolved = ResolvedSource.model_validate(validate_spec(rec.spec)["resolved"])
    params = {k: v for k, v in value.items() if not resolved.authParams or k in resolved.authParams}
    client = aep_client(spec.sandbox)
    current = live_mod.get_one(client, "baseConnection", connection_id or "")
    if current is None:
        raise DataflowNotFound(f"base connection {connection_id} of {rec.name} no longer exists in AEP",
                               code="ResourceNotFound", status=404)
    etag = patch_connection(client, "baseConnection", connection_id or "",
                            [{"op": "replace", "path": "/auth/params", "value": params}], current.get("etag"))
    tested = test_connection(client, connection_id or "")
    result: dict[str, Any] = {"name": rec.name, "action": "rotated", "baseConnectionId": connection_id,
                              "version": version, "connectionTest": tested}
    # The connection's new etag is aepflow's doing (not drift); the version is recorded only once
    # AEP could connect with it, so a failed test leaves the next event to send it again.
    credentials = {"secret": secret_name, "version": version} if tested else rec.credentials
    records.save(rec, rec.spec, rec.ids, etags={**rec.etags, "baseConnection": etag}, credentials=credentials)
    if not tested:
        _alert(rec, f"GET /connections/{connection_id}/test answered false after the new credentials were sent")
        result["action"] = "rotated-test-failed"
    return result


def handle(event: dict[str, Any]) -> dict[str, Any]:
    """One Secrets Manager event: every dataflow using the secret gets its new value."""
    secret = secret_of(event)
    if secret is None:
        return {"action": "ignored", "reason": "not a secret value change"}
    if secret_names.boundary_problem(secret):
        return {"action": "ignored", "reason": "not a source secret", "secret": source_secrets.name_of(secret)}
    results = []
    for rec in users_of(secret):
        with about(rec.name, rec.sandbox):
            try:
                results.append(rotate_one(rec))
            except (AepflowError, source_secrets.SecretUnreadable) as exc:
                message = getattr(exc, "message", None) or str(exc)
                logger.warning("rotation failed", extra={"error": scrub(message)})
                _alert(rec, message)
                results.append({"name": rec.name, "action": "failed", "error": scrub(message)})
    return {"action": "rotation", "secret": source_secrets.name_of(secret), "dataflows": results}

