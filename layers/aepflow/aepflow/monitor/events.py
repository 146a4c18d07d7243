"""The push path: AEP's flow-run events, delivered by Adobe I/O Events to a partner event bus of
Amazon EventBridge, classified as the poll classifies runs (aep/run_outcome.py) and alerted
through the same claim (monitor/alerts.py), so a run is alerted once whichever path sees it first:
an alert the event claimed is "already claimed" for the poll, and the other way round.

What Adobe sends (AdobeDocs/experience-platform.en, help/sources/notifications.md, "Receive flow
run notifications"; the event types are help/observability/alerts/rules.md's "Sources Flow Run
Start/Success/Failure" and "Ingestion Delay", subscribed as help/observability/alerts/subscribe.md
says). The notifications page shows two shapes of one flow run:

  A. {"event_id": ..., "event": {<the run>, "header": {"_adobeio": {"imsOrgId", "eventCode"}}}}
     (its "Success" example; eventCode "sources_flow_run_success")
  B. [{"messages": [{"msgType": "eventNotification", "imsOrgId", "_eventNotificationMeta":
     {"category", "type"}, "value": {<the run>}}]}]   (its "Failure" example, "sources_flow_run_failed")

<the run> is a Flow Service run as GET /runs/{id} answers it: id, flowId, sandboxName, imsOrgId,
metrics (durationSummary, sizeSummary, recordSummary, fileSummary, statusSummary {status,
errors[{code, message}]}) and activities[] (their statusSummary, errors and batch ids). An
EventBridge event carries the notification in `detail`, either shape or one message of B, or
wrapped in a CloudEvents `data` (Adobe I/O Events follow the CloudEvents specification:
developer.adobe.com/events/docs/guides/using/custom_events).

An event is hostile until parsed: bounded and typed (pydantic), and dropped - counted in the
report, never alerted, never raised - when it is malformed, from another IMS org than the AEP
credentials' orgId, or about a flow aepflow does not manage (no FLOW#<flowId> owner with an ACTIVE
record of that flow in that sandbox).

A flow whose spec has a re-trigger policy (onFailure.retry) is decided as the poll decides it
(monitor/retries.py), before any claim: a failure whose code the policy lists is held back and the
retry state machine started, under an execution name derived from the run id, so a run is re-run
once whichever path sees it first; a re-run that succeeds is quiet or the policy's recovered note."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from aepflow.aep.client import aep_client
from aepflow.aep.run_outcome import classify, completed, run_detail, status
from aepflow.core import aws, settings
from aepflow.core.observability import logger
from aepflow.core.settings import MonitorEventsSettings
from aepflow.monitor import diagnostics
from aepflow.monitor.alerts import AlertSender, alert_key, build_alert
from aepflow.monitor.flows import DEFAULT_SANDBOX, ManagedFlow, alert_flow, from_record
from aepflow.monitor.retries import ALERT, RECOVERED, RETRY, Decision, Retries
from aepflow.monitor.run_query import run_by_id
from aepflow.store import monitor as monitor_store
from aepflow.store import owners

MAX_MESSAGES = 100          # notifications in one event (shape B's messages)
MAX_ERRORS = 100
MAX_ACTIVITIES = 50
_ID = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$"   # no '#': a run id and a flow id go into the alert key
_TEXT = 4000


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", defer_build=True)


class RunError(_Model):
    code: str = Field(default="", max_length=200)
    message: str = Field(default="", max_length=_TEXT)
    recordCount: int | None = Field(default=None, ge=0)


class Manifest(_Model):
    failedRecords: str | None = Field(default=None, max_length=2048)
    sampleErrors: str | None = Field(default=None, max_length=2048)


class Extensions(_Model):
    errors: list[RunError] = Field(default=[], max_length=MAX_ERRORS)
    manifest: Manifest | None = None


class StatusSummary(_Model):
    status: str | None = Field(default=None, max_length=40)
    errors: list[RunError] = Field(default=[], max_length=MAX_ERRORS)
    extensions: Extensions | None = None


class DurationSummary(_Model):
    startedAtUTC: int | None = Field(default=None, ge=0)
    completedAtUTC: int | None = Field(default=None, ge=0)


class RecordSummary(_Model):
    inputRecordCount: int | None = Field(default=None, ge=-1)   # Adobe writes -1 for "not known"
    outputRecordCount: int | None = Field(default=None, ge=-1)
    failedRecordCount: int | None = Field(default=None, ge=-1)


class Metrics(_Model):
    durationSummary: DurationSummary = DurationSummary()
    recordSummary: RecordSummary = RecordSummary()
    statusSummary: StatusSummary = StatusSummary()


class Activity(_Model):
    id: str = Field(default="activity", max_length=200)
    statusSummary: StatusSummary = StatusSummary()


class FlowRun(_Model):
    """What the classification and the alert read of a run (nothing else is kept)."""
    id: str = Field(pattern=_ID)
    flowId: str = Field(pattern=_ID)
    sandboxName: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,99}$")
    imsOrgId: str = Field(min_length=1, max_length=200)
    state: str | None = Field(default=None, max_length=40)
    metrics: Metrics
    activities: list[Activity] = Field(default=[], max_length=MAX_ACTIVITIES)

    def as_run(self) -> dict[str, Any]:
        """The run as the poll's classification and alert read it."""
        return self.model_dump(exclude_none=True)


