"""The run monitor: one poll reads the managed dataflows, fetches the runs started since the
watermark with one paged GET /runs query per sandbox, re-checks the runs it last saw in
progress in batches, classifies every run and flow, and sends each problem once (alerts.py).

DynamoDB items (table DATAFLOWS_TABLE, keys pk/sk, all strings):
  pk="DATAFLOW#<name>", sk="RECORD"       read only, through the Dataflows index (listKey=DATAFLOW):
                                          the ACTIVE dataflows (provisioning writes them)
  pk="MONITOR", sk="WATERMARK"            watermark (ms): every run started at or before it was handled;
                                          only ever moves forward (conditional update)
  pk="MONITOR#STATE", sk="SHARD#<nnn>"    per-flow state and the runs last seen in progress, sharded by
                                          flowId (MONITOR_STATE_SHARDS, default 32) and written with
                                          optimistic versioning; merges are monotonic, so overlapping
                                          polls never lose each other's updates
  pk="ALERT#<flowId>#<runId>#<kind>", sk="ALERT"   one per problem, the exactly-once claim
  pk="MONITOR#PENDING", sk="<alert pk>"   alerts claimed but not yet marked sent

Environment: DATAFLOWS_TABLE, ALERTS_TOPIC_ARN, the AEP_* variables of settings.py, and optional
MONITOR_PAGE_SIZE (200), MONITOR_OVERLAP_MINUTES (10), MONITOR_INITIAL_LOOKBACK_MINUTES (120),
MONITOR_FLOW_FILTER_MAX (50: add flowId==a,b,… to the query only up to this many flows),
MONITOR_RECHECK_CHUNK (50 ids per id==… re-check), MONITOR_STATE_SHARDS (32),
MONITOR_LEASE_SECONDS (900: how long a claimed alert belongs to its poll).

AEP calls per poll (logical requests, retries not counted) = sum over sandboxes of the pages
of new runs + ceil(in-progress runs to re-check / MONITOR_RECHECK_CHUNK); `aep_attempts` in
the report also counts retries.
"""
from __future__ import annotations

import json
import math
import os
import threading
import time
from collections import defaultdict
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zlib import crc32

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, Field

from . import runtime
from .alerts import AlertSender, build_alert
from .client import MAX_PAGES
from .errors import AepTimeout
from .journal import dataflow_record_pages
from .spec import Alerts

logger = Logger(child=True)
metrics = Metrics()

WATERMARK_KEY = {"pk": "MONITOR", "sk": "WATERMARK"}
STATE_PK = "MONITOR#STATE"
STARTED = "metrics.durationSummary.startedAtUTC"
PERIOD_MS = {"minute": 60_000, "hour": 3_600_000, "day": 86_400_000, "week": 604_800_000}


def _env_int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default


class PollReport(BaseModel):
    now_ms: int
    flows: int
    sandboxes: list[str]
    watermark_before: int | None
    watermark_after: int | None
    runs_seen: int = 0
    runs_by_status: dict[str, int] = Field(default_factory=dict)
    problems: dict[str, int] = Field(default_factory=dict)          # found this poll (claimed or not)
    alerts_sent: dict[str, int] = Field(default_factory=dict)       # published by this poll
    alerts_already_claimed: int = 0                                  # found, but another poll owns it
    alerts_retried: int = 0                                          # pending alerts taken over by the sweep
    publish_errors: int = 0
    in_progress: int = 0
    pages: int = 0
    recheck_chunks: int = 0
    aep_calls: int = 0                                               # logical requests
    aep_attempts: int = 0                                            # including retries
    records_ingested: int = 0
    records_failed: int = 0
    duration_ms: float = 0.0


class ManagedFlow(BaseModel):
    name: str
    flowId: str
    sandbox: str
    connector: str
    alerts: Alerts
    schedule: dict | None = None
    baseline_ms: int = 0


_aws_lock = threading.Lock()
_local = threading.local()
_shared: dict[str, Any] = {}


def _session() -> boto3.session.Session:
    """One boto3 session per process (building one loads every model: slow), built under a
    lock because session construction is not thread-safe; botocore clients are."""
    with _aws_lock:
        if "session" not in _shared:
            _shared["session"] = boto3.session.Session()
        return _shared["session"]


def _table():
    """A DynamoDB Table per thread (resources are not thread-safe)."""
    name = runtime.settings().table_name
    cached = getattr(_local, "table", None)
    if cached is None or cached.name != name:
        session = _session()
        with _aws_lock:
            cached = _local.table = session.resource("dynamodb").Table(name)
    return cached


