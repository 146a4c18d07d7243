"""Alerts: what a problem says (subject, text, JSON, attributes) and how it reaches SNS
exactly once.

Exactly once, step by step (the claims are store/alerts.py's):
1. claim: a conditional PutItem (`attribute_not_exists(pk)`) of the alert item
   `pk="ALERT#<flowId>#<runId|due-<ms>>#<kind>"`, `sk="ALERT"`, state `pending`, with the whole
   message and `leaseUntil`; then a marker `pk="MONITOR#PENDING"`, `sk=<alert pk>`. Only one
   poll can win the claim, however many overlap. A loser reads the alert; if it is still
   pending it re-puts the marker (the owner may have died between the two writes), then
   skips the problem, which is durably recorded, so it may move the watermark past it.
   (Two writes rather than one transaction: moto's transactions copy the table, and the
   marker repair above makes the pair safe without one.)
2. publish to SNS, then 3. mark sent: set `state=sent`, then delete the marker (a marker
   left by a crash here is cleaned up by the sweep).
4. sweep: every poll lists `MONITOR#PENDING`; a pending alert whose lease has run out (its
   owner crashed or SNS refused it) is taken over with a conditional update on `leaseUntil`
   and published again.

Trade-off (chosen: never missed). A crash after step 2 and before step 3 leaves a pending
alert that the sweep re-publishes once its lease has expired: one duplicate, in a window of
milliseconds, instead of a silent miss. The lease is the owner's remaining Lambda time plus a
margin, so a slow but living owner is never overtaken. When the topic is FIFO (`.fifo`),
MessageDeduplicationId is the alert key, so SNS drops even that duplicate within its
5-minute window. A failed publish releases the lease at once, so the next poll retries.

Message format: SNS `MessageStructure="json"`. `default` and `email` carry the text for
people; `sqs`, `lambda`, `http`, `https` and `firehose` carry the JSON document
`{"version": 1, "alert": {...}, "text": "..."}` for machines. MessageAttributes: severity,
problem, dataflow, sandbox, connector (plus flowId, runId) for subscription filters.
No secrets: the spec (which names credential secrets) is never copied into an alert, and
error messages from AEP pass through `redact`.
"""
from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aepflow.core.observability import logger
from aepflow.core.scrub import scrub
from aepflow.store import alerts as claims

SEVERITY = {"failed": "critical", "stuck": "critical", "partial": "warning", "overdue": "warning",
            "recovered": "info"}
TITLE = {"failed": "Dataflow run failed", "partial": "Dataflow run had failed records",
         "stuck": "Dataflow run stuck", "overdue": "Dataflow run overdue", "recovered": "Dataflow recovered"}
MACHINE_PROTOCOLS = ("sqs", "lambda", "http", "https", "firehose")
_SECRETISH = re.compile(r"(?i)\b(password|passwd|secret|token|api[_-]?key|client[_-]?secret|authorization)"
                        r"(\s*[=:]\s*|\s+)(\"[^\"]*\"|'[^']*'|\S+)")


def alert_key(flow_id: str, run_id: str, kind: str) -> str:
    """A run's alert key, the same whichever path saw the run first (the poll, a flow-run event)."""
    return f"ALERT#{flow_id}#{run_id}#{kind}"


def redact(text: Any) -> str:
    return _SECRETISH.sub(lambda m: f"{m.group(1)}{m.group(2)}***", str(text))


def iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(int(ms) / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def run_errors(run: dict) -> list[dict]:
    """Every error code and message of a run: statusSummary.errors, then each activity's
    statusSummary.errors and statusSummary.extensions.errors; exact repeats once."""
    out: list[dict] = []
    seen: set[tuple] = set()

    def add(errors, where):
        for e in errors or []:
            if not isinstance(e, dict):
                continue
            key = (e.get("code"), e.get("message"), e.get("recordCount"))
            if key in seen:
                continue
            seen.add(key)
            item = {"code": str(e.get("code", "")), "message": redact(e.get("message", "")), "source": where}
            if e.get("recordCount") is not None:
                item["recordCount"] = e["recordCount"]
            out.append(item)

    add(((run.get("metrics") or {}).get("statusSummary") or {}).get("errors"), "run")
    for act in run.get("activities") or []:
        ss = act.get("statusSummary") or {}
        add(ss.get("errors"), act.get("id", "activity"))
        add((ss.get("extensions") or {}).get("errors"), act.get("id", "activity"))
    return out


def run_links(run: dict) -> dict:
    links: dict[str, str] = {}
    for act in run.get("activities") or []:
        manifest = (((act.get("statusSummary") or {}).get("extensions") or {}).get("manifest") or {})
        for k in ("failedRecords", "sampleErrors"):
            if manifest.get(k) and k not in links:
                links[k] = manifest[k]
    return links


def build_alert(kind: str, flow: dict, run: dict | None, *, now_ms: int, detail: dict | None = None) -> dict:
    """The alert document. `flow` is the monitor's view of a managed dataflow: name,
    sandbox, connector, flowId, alerts, schedule."""
    alert: dict[str, Any] = {
        "problem": kind, "severity": SEVERITY[kind], "dataflow": flow["name"], "sandbox": flow["sandbox"],
        "connector": flow.get("connector") or "unknown", "flowId": flow["flowId"], "detectedAt": iso(now_ms),
    }
    if run is not None:
        m = run.get("metrics") or {}
        rs = m.get("recordSummary") or {}
        ds = m.get("durationSummary") or {}
        read, written, failed = rs.get("inputRecordCount"), rs.get("outputRecordCount"), rs.get("failedRecordCount")
        alert.update({
            "runId": run.get("id"), "status": (m.get("statusSummary") or {}).get("status") or run.get("state"),
            "startedAt": iso(ds.get("startedAtUTC")), "completedAt": iso(ds.get("completedAtUTC")),
            "records": {"read": read, "written": written, "failed": failed,
                        "failedPercent": round(failed * 100 / read, 3) if read and failed is not None else None},
            "errors": run_errors(run), "links": run_links(run),
        })
    alert.update(detail or {})
    return alert


def subject(alert: dict) -> str:
    text = f"{TITLE[alert['problem']]}: {alert['dataflow']} ({alert['sandbox']})"
    text = re.sub(r"[^\x20-\x7e]", "?", text)  # SNS: printable ASCII, no line breaks
    return text if len(text) < 100 else text[:96] + "..."


def text(alert: dict) -> str:
    lines = [f"{TITLE[alert['problem']]} [{alert['severity']}]", "",
             f"Dataflow:   {alert['dataflow']}", f"Sandbox:    {alert['sandbox']}",
             f"Connector:  {alert['connector']}", f"Flow id:    {alert['flowId']}"]
    if alert.get("runId"):
        rec = alert.get("records") or {}
        pct = f" ({rec['failedPercent']}%)" if rec.get("failedPercent") is not None else ""
        lines += [f"Run id:     {alert['runId']}", f"Status:     {alert.get('status')}",
                  f"Started:    {alert.get('startedAt') or '-'}",
                  f"Completed:  {alert.get('completedAt') or 'not completed'}"]
        # A run still in progress has reported no counts yet; say so rather than print None.
        if any(rec.get(k) is not None for k in ("read", "written", "failed")):
            lines.append(f"Records:    read {rec.get('read')}, written {rec.get('written')}, "
                         f"failed {rec.get('failed')}{pct}")
        else:
            lines.append("Records:    not reported yet")
    for label, key in (("Threshold", "threshold"), ("Reason", "reason")):
        if alert.get(key):
            lines.append(f"{label + ':':<11} {alert[key]}")
    if alert.get("errors"):
        lines += ["", "Errors:"]
        for e in alert["errors"]:
            count = f" ({e['recordCount']} records)" if e.get("recordCount") is not None else ""
            lines.append(f"  - {e['code']}{count}: {e['message']} [{e['source']}]")
    links = alert.get("links") or {}
    if links:
        lines.append("")
        if links.get("failedRecords"):
            lines.append(f"Failed records: {links['failedRecords']}")
        if links.get("sampleErrors"):
            lines.append(f"Sample errors:  {links['sampleErrors']}")
    if alert.get("failedRecordsKept"):  # monitor/diagnostics.py: AEP deletes its copy after 30 days
        lines += ["", f"Failed records kept in {alert['failedRecordsKept']}"]
    elif alert.get("failedRecordsNotKept"):
        lines += ["", f"Failed records not kept: {alert['failedRecordsNotKept']}"]
    lines += ["", f"Detected at {alert['detectedAt']} by aepflow monitor. Alert id: {alert.get('alertId')}"]
    return "\n".join(lines)


def publish_args(topic_arn: str, alert: dict) -> dict:
    alert = scrub(alert)  # AEP's run errors may echo what a source was sent
    body = text(alert)
    doc = json.dumps({"version": 1, "alert": alert, "text": body}, default=str)
    message = {"default": body, "email": body, **{p: doc for p in MACHINE_PROTOCOLS}}
    attrs = {k: alert.get(k) for k in ("severity", "problem", "dataflow", "sandbox", "connector", "flowId", "runId")}
    args: dict[str, Any] = {
        "TopicArn": topic_arn, "Subject": subject(alert), "MessageStructure": "json", "Message": json.dumps(message),
        "MessageAttributes": {k: {"DataType": "String", "StringValue": str(v)} for k, v in attrs.items() if v},
    }
    if topic_arn.endswith(".fifo"):
        args["MessageGroupId"] = alert["flowId"]
        args["MessageDeduplicationId"] = re.sub(r"[^A-Za-z0-9_-]", "_", alert["alertId"])[-128:]
    return args


class AlertSender:
    """Claims, publishes and marks alerts; counts what it did."""

    def __init__(self, table_name: str, topic_arn: str, *, lease_seconds: float, sns: Any):
        self.table, self.topic_arn, self.lease_seconds = table_name, topic_arn, lease_seconds
        self.sns = sns
        self.sent: dict[str, int] = {}
        self.already_claimed = 0
        self.publish_errors = 0
        self.retried = 0

    def claim_and_send(self, key: str, alert: dict) -> bool:
        """True when this call claimed the alert (and tried to publish it)."""
        alert = {**alert, "alertId": key}
        args = publish_args(self.topic_arn, alert)
        lease = int((time.time() + self.lease_seconds) * 1000)
        now = int(time.time() * 1000)
        if not claims.claim(self.table, key, {
                "state": "pending", "kind": alert["problem"], "flowId": alert["flowId"],
                "runId": alert.get("runId") or "", "dataflow": alert["dataflow"], "createdAt": now,
                "leaseUntil": lease, "attempts": 1, "publish": json.dumps(args)}):
            self.already_claimed += 1
            item = claims.read(self.table, key)
            if item is not None and item.get("state") == "pending":
                # Its owner may have died before writing the marker: make sure the sweep sees it.
                claims.put_marker(self.table, key, int(item.get("leaseUntil", 0)))
            return False
        claims.put_marker(self.table, key, lease)
        self._publish(key, args, alert["problem"], alert["dataflow"])
        return True

    def claim_and_send_all(self, alerts: list[tuple[str, dict]],
                           prepare: Callable[[str, dict], dict] | None = None) -> None:
        """claim_and_send for each (key, alert), after reading which are claimed already, 100
        keys per BatchGetItem: a problem seen again by a later poll costs a share of one read
        instead of a refused write and a read. The conditional write stays the only arbiter; a
        claim made between the read and the write is refused as before. `prepare(key, alert)`
        runs just before the claim of an alert not claimed yet, and answers the alert to claim."""
        claimed = claims.claimed(self.table, list(dict.fromkeys(key for key, _ in alerts)))
        for key, alert in alerts:
            item = claimed.get(key)
            if item is None:
                self.claim_and_send(key, prepare(key, alert) if prepare else alert)
                continue
            self.already_claimed += 1
            if item.get("state") == "pending":
                # Its owner may have died before writing the marker: make sure the sweep sees it.
                claims.put_marker(self.table, key, int(item.get("leaseUntil", 0)))

    def _publish(self, key: str, args: dict, kind: str, dataflow: str | None) -> None:
        try:
            res = self.sns.publish(**args)
        except Exception:  # SNS refused or timed out: let the next poll retry at once
            self.publish_errors += 1
            logger.exception("alert publish failed; released for retry", extra={"dataflow": dataflow, "alert": key})
            claims.release(self.table, key)
            claims.put_marker(self.table, key, 0)
            return
        claims.mark_sent(self.table, key, res.get("MessageId", ""))
        self.sent[kind] = self.sent.get(kind, 0) + 1

    def sweep(self) -> int:
        """Publish pending alerts whose lease has run out. Returns how many were taken over."""
        now = int(time.time() * 1000)
        taken = 0
        for marker in list(claims.markers(self.table)):
            if int(marker.get("leaseUntil", 0)) >= now:
                continue
            key = marker["sk"]
            lease = int((time.time() + self.lease_seconds) * 1000)
            item = claims.take_over(self.table, key, lease, now)
            if item is None:
                current = claims.read(self.table, key)
                if current is None or current.get("state") == "sent":
                    claims.drop_marker(self.table, key)  # sent (its marker lingered) or gone
                continue
            claims.put_marker(self.table, key, lease)
            taken += 1
            self.retried += 1
            self._publish(key, json.loads(item["publish"]), item.get("kind", "unknown"), item.get("dataflow"))
        return taken


# Margin past an invocation's own deadline before another invocation may re-publish an alert it
# claimed: a living invocation is never overtaken.
LEASE_MARGIN_SECONDS = 60


def lease_seconds(context: Any) -> float:
    """How long the alerts this Lambda invocation claims stay its own."""
    return float(context.get_remaining_time_in_millis()) / 1000 + LEASE_MARGIN_SECONDS
