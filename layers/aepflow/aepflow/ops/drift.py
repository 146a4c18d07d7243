"""Drift: AEP changed behind aepflow's back. On its own schedule (the stack's DriftCheckSchedule,
hourly by default) every managed flow and its connections are compared with the record: a flow
disabled, rescheduled, renamed, re-mapped or deleted in the AEP UI, a connection changed.

Bounded: the records come from the Dataflows index (pages of 500), and AEP is read with list queries
filtered by id (live.read_many: IDS_PER_QUERY ids a call, per kind), never one GET per resource; for
1,000 flows that is 4 kinds x 10 calls. Mapping sets are not read: a flow's Mapping transformation
names the mapping set id and version it uses, and a version never changes.

Once per change: the drift found is fingerprinted (what differs and AEP's values) and kept on the
record; an SNS alert (problem `drift`) goes out only when a check stores a fingerprint that was not
stored before (a conditional write: one winner, however many checks overlap). The same drift seen
again is silent; AEP matching the record again clears it; a new difference is a new alert. A failed
publish forgets the fingerprint, so the next check sends it.

`onDrift: revert` in a spec applies the spec again when the drift can be undone in place (apply.py);
what needs a new resource (a flow deleted in AEP) is provisioned again (the state machine makes what
is missing); either way the alert says so."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aepflow.aep import live as live_mod
from aepflow.aep.client import aep_client
from aepflow.aep.live import Live
from aepflow.core import aws, settings
from aepflow.core.errors import AepflowError, ChangeRefused, SpecInvalid
from aepflow.core.observability import about, logger
from aepflow.core.scrub import scrub
from aepflow.core.settings import DriftSettings
from aepflow.ops import start
from aepflow.ops.apply.patch import in_place
from aepflow.ops.plan.compare import expected, field_differences, observed
from aepflow.ops.plan.read import make
from aepflow.spec.parse import build_models, parse_spec, resolve_source
from aepflow.store import claims, records

build_models()  # parse_spec's validators, built at import (spec.build_models)


KINDS = ("flow", "sourceConnection", "baseConnection", "targetConnection")
MACHINE_PROTOCOLS = ("sqs", "lambda", "http", "https", "firehose")


@dataclass
class DriftReport:
    """What one drift check did (the handler's answer, JSON's own types)."""

    checked: int = 0
    drifted: int = 0
    alerted: int = 0
    reverted: int = 0
    unchanged: int = 0  # drift seen before, not alerted again
    cleared: int = 0
    aepCalls: int = 0
    listCalls: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    dataflows: list[dict[str, Any]] = field(default_factory=list)


def _iso(ms: Any) -> str | None:
    try:
        return datetime.fromtimestamp(int(ms) / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (TypeError, ValueError, OverflowError):
        return None


def differences(rec: records.Record, live: Live) -> list[dict[str, Any]]:
    """What AEP has that the record does not say, field by field: old (the record's) -> new (AEP's),
    with who changed the resource and when, as AEP answers it."""
    spec = parse_spec(rec.spec)
    want, have = expected(spec, resolve_source(spec), rec.ids), observed(live)
    out: list[dict[str, Any]] = []
    for kind in KINDS:
        if kind == "baseConnection" and kind not in want:
            continue  # referenced by the spec: not aepflow's to watch
        found = live.of(kind)
        if kind in live.missing:
            out.append({"kind": kind, "id": rec.ids.get(live_mod.ID_KEYS[kind]), "field": "(resource)",
                        "old": "exists", "new": "deleted"})
            continue
        if found is None:
            continue
        who = {"changedBy": found.get("updatedBy"), "changedAt": _iso(found.get("updatedAt"))}
        changes = field_differences(kind, want.get(kind, {}), have.get(kind, {}))
        for change in changes:
            out.append({"kind": kind, "id": found.get("id"), "field": change.field, "old": change.new,
                        "new": change.old, **who})
        recorded = rec.etags.get(kind)
        if not changes and kind != "flow" and recorded and found.get("etag") and found["etag"] != recorded:
            # A change AEP does not show (a connection's credentials): only its version moved.
            out.append({"kind": kind, "id": found.get("id"), "field": "etag", "old": recorded, "new": found["etag"],
                        **who})
    return out


def fingerprint(found: list[dict[str, Any]]) -> str:
    # Who and when are left out: the same difference is the same drift.
    essence = [{k: d.get(k) for k in ("kind", "field", "old", "new")} for d in found]
    return hashlib.sha256(json.dumps(essence, sort_keys=True, default=str).encode()).hexdigest()[:32]


# --- The alert ------------------------------------------------------------------------------------

def alert_text(rec: records.Record, drift: dict[str, Any]) -> str:
    sandbox = rec.sandbox or aep_client().sandbox
    lines = ["Dataflow drifted from its spec [warning]", "", f"Dataflow:   {rec.name}", f"Sandbox:    {sandbox}",
             f"Flow id:    {rec.flow_id}", "", "What differs (aepflow's record -> AEP now):"]
    for d in drift["differences"]:
        who = f" (changed by {d['changedBy']} at {d['changedAt']})" if d.get("changedBy") or d.get("changedAt") else ""
        lines.append(f"  - {d['kind']} {d['field']}: {json.dumps(d['old'], default=str)} -> "
                     f"{json.dumps(d['new'], default=str)}{who}")
    lines.append("")
    if drift.get("reverted") and drift.get("revertNote"):
        lines.append(f"onDrift: revert - aepflow applies the spec again ({drift['revertNote']}).")
    elif drift.get("reverted"):
        lines.append("onDrift: revert - aepflow applied the spec again; AEP matches it now.")
    elif drift.get("revertError"):
        lines.append(f"onDrift: revert - not reverted: {drift['revertError']}")
    else:
        lines.append("Apply the spec again to undo it, or change the spec to keep it (onDrift: revert does it).")
    lines.append(f"Detected at {drift['detectedAt']} by aepflow drift check.")
    return "\n".join(lines)


def publish_args(topic_arn: str, rec: records.Record, drift: dict[str, Any]) -> dict[str, Any]:
    drift = scrub(drift)
    text = alert_text(rec, drift)
    sandbox = rec.sandbox or aep_client().sandbox
    alert = {"problem": "drift", "severity": "warning", "dataflow": rec.name, "sandbox": sandbox,
             "connector": rec.item.get("connector") or "unknown", "flowId": rec.flow_id, **drift}
    doc = json.dumps({"version": 1, "alert": alert, "text": text}, default=str)
    subject = f"Dataflow drifted: {rec.name} ({sandbox})"
    attributes = {"problem": "drift", "severity": "warning", "dataflow": rec.name, "sandbox": sandbox,
                  "flowId": rec.flow_id}
    args: dict[str, Any] = {
        "TopicArn": topic_arn, "Subject": subject if len(subject) < 100 else subject[:96] + "...",
        "MessageStructure": "json",
        "Message": json.dumps({"default": text, "email": text, **{p: doc for p in MACHINE_PROTOCOLS}}),
        "MessageAttributes": {k: {"DataType": "String", "StringValue": str(v)} for k, v in attributes.items() if v}}
    if topic_arn.endswith(".fifo"):
        args["MessageGroupId"] = rec.flow_id or rec.name
        args["MessageDeduplicationId"] = drift["fingerprint"]
    return args


# --- The check --------------------------------------------------------------------------------------

def reapply(rec: records.Record, *, now: float | None = None) -> dict[str, Any]:
    """The record's own spec applied again in place (drift revert), holding the name as a PATCH does."""
    with claims.changing(rec.name):
        plan, inputs = make(parse_spec(rec.spec).model_dump(mode="json", by_alias=True, exclude_none=True), now=now)
        return in_place(plan, inputs, now=now)