def _clients():
    session = _session()
    with _aws_lock:
        if "clients" not in _shared:
            _shared["clients"] = (session.client("sns"), session.client("dynamodb"))
        return _shared["clients"]


def reset() -> None:
    """Forget cached AWS clients (tests, the local stack)."""
    with _aws_lock:
        _shared.clear()
        _local.__dict__.clear()


def _parse_time_ms(value: Any) -> int:
    if not value:
        return 0
    try:
        return int(datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return 0


def load_flows(default_sandbox: str) -> dict[str, ManagedFlow]:
    """Every ACTIVE dataflow record, by flow id, read from the table's Dataflows index."""
    flows: dict[str, ManagedFlow] = {}
    for page in dataflow_record_pages(_table()):
        for item in page:
            if item.get("status") != "ACTIVE":
                continue
            try:
                spec = json.loads(item.get("spec") or "{}")
            except ValueError:
                spec = {}
            fid = item.get("flowId") or json.loads(item.get("ids") or "{}").get("flowId")
            if not fid:
                continue
            sched = spec.get("schedule") or None
            start = int(sched["startTime"]) * 1000 if sched and sched.get("startTime") is not None else 0
            flows[fid] = ManagedFlow(
                name=item.get("name") or spec.get("name") or fid, flowId=fid,
                sandbox=str(spec.get("sandbox") or default_sandbox).lower(),
                connector=item.get("connector") or "unknown",
                alerts=Alerts.model_validate(spec.get("alerts") or {}), schedule=sched,
                baseline_ms=max(start, _parse_time_ms(item.get("updatedAt"))))
    return flows


# ------------------------------------------------------------------ state (sharded, versioned)
def _shard(fid: str, shards: int) -> str:
    return f"SHARD#{crc32(fid.encode()) % shards:03d}"


def _load_state() -> tuple[dict[str, dict], dict[str, dict], dict[str, dict]]:
    """(flow states, in-progress runs, raw shards by sk)."""
    table = _table()
    flows: dict[str, dict] = {}
    inprog: dict[str, dict] = {}
    raw: dict[str, dict] = {}
    kwargs: dict[str, Any] = {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": STATE_PK},
                              "ConsistentRead": True}
    while True:
        page = table.query(**kwargs)
        for item in page.get("Items", []):
            state = json.loads(item.get("state") or "{}")
            raw[item["sk"]] = {"version": int(item.get("version", 0)), "state": state}
            for fid, fs in state.get("flows", {}).items():
                flows[fid] = _merge_flow(flows.get(fid), fs)
            inprog.update(state.get("inProgress", {}))
        if "LastEvaluatedKey" not in page:
            return flows, inprog, raw
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _merge_flow(cur: dict | None, new: dict) -> dict:
    if not cur:
        return dict(new)
    out = dict(cur)
    if new.get("lastStart", -1) > cur.get("lastStart", -1):
        out["lastStart"], out["lastRunId"] = new["lastStart"], new.get("lastRunId")
    if new.get("lastDone", -1) > cur.get("lastDone", -1):
        out["lastDone"], out["lastProblem"] = new["lastDone"], new.get("lastProblem", False)
    return out


def _save_shard(sk: str, known: dict | None, flows: dict, adds: dict, removes: set) -> None:
    table = _table()
    for _ in range(50):
        if known is None:
            item = table.get_item(Key={"pk": STATE_PK, "sk": sk}, ConsistentRead=True).get("Item")
            known = {"version": int(item["version"]), "state": json.loads(item["state"])} if item else \
                {"version": 0, "state": {}}
        state = {"flows": dict(known["state"].get("flows", {})), "inProgress": dict(known["state"].get("inProgress", {}))}
        for fid, fs in flows.items():
            state["flows"][fid] = _merge_flow(state["flows"].get(fid), fs)
        state["inProgress"].update(adds)
        for rid in removes:
            state["inProgress"].pop(rid, None)
        try:
            table.put_item(Item={"pk": STATE_PK, "sk": sk, "version": known["version"] + 1,
                                 "state": json.dumps(state, separators=(",", ":"))},
                           ConditionExpression="attribute_not_exists(pk) OR version = :v",
                           ExpressionAttributeValues={":v": known["version"]})
            return
        except table.meta.client.exceptions.ConditionalCheckFailedException:
            known = None  # another poll wrote it: re-read and merge again
            time.sleep(0.01)
    raise RuntimeError(f"monitor state {sk}: too many concurrent writers")


def _advance_watermark(value: int) -> None:
    table = _table()
    try:
        table.update_item(Key=WATERMARK_KEY, UpdateExpression="SET watermark = :w, updatedAt = :t",
                          ConditionExpression="attribute_not_exists(watermark) OR watermark < :w",
                          ExpressionAttributeValues={":w": value, ":t": int(time.time() * 1000)})
    except table.meta.client.exceptions.ConditionalCheckFailedException:
        pass  # another poll already moved it further


# ------------------------------------------------------------------ AEP
def _fetch(client, params: list[tuple[str, str]], counters: dict) -> list[dict]:
    """One paged GET /runs query, following `_links.next`."""
    items: list[dict] = []
    for _ in range(MAX_PAGES):
        page = client.get("flowservice", "/runs", params=params) or {}
        counters["calls"] += 1
        counters["pages"] += 1
        items.extend(page.get("items", []))
        href = ((page.get("_links") or {}).get("next") or {}).get("href")
        token = parse_qs(urlsplit(href).query).get("continuationToken") if href else None
        if not token:
            return items
        params = [(k, v) for k, v in params if k != "continuationToken"] + [("continuationToken", token[0])]
    raise AepTimeout(f"GET /runs: more than {MAX_PAGES} pages")


def _completed(run: dict) -> bool:
    m = run.get("metrics") or {}
    status = str((m.get("statusSummary") or {}).get("status", "")).lower()
    return status in ("success", "failed") and (m.get("durationSummary") or {}).get("completedAtUTC") is not None


def _started(run: dict) -> int:
    return int(((run.get("metrics") or {}).get("durationSummary") or {}).get("startedAtUTC") or 0)


def classify(run: dict, alerts: Alerts, now_ms: int) -> str | None:
    """failed | partial | stuck | None (fine, or still running within its allowance)."""
    m = run.get("metrics") or {}
    status = str((m.get("statusSummary") or {}).get("status", "")).lower()
    if not _completed(run):
        if status == "failed":
            return "failed"
        return "stuck" if now_ms - _started(run) > alerts.stuckAfterMinutes * 60_000 else None
    if status == "failed":
        return "failed"
    rs = m.get("recordSummary") or {}
    read, failed = int(rs.get("inputRecordCount") or 0), int(rs.get("failedRecordCount") or 0)
    if failed and (read == 0 or failed * 100 / read > alerts.failedRecordsPercent):
        return "partial"
    return None


def _run_detail(kind: str, flow: ManagedFlow, now_ms: int, run: dict) -> dict:
    if kind == "partial":
        return {"threshold": f"failed records over {flow.alerts.failedRecordsPercent}% of input records"}
    if kind == "stuck":
        minutes = (now_ms - _started(run)) // 60_000
        return {"threshold": f"in progress over {flow.alerts.stuckAfterMinutes} minutes",
                "reason": f"in progress for {minutes} minutes"}
    return {}


def _overdue_due(flow: ManagedFlow, last_start: int | None) -> tuple[int, int] | None:
    """(due tick, period) of the first run that should have started after the last one seen."""
    sched = flow.schedule or {}
    period = PERIOD_MS.get(str(sched.get("frequency", "")).lower())
    if period is None:
        return None
    period *= max(1, int(sched.get("interval") or 1))
    grid = int(sched["startTime"]) * 1000 if sched.get("startTime") is not None else flow.baseline_ms
    if last_start is None:
        k = max(0, math.ceil((flow.baseline_ms - grid) / period))
    else:
        k = max(0, (last_start - grid) // period + 1)
    return grid + k * period, period


# ------------------------------------------------------------------ poll
def poll(now_ms: int | None = None, *, lease_seconds: float | None = None) -> PollReport:
    """One monitoring pass. `now_ms` (epoch ms) defaults to the wall clock; the local stack
    passes the emulator's clock. `lease_seconds`: how long alerts claimed by this poll stay
    its own before another poll may re-publish them (default MONITOR_LEASE_SECONDS, 900)."""
    started = time.perf_counter()
    now = int(time.time() * 1000) if now_ms is None else int(now_ms)
    cfg = runtime.settings()
    topic = os.environ.get("ALERTS_TOPIC_ARN")
    if not topic:
        raise RuntimeError("ALERTS_TOPIC_ARN is not set")
    page_size = _env_int("MONITOR_PAGE_SIZE", 200)
    overlap = _env_int("MONITOR_OVERLAP_MINUTES", 10) * 60_000
    lookback = _env_int("MONITOR_INITIAL_LOOKBACK_MINUTES", 120) * 60_000
    flow_filter_max = _env_int("MONITOR_FLOW_FILTER_MAX", 50)
    chunk = max(1, _env_int("MONITOR_RECHECK_CHUNK", 50))
    shards = max(1, _env_int("MONITOR_STATE_SHARDS", 32))
    lease = float(lease_seconds if lease_seconds is not None else _env_int("MONITOR_LEASE_SECONDS", 900))

    base_client = runtime.aep_client()
    flows = load_flows(base_client.sandbox)
    wm_item = _table().get_item(Key=WATERMARK_KEY, ConsistentRead=True).get("Item") or {}
    watermark = int(wm_item["watermark"]) if "watermark" in wm_item else None
    flow_state, inprog, raw_shards = _load_state()
    sns, ddb = _clients()
    sender = AlertSender(cfg.table_name, topic, lease_seconds=lease, sns=sns, ddb=ddb)
    report = PollReport(now_ms=now, flows=len(flows), sandboxes=sorted({f.sandbox for f in flows.values()}),
                        watermark_before=watermark, watermark_after=watermark)

    sender.sweep()  # alerts a crashed or refused poll left pending

    since = (watermark - overlap) if watermark is not None else now - lookback
    counters = {"calls": 0, "pages": 0, "chunks": 0}
    attempts = 0
    runs: dict[str, dict] = {}
    new_max = watermark
    by_sandbox: dict[str, list[str]] = defaultdict(list)
    for fid, f in flows.items():
        by_sandbox[f.sandbox].append(fid)
    for sandbox, fids in sorted(by_sandbox.items()):
        client = base_client.with_sandbox(sandbox)
        calls0 = client.calls
        params = [("property", f"{STARTED}>{since}")]
        if len(fids) <= flow_filter_max:
            params.append(("property", "flowId==" + ",".join(sorted(fids))))
        params.append(("limit", str(page_size)))
        for run in _fetch(client, params, counters):
            st = _started(run)
            new_max = st if new_max is None else max(new_max, min(st, now))
            if run.get("flowId") in flows and run.get("id"):
                runs[run["id"]] = run
        recheck = sorted(rid for rid, info in inprog.items()
                         if info.get("sandbox") == sandbox and rid not in runs)
        for i in range(0, len(recheck), chunk):
            ids = recheck[i:i + chunk]
            counters["chunks"] += 1
            found = _fetch(client, [("property", "id==" + ",".join(ids)), ("limit", str(len(ids)))], counters)
            counters["pages"] -= 1  # a re-check chunk, not a page of new runs (follow-up pages stay counted)
            for run in found:
                if run.get("flowId") in flows and run.get("id"):
                    runs[run["id"]] = run
        attempts += client.calls - calls0

    # ---- classify runs
    deltas: dict[str, dict] = defaultdict(lambda: {"flows": {}, "adds": {}, "removes": set()})
    problems: list[tuple[str, str, dict, dict | None, dict]] = []  # (key, kind, flow, run, detail)
    by_flow_done: dict[str, list[dict]] = defaultdict(list)
    status_counts: dict[str, int] = defaultdict(int)
    for rid, run in runs.items():
        fid = run["flowId"]
        flow = flows[fid]
        sk = _shard(fid, shards)
        st = _started(run)
        fs = deltas[sk]["flows"].setdefault(fid, {})
        if st > fs.get("lastStart", -1):
            fs["lastStart"], fs["lastRunId"] = st, rid
        kind = classify(run, flow.alerts, now)
        if kind:
            problems.append((f"ALERT#{fid}#{rid}#{kind}", kind, flow, run, _run_detail(kind, flow, now, run)))
        prev = flow_state.get(fid, {})
        fresh = rid in inprog or st > prev.get("lastDone", -1)
        if _completed(run):
            if rid in inprog:
                deltas[sk]["removes"].add(rid)
            by_flow_done[fid].append(run)
            if fresh:
                status_counts["partial" if kind == "partial" else kind or "success"] += 1
                rs = (run.get("metrics") or {}).get("recordSummary") or {}
                report.records_ingested += int(rs.get("outputRecordCount") or 0)
                report.records_failed += int(rs.get("failedRecordCount") or 0)
        else:
            status_counts["inProgress"] += 1
            if rid not in inprog:
                deltas[sk]["adds"][rid] = {"flowId": fid, "sandbox": flow.sandbox, "startedAt": st}
    # runs last seen in progress that AEP no longer returns, or whose flow is no longer managed
    for rid, info in inprog.items():
        if rid not in runs:
            deltas[_shard(info.get("flowId", ""), shards)]["removes"].add(rid)

    # ---- recovered: the first success after a problem, in start order, past what was handled
    for fid, done in by_flow_done.items():
        flow, prev = flows[fid], flow_state.get(fid, {})
        last_done, problem = prev.get("lastDone", -1), bool(prev.get("lastProblem", False))
        fs = deltas[_shard(fid, shards)]["flows"][fid]
        for run in sorted(done, key=lambda r: (_started(r), r["id"])):
            st = _started(run)
            if st <= last_done:
                continue
            bad = classify(run, flow.alerts, now) is not None
            if not bad and problem and flow.alerts.notifyRecovered:
                problems.append((f"ALERT#{fid}#{run['id']}#recovered", "recovered", flow, run,
                                 {"reason": "first successful run after a failed or partial run"}))
            problem, last_done = bad, st
            fs["lastDone"], fs["lastProblem"] = st, bad

    # ---- overdue: scheduled flows with no run started within two intervals of when one was due
    for fid, flow in flows.items():
        seen = deltas.get(_shard(fid, shards), {}).get("flows", {}).get(fid, {}).get("lastStart")
        known = flow_state.get(fid, {}).get("lastStart")
        last = max(x for x in (seen, known, -1) if x is not None)
        due = _overdue_due(flow, None if last < 0 else last)
        if due and now >= due[0] + 2 * due[1]:
            from .alerts import iso
            problems.append((f"ALERT#{fid}#due-{due[0]}#overdue", "overdue", flow, None, {
                "status": "no run", "dueAt": iso(due[0]), "lastRunStartedAt": iso(last) if last >= 0 else None,
                "reason": f"no run started within two intervals ({2 * due[1] // 60_000} minutes) of "
                          f"{iso(due[0])}"}))

    # ---- claim and publish; every problem is durably claimed before the watermark moves
    for key, kind, flow, run, detail in problems:
        report.problems[kind] = report.problems.get(kind, 0) + 1
        sender.claim_and_send(key, build_alert(kind, flow.model_dump(), run, now_ms=now, detail=detail))

    for sk, d in deltas.items():
        if d["flows"] or d["adds"] or d["removes"]:
            _save_shard(sk, raw_shards.get(sk), d["flows"], d["adds"], d["removes"])
    if new_max is not None and new_max != watermark:
        _advance_watermark(new_max)
        report.watermark_after = new_max

    report.runs_seen = len(runs)
    report.runs_by_status = dict(status_counts)
    report.alerts_sent = dict(sender.sent)
    report.alerts_already_claimed = sender.already_claimed
    report.alerts_retried = sender.retried
    report.publish_errors = sender.publish_errors
    report.in_progress = status_counts.get("inProgress", 0)
    report.pages, report.recheck_chunks = counters["pages"], counters["chunks"]
    report.aep_calls, report.aep_attempts = counters["calls"], attempts
    report.duration_ms = round((time.perf_counter() - started) * 1000, 1)
    _emit_metrics(report)
    logger.info("monitor poll", extra={"report": report.model_dump()})
    return report


def _emit_metrics(r: PollReport) -> None:
    try:
        _add_metrics(r)
    except Exception:  # metrics must never fail a poll (e.g. no namespace outside Lambda)
        logger.warning("monitor metrics not recorded", exc_info=True)


def _add_metrics(r: PollReport) -> None:
    for status, n in r.runs_by_status.items():
        metrics.add_metric(name=f"Runs{status[:1].upper()}{status[1:]}", unit=MetricUnit.Count, value=n)
    metrics.add_metric(name="RecordsIngested", unit=MetricUnit.Count, value=r.records_ingested)
    metrics.add_metric(name="RecordsFailed", unit=MetricUnit.Count, value=r.records_failed)
    metrics.add_metric(name="AlertsSent", unit=MetricUnit.Count, value=sum(r.alerts_sent.values()))
    metrics.add_metric(name="AepCallsPerPoll", unit=MetricUnit.Count, value=r.aep_calls)
    metrics.add_metric(name="PollDuration", unit=MetricUnit.Milliseconds, value=r.duration_ms)