class Notification(_Model):
    type: str = Field(default="", max_length=200)   # _eventNotificationMeta.type, or shape A's eventCode
    org: str | None = Field(default=None, max_length=200)   # the envelope's imsOrgId
    run: FlowRun
    timestamp: int | None = Field(default=None, ge=0, le=32_503_680_000_000)  # ms, before the year 3000


class EventsReport(BaseModel):
    """What one event came to, counted."""
    notifications: int = 0
    types: dict[str, int] = {}
    alerts_sent: dict[str, int] = {}
    alerts_already_claimed: int = 0
    publish_errors: int = 0
    fine: int = 0                     # managed runs with nothing to alert (yet)
    retries_started: int = 0          # failures held back for a re-trigger (onFailure.retry)
    retries_already_started: int = 0  # ... whose retry the poll, or an earlier event, started
    runs_fetched: int = 0             # GET /runs/{id}: the event lacked what the classification reads
    dropped: dict[str, int] = {}      # malformed | foreign | unmanaged | other-sandbox


class Dropped(Exception):
    def __init__(self, reason: str, detail: str = ""):
        super().__init__(reason)
        self.reason, self.detail = reason, detail


# ------------------------------------------------------------------ parsing
def _messages(payload: Any, depth: int = 0) -> list[dict[str, Any]]:
    """The notifications of one payload, in either of Adobe's shapes, as {type, org, run, timestamp}."""
    if depth > 3:
        raise Dropped("malformed", "nested too deep")
    if isinstance(payload, list):
        if len(payload) > MAX_MESSAGES:
            raise Dropped("malformed", f"more than {MAX_MESSAGES} notifications")
        return [m for item in payload for m in _messages(item, depth + 1)]
    if not isinstance(payload, dict):
        raise Dropped("malformed", "not a JSON object")
    if isinstance(payload.get("messages"), list):                       # shape B, its outer object
        return _messages(payload["messages"], depth + 1)
    if isinstance(payload.get("value"), dict):                          # shape B, one message
        meta = payload.get("_eventNotificationMeta")
        return [{"type": (meta or {}).get("type", "") if isinstance(meta, dict) else "",
                 "org": payload.get("imsOrgId"), "run": payload["value"], "timestamp": payload.get("timestamp")}]
    if isinstance(payload.get("event"), dict):                          # shape A
        run = payload["event"]
        header = (run.get("header") or {}).get("_adobeio") if isinstance(run.get("header"), dict) else None
        header = header if isinstance(header, dict) else {}
        return [{"type": header.get("eventCode", ""), "org": header.get("imsOrgId"), "run": run,
                 "timestamp": run.get("transformedTime")}]
    if "data" in payload:                                               # a CloudEvents envelope
        return _messages(payload["data"], depth + 1)
    raise Dropped("malformed", "neither of Adobe's flow-run notification shapes")


def parse(event: Any) -> list[Notification | Dropped]:
    """An EventBridge event (its `detail`), or a notification as a webhook receives it, as its
    notifications; each one parsed, or the reason it is dropped."""
    payload = event.get("detail") if isinstance(event, dict) and "detail-type" in event else event
    try:
        raw = _messages(payload)
    except Dropped as exc:
        return [exc]
    if not raw or len(raw) > MAX_MESSAGES:
        return [Dropped("malformed", f"no notification, or more than {MAX_MESSAGES}")]
    out: list[Notification | Dropped] = []
    for message in raw:
        try:
            out.append(Notification.model_validate(message))
        except ValidationError as exc:
            first = exc.errors()[0]
            out.append(Dropped("malformed", ".".join(str(p) for p in first["loc"]) + ": " + first["msg"]))
    return out


