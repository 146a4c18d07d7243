"""The spec intake (functions/spec_intake), reached through EventBridge:

- S3 "Object Created" for `dataflows/*.yaml|yml|json` in the specs bucket: provision the spec,
  or apply the new version to the dataflow (in place where AEP allows it, a new flow where AEP
  requires one). An invalid spec starts nothing: `<key>.errors.json` is written beside it and
  an SNS notification goes out.
- S3 "Object Created" for `plans/*.yaml|yml|json`: plan the spec and change nothing; the plan
  (what would be created, updated in place or replaced, and why) is written beside it as
  `<key>.plan.json` (an invalid spec gets `<key>.errors.json`). GET calls only.
- S3 "Object Deleted": tear the dataflow down only when TEARDOWN_ON_SPEC_DELETE is "true".
- "aepflow.DataflowRequested" from source "aepflow.requests" on the stack's DataflowRequestsBus (the spec
  in `detail`, or in `detail.spec`); any other source is ignored.

Duplicates and retries of one event are absorbed by Powertools idempotency, keyed on
bucket + key + version id (S3), or on the event id (custom events), persisted in the
dataflows table (store/idempotency.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
from botocore.exceptions import ClientError

from aepflow.core import aws, settings
from aepflow.core.errors import SpecInvalid
from aepflow.core.observability import logger
from aepflow.core.settings import IntakeSettings
from aepflow.ops import delete, start
from aepflow.ops.plan import read as plan_read
from aepflow.spec import document
from aepflow.store import claims, idempotency, origins

PREFIX = "dataflows/"
PLANS_PREFIX = "plans/"
SUFFIXES = (".yaml", ".yml", ".json")
ERRORS_SUFFIX = ".errors.json"
PLAN_SUFFIX = ".plan.json"
REQUESTED = "aepflow.DataflowRequested"
# The one source a request may come from (template.yaml: the rule on DataflowRequestsBus pins it too).
REQUEST_SOURCE = "aepflow.requests"
S3_CREATED, S3_DELETED = "Object Created", "Object Deleted"
IDEMPOTENCY_SECONDS = 7 * 24 * 3600


def _s3():
    return aws.aws_client("s3")


def _now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def event_kind(event: dict[str, Any]) -> str | None:
    detail_type = event.get("detail-type")
    if event.get("source") == "aws.s3" and detail_type in (S3_CREATED, S3_DELETED):
        detail = _object(event.get("detail"))
        name, key = _object(detail.get("bucket")).get("name"), _object(detail.get("object")).get("key")
        # S3 always names the bucket and the key; an event that does not is none of S3's: ignored.
        if not isinstance(name, str) or not name or not isinstance(key, str):
            return None
        if key.endswith((ERRORS_SUFFIX, PLAN_SUFFIX)) or not key.lower().endswith(SUFFIXES):
            return None
        if key.startswith(PLANS_PREFIX):
            return "plan" if detail_type == S3_CREATED else None
        if not key.startswith(PREFIX):
            return None
        return "created" if detail_type == S3_CREATED else "deleted"
    if detail_type == REQUESTED and event.get("source") == REQUEST_SOURCE:
        return "requested"
    return None


def idempotency_key(event: dict[str, Any]) -> str:
    """S3: bucket, key and version (the sequencer when the bucket is unversioned), so the
    same object version delivered twice is one provisioning; custom events: the event id."""
    if event.get("source") == "aws.s3":
        detail = event.get("detail") or {}
        obj = detail.get("object") or {}
        version = obj.get("version-id") or obj.get("sequencer") or event.get("id")
        return f"s3://{(detail.get('bucket') or {}).get('name')}/{obj.get('key')}#{event.get('detail-type')}#{version}"
    return f"event:{event.get('id')}"


def _notify_invalid(where: str, problems: list[dict[str, str]], name: str | None) -> None:
    topic = settings.load(IntakeSettings).alerts_topic_arn
    lines = [f"Spec: {where}", f"Dataflow: {name or '(unnamed)'}", "Status: INVALID (nothing was started)"]
    lines += [f"  - {p.get('path')}: {p.get('message')}" for p in problems]
    aws.aws_client("sns").publish(
        TopicArn=topic, Subject=f"aepflow: invalid spec {where}"[:99], Message="\n".join(lines),
        MessageAttributes={"problem": {"DataType": "String", "StringValue": "spec-invalid"},
                           "severity": {"DataType": "String", "StringValue": "medium"}})


def _read_object(bucket: str, key: str, version: str | None) -> tuple[str, bytes]:
    """(the key that exists, its bytes: at most one byte more than a document may hold, so a
    huge object is refused by document.read without being read whole). EventBridge may deliver
    the key URL-encoded."""
    s3 = _s3()
    last: ClientError | None = None
    for candidate in dict.fromkeys([key, unquote_plus(key)]):
        kwargs: dict[str, Any] = {"Bucket": bucket, "Key": candidate, "Range": f"bytes=0-{document.MAX_DOCUMENT_BYTES}"}
        if version and version != "null":
            kwargs["VersionId"] = version
        try:
            body = s3.get_object(**kwargs)["Body"]
            try:
                return candidate, body.read(document.MAX_DOCUMENT_BYTES + 1)
            finally:
                body.close()
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in ("NoSuchKey", "404", "NoSuchVersion", "InvalidRange"):
                raise
            if exc.response["Error"]["Code"] == "InvalidRange":  # an empty object: no byte 0 to range over
                return candidate, b""
            last = exc
    assert last is not None
    raise last


def error_report(exc: SpecInvalid) -> dict[str, Any]:
    """The error shape the API answers with too: code, message, problems."""
    return {"code": exc.code or "SpecInvalid", "message": exc.message,
            "problems": exc.problems or [{"path": "(spec)", "message": exc.message}]}


def _created(bucket: str, key: str, version: str | None) -> dict[str, Any]:
    key, data = _read_object(bucket, key, version)
    origin = f"s3://{bucket}/{key}"
    raw: Any = None
    try:
        raw = document.read(data, json_only=key.lower().endswith(".json"))
        outcome = start.start_if_changed(raw, origin=origin)
    except SpecInvalid as exc:
        name = raw.get("name") if isinstance(raw, dict) and isinstance(raw.get("name"), str) else None
        report = {**error_report(exc), "bucket": bucket, "key": key, "versionId": version, "name": name,
                  "status": "INVALID", "checkedAt": _now_iso()}
        _s3().put_object(Bucket=bucket, Key=key + ERRORS_SUFFIX, Body=json.dumps(report, indent=1).encode(),
                         ContentType="application/json")
        _notify_invalid(origin, report["problems"], name)
        logger.info("invalid spec", extra={"origin": origin, "problems": len(report["problems"])})
        return {"action": "rejected", "origin": origin, "errorsKey": key + ERRORS_SUFFIX,
                "problems": report["problems"]}
    if outcome.get("action") != "none":
        # The object applied the dataflow: its delete may tear it down (TEARDOWN_ON_SPEC_DELETE). A copy
        # of a spec that changed nothing is no origin of the dataflow.
        origins.applied_from(origin, outcome["name"])
    try:  # a stale error report of an earlier version would mislead
        _s3().delete_object(Bucket=bucket, Key=key + ERRORS_SUFFIX)
    except ClientError:
        pass
    return {"origin": origin, **outcome}


def _planned(bucket: str, key: str, version: str | None) -> dict[str, Any]:
    """A spec under plans/: its plan beside it, nothing changed."""
    key, data = _read_object(bucket, key, version)
    try:
        report: dict[str, Any] = plan_read.of(document.read(data, json_only=key.lower().endswith(".json")))
        written, action = key + PLAN_SUFFIX, "planned"
    except SpecInvalid as exc:
        report = {**error_report(exc), "status": "INVALID"}
        written, action = key + ERRORS_SUFFIX, "rejected"
    report.update(bucket=bucket, key=key, versionId=version, checkedAt=_now_iso())
    _s3().put_object(Bucket=bucket, Key=written, Body=json.dumps(report, indent=1, default=str).encode(),
                     ContentType="application/json")
    return {"action": action, "origin": f"s3://{bucket}/{key}", "written": written, "plan": report.get("action")}


def _deleted(bucket: str, key: str) -> dict[str, Any]:
    origin = f"s3://{bucket}/{key}"
    if not settings.load(IntakeSettings).teardown_on_spec_delete:
        return {"action": "kept", "origin": origin, "reason": "TeardownOnSpecDelete is off"}
    name = origins.dataflow_from(origin)
    if not name:
        return {"action": "none", "origin": origin, "reason": "no dataflow came from this object"}
    last = (claims.claim(name) or {}).get("origin")
    if last != origin:
        # Another object, the API or an execution applied the dataflow since: this file no longer
        # describes it, and its delete tears nothing down.
        return {"action": "kept", "origin": origin, "name": name,
                "reason": f"dataflow {name!r} was last applied from {last or 'elsewhere'}, not this object"}
    return {"action": "delete", "origin": origin, **delete.delete(name)}


def _requested(event: dict[str, Any]) -> dict[str, Any]:
    detail = event.get("detail") or {}
    raw = detail.get("spec", detail) if isinstance(detail, dict) else detail
    where = f"event {event.get('id')} from {event.get('source')}"
    try:
        return start.start_if_changed(document.read(raw), origin=f"event:{event.get('id')}")
    except SpecInvalid as exc:
        name = raw.get("name") if isinstance(raw, dict) and isinstance(raw.get("name"), str) else None
        report = error_report(exc)
        _notify_invalid(where, report["problems"], name if isinstance(name, str) and len(name) <= 64 else None)
        return {"action": "rejected", "origin": where, **report}


def process(request: dict[str, Any]) -> dict[str, Any]:
    event = request["event"]
    kind = event_kind(event)
    if kind == "requested":
        return _requested(event)
    detail = event.get("detail") or {}
    bucket: str = detail["bucket"]["name"]  # event_kind: a non-empty name, or the event is ignored
    obj = detail.get("object") or {}
    if kind == "created":
        return _created(bucket, obj["key"], obj.get("version-id"))
    if kind == "plan":
        return _planned(bucket, obj["key"], obj.get("version-id"))
    return _deleted(bucket, obj["key"])


def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if event_kind(event) is None:
        return {"action": "ignored", "detailType": event.get("detail-type")}
    once, config = _idempotent()
    if context is not None:
        config.register_lambda_context(context)
    return once(request={"key": idempotency_key(event), "event": event})


def _idempotent() -> tuple[Any, IdempotencyConfig]:
    """process() wrapped by Powertools idempotency, built once per process (and per reset of its
    clients) on the store's persistence layer: building it per event made a boto3 client, and loaded
    its service model, every time."""
    def build() -> tuple[Any, IdempotencyConfig]:
        config = IdempotencyConfig(event_key_jmespath="key", raise_on_no_idempotency_key=True,
                                   expires_after_seconds=IDEMPOTENCY_SECONDS)
        return idempotent_function(data_keyword_argument="request", persistence_store=idempotency.persistence(),
                                   config=config)(process), config

    return aws.cached("intake-idempotent", build)