def _revert(rec: records.Record) -> tuple[bool, str | None]:
    """Apply the record's spec again: in place where AEP allows it; else (a flow deleted in AEP,
    a connection swapped) a new provisioning of the spec, which makes anew what is missing."""
    try:
        result = reapply(rec)
    except ChangeRefused:
        try:
            # The state machine re-creates what is missing (a draft as a draft: ops/drafts.py).
            started = start.start(rec.spec, again=True, draft=rec.ids.get("draft") is True)
        except AepflowError as exc:
            return False, exc.message
        return True, f"re-provisioning started: {started['executionArn']}"
    except (AepflowError, SpecInvalid) as exc:
        return False, exc.message
    return result.get("status") == "ACTIVE", None


def check(*, sns=None, topic_arn: str | None = None, limit: int = 100_000) -> DriftReport:
    """One drift check of every managed dataflow (at most `limit`)."""
    started = time.monotonic()
    report = DriftReport()
    topic_arn = topic_arn or settings.load(DriftSettings).alerts_topic_arn
    sns = sns or aws.aws_client("sns")
    by_sandbox: dict[str, list[records.Record]] = {}
    for rec in records.every(limit=limit):
        if rec.flow_id:  # a spec without a sandbox is in the AEP credentials' one
            by_sandbox.setdefault(aep_client(rec.sandbox).sandbox, []).append(rec)
    for sandbox, group in by_sandbox.items():
        client = aep_client(sandbox)
        before = client.calls
        lives = live_mod.read_many(client, {r.name: r.ids for r in group}, report.listCalls)
        report.aepCalls += client.calls - before
        for rec in group:
            report.checked += 1
            with about(rec.name, sandbox):
                _check_one(rec, lives[rec.name], sns, topic_arn, report)
    report.seconds = round(time.monotonic() - started, 3)
    return report


def _check_one(rec: records.Record, live: Live, sns, topic_arn: str, report: DriftReport) -> None:
    try:
        found = differences(rec, live)
    except SpecInvalid:
        logger.warning("record's spec no longer parses; not checked")
        return
    if not found:
        if rec.drift:
            records.clear_drift(rec.name)
            report.cleared += 1
        return
    report.drifted += 1
    print_ = fingerprint(found)
    drift: dict[str, Any] = {"fingerprint": print_, "detectedAt": datetime.now(UTC).strftime(
        "%Y-%m-%dT%H:%M:%SZ"), "differences": found, "reverted": False}
    if (rec.drift or {}).get("fingerprint") == print_:
        report.unchanged += 1
        return
    if parse_spec(rec.spec).onDrift == "revert":
        reverted, note = _revert(rec)
        drift["reverted"] = reverted
        if note:
            drift["revertNote" if reverted else "revertError"] = note
        report.reverted += int(reverted)
    if not records.claim_drift(rec.name, print_, drift):
        report.unchanged += 1
        return
    try:
        if topic_arn:
            sns.publish(**publish_args(topic_arn, rec, drift))
    except Exception:  # SNS refused or timed out: the next check sends it again
        logger.exception("drift alert not sent; released for the next check")
        records.release_drift(rec.name, print_)
        return
    report.alerted += 1
    report.dataflows.append({"name": rec.name, "fingerprint": print_, "differences": len(found),
                             "reverted": drift["reverted"]})