# ------------------------------------------------------------------ deciding
def lacks_what_classify_reads(run: dict[str, Any]) -> bool:
    """Whether the event's run cannot be classified (and alerted) as the poll would from GET /runs:
    no status or start; an end status without its end time (Adobe's "Failure" example has none at
    the run's level); or a success whose failed records are not counted while fewer were written
    than read (its "Success" example: 100 read, 70 written, no failedRecordCount)."""
    m = run.get("metrics") or {}
    rs = m.get("recordSummary") or {}
    state = status(run)
    if not state or (m.get("durationSummary") or {}).get("startedAtUTC") is None:
        return True
    if state in ("success", "failed") and not completed(run):
        return True
    written, read = rs.get("outputRecordCount"), rs.get("inputRecordCount")
    return state == "success" and rs.get("failedRecordCount") is None and (written or 0) < (read or 0)


class Sender(Protocol):
    already_claimed: int

    def claim_and_send_all(self, alerts: list[tuple[str, dict]],
                           prepare: Callable[[str, dict], dict] | None = None) -> None: ...


# `keep(alert, kind, flow, run)`: the alert once the run's failed records are kept (diagnostics.keep_for_alert).
Keep = Callable[[dict, str, ManagedFlow, dict], dict]


class RunEvents:
    """Decides each notification of an event. Its collaborators are injected (unit tests use fakes):
    `find_flow(flowId)` the managed flow or None, `fetch_run(sandbox, runId)` GET /runs/{id},
    `retries` the re-trigger policy's chains and starts (None: every problem alerted)."""

    def __init__(self, *, org_id: str, default_sandbox: str, find_flow: Callable[[str], ManagedFlow | None],
                 fetch_run: Callable[[str, str], Any], sender: Sender, sent: Callable[[], dict[str, int]],
                 keep: Keep | None = None, retries: Retries | None = None):
        self.org_id, self.default_sandbox = org_id, default_sandbox
        self.find_flow, self.fetch_run, self.sender, self._sent = find_flow, fetch_run, sender, sent
        self.keep, self.retries = keep, retries
        self.report = EventsReport()
        self._types: Counter[str] = Counter()
        self._dropped: Counter[str] = Counter()

    def handle(self, event: Any, now_ms: int) -> EventsReport:
        for item in parse(event):
            self.report.notifications += 1
            try:
                if isinstance(item, Dropped):
                    raise item
                self._types[item.type or "(none)"] += 1
                self._one(item, now_ms)
            except Dropped as exc:
                self._dropped[exc.reason] += 1
                logger.info("flow-run event dropped", extra={"reason": exc.reason, "detail": exc.detail[:300]})
        self.report.types, self.report.dropped = dict(self._types), dict(self._dropped)
        self.report.alerts_sent = dict(self._sent())
        return self.report

    def _one(self, note: Notification, now_ms: int) -> None:
        run = note.run
        if run.imsOrgId != self.org_id or (note.org is not None and note.org != self.org_id):
            raise Dropped("foreign", "another IMS org")
        flow = self.find_flow(run.flowId)
        if flow is None:
            raise Dropped("unmanaged", run.flowId)
        sandbox = self.default_sandbox if flow.sandbox == DEFAULT_SANDBOX else flow.sandbox
        if run.sandboxName != sandbox:
            raise Dropped("other-sandbox", run.sandboxName)
        detail = run.as_run()
        if lacks_what_classify_reads(detail):
            # One GET /runs/{id} rather than a guess: the alert then says what the poll's would.
            found = self.fetch_run(sandbox, run.id)
            self.report.runs_fetched += 1
            if found is None:
                raise Dropped("malformed", "GET /runs/{id} did not answer the run")
            try:
                fetched = FlowRun.model_validate({"imsOrgId": self.org_id, "sandboxName": sandbox, **found})
            except ValidationError as exc:
                raise Dropped("malformed", f"GET /runs/{{id}}: {exc.errors()[0]['msg']}") from None
            if fetched.flowId != run.flowId:
                raise Dropped("malformed", "GET /runs/{id} answered another flow's run")
            detail = fetched.as_run()
        when = max(now_ms, note.timestamp or 0)
        kind = classify(detail, flow.alerts, when)
        decision = self._policy(flow, detail, kind, sandbox)
        if decision is not None and decision.action == RETRY and self.retries is not None:
            started = self.retries.start(decision)  # False: the poll, or an earlier event, started it
            self.report.retries_started += started
            self.report.retries_already_started += not started
            return
        if decision is not None and decision.action == RECOVERED:
            kind, extra = "recovered", decision.detail
        elif kind is None:
            self.report.fine += 1
            return
        else:
            extra = run_detail(kind, flow.alerts, when, detail)
            if decision is not None and decision.action == ALERT and decision.detail:  # naming the chain
                reasons = [r for r in (extra.get("reason"), decision.detail.get("reason")) if r]
                extra = {**extra, **decision.detail, "reason": "; ".join(reasons)}
        problem = kind
        alert = build_alert(problem, alert_flow(flow, sandbox), detail, now_ms=when, detail=extra)
        # As the poll does: the run's failed records are copied just before the claim of an alert not
        # claimed yet (and not again for one the poll, or an earlier event, claimed).
        before = self.sender.already_claimed
        prepare = (lambda _key, built: self.keep(built, problem, flow, detail)) if self.keep else None
        self.sender.claim_and_send_all([(alert_key(run.flowId, run.id, problem), alert)], prepare=prepare)
        self.report.alerts_already_claimed += self.sender.already_claimed - before

    def _policy(self, flow: ManagedFlow, run: dict[str, Any], kind: str | None, sandbox: str) -> Decision | None:
        """The re-trigger policy's decision for a run of a flow that has one (None: no policy), as the
        poll's check makes it: the chain read when the run has ended (a re-run's link is written by the
        retry state machine's task, minutes before the re-run can end)."""
        if self.retries is None or flow.onFailure is None:
            return None
        if completed(run):
            self.retries.read_links([str(run["id"])])
        return self.retries.decide(flow, run, kind, sandbox)


# ------------------------------------------------------------------ wiring
def managed_flow(table: str, flow_id: str, keeps: set[str] | None = None) -> ManagedFlow | None:
    """The flow's dataflow, when aepflow manages it: its FLOW# owner's ACTIVE record names that flow.
    `keeps` gets the flow's id when its spec keeps error diagnostics (diagnostics.enabled)."""
    name = owners.flow_owner(flow_id)
    record = monitor_store.read_record(table, name) if name else None
    flow = from_record(record) if record else None
    if flow is None or flow.flowId != flow_id:
        return None
    if keeps is not None and diagnostics.enabled(record):
        keeps.add(flow_id)
    return flow


def handle(event: Any, *, lease_seconds: float, now_ms: int | None = None) -> EventsReport:
    """One EventBridge event of the partner bus: each notification decided, each problem alerted once."""
    cfg = settings.load(MonitorEventsSettings)
    client = aep_client()
    sender = AlertSender(cfg.table_name, cfg.alerts_topic_arn, lease_seconds=lease_seconds, sns=aws.aws_client("sns"))
    keeps: set[str] = set()

    def keep(alert: dict, kind: str, flow: ManagedFlow, run: dict) -> dict:
        if flow.flowId not in keeps:
            return alert
        return diagnostics.keep_for_alert(client.with_sandbox(flow.sandbox) if flow.sandbox != DEFAULT_SANDBOX
                                          else client, cfg.failed_records_bucket, alert, kind, flow.name, run)

    decide = RunEvents(
        org_id=client.credentials.org_id, default_sandbox=client.credentials.sandbox, keep=keep,
        find_flow=lambda fid: managed_flow(cfg.table_name, fid, keeps),
        fetch_run=lambda sandbox, rid: run_by_id(client.with_sandbox(sandbox), rid),
        sender=sender, sent=lambda: sender.sent,
        retries=Retries(cfg.table_name, cfg.retry_state_machine_arn,
                        aws.aws_client("stepfunctions") if cfg.retry_state_machine_arn else None))
    report = decide.handle(event, int(time.time() * 1000) if now_ms is None else now_ms)
    report.publish_errors = sender.publish_errors
    return report
