"""One unit of a poll: a sandbox's shards first..last. The check reads those shards' state (and
nothing else of the monitor's), asks AEP for the runs of their flows started since the sandbox's
watermark (MONITOR_FLOWS_PER_QUERY flow ids per paged query), re-checks by id the runs it last
saw in progress, reads the dataflow records of the flows whose thresholds decide something (a
run that may be a problem, a success after a problem) or that may be overdue (a flow whose
record is gone, or no longer ACTIVE, is dropped), classifies, claims and sends
each problem once (aepflow.alerts), and only then writes the shards it changed. The sandbox's
watermark moves in the poll's last step, once every unit of the sandbox has succeeded.

AEP calls = the pages of each query (one query per MONITOR_FLOWS_PER_QUERY flows) + one per
MONITOR_RECHECK_CHUNK runs still in progress from before the window; retries are counted in
`aep_attempts` only."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from typing import Any

from .. import runtime
from ..alerts import AlertSender, build_alert, iso
from ..client import AepClient
from ..spec import Alerts
from . import aws, runs as aep_runs, store
from .classify import classify, completed, needs_thresholds, overdue_deadline, overdue_due, run_detail, started
from .config import MonitorConfig
from .flows import DEFAULT_SANDBOX, ManagedFlow, compact_schedule, expand_schedule, from_record
from .models import CheckEvent, UnitReport
from .state import Delta

Problem = tuple[str, str, ManagedFlow, "dict | None", dict]  # (alert key, kind, flow, run, detail)


def _client(sandbox: str) -> AepClient:
    """A client of its own (its call counter is this unit's), sharing the token and session."""
    base = runtime.aep_client()
    name = base.sandbox if sandbox == DEFAULT_SANDBOX else sandbox
    return AepClient(base.settings, base.credentials, base.tokens, sandbox=name, session=base.session)


def _alert_flow(flow: ManagedFlow, sandbox: str) -> dict[str, Any]:
    return {"name": flow.name, "sandbox": sandbox, "connector": flow.connector, "flowId": flow.flowId,
            "alerts": flow.alerts.model_dump(), "schedule": flow.schedule}


def check_unit(event: CheckEvent, *, lease_seconds: float, cfg: MonitorConfig | None = None) -> UnitReport:
    t0 = time.perf_counter()
    cfg = cfg or MonitorConfig.from_env()
    unit, now = event.unit, event.now
    table = cfg.table_name
    loaded = store.load_shards(table, unit.sandbox, unit.shards, range(unit.first, unit.last + 1))
    entries: dict[str, dict[str, Any]] = {}
    shard_of_flow: dict[str, int] = {}
    in_progress: dict[str, list] = {}
    shard_of_run: dict[str, int] = {}
    for number, shard in loaded.items():
        for fid, entry in shard.state.flows.items():
            entries[fid], shard_of_flow[fid] = entry, number
        for rid, info in shard.state.runs.items():
            in_progress[rid], shard_of_run[rid] = info, number
    report = UnitReport(sandbox=unit.sandbox, first=unit.first, last=unit.last, flows=len(entries),
                        watermark_before=unit.wm)
    client = _client(unit.sandbox)
    counters = aep_runs.Counters()

    # ---- the runs: every flow's since the sandbox's watermark (new flows: since they were recorded)
    overlap, earliest = cfg.overlap_minutes * 60_000, now - cfg.initial_lookback_minutes * 60_000
    window_start = unit.wm - overlap if unit.wm is not None else earliest

    def since(fid: str) -> int:
        return min(window_start, entries[fid]["from"]) if "from" in entries[fid] else window_start

    runs: dict[str, dict] = {}
    new_max: int | None = None
    # New flows last, so their longer look-back does not widen the other flows' queries.
    order = sorted(entries, key=lambda f: ("from" in entries[f], shard_of_flow[f], f))
    for i in range(0, len(order), cfg.flows_per_query):
        ids = order[i:i + cfg.flows_per_query]
        wanted = set(ids)
        for run in aep_runs.window(client, ids, min(since(f) for f in ids), cfg.page_size, counters):
            if run["flowId"] in wanted:
                runs[run["id"]] = run
                st = min(started(run), now)
                new_max = st if new_max is None else max(new_max, st)
    recheck = sorted(rid for rid, info in in_progress.items() if rid not in runs and info[0] in entries)
    for run in aep_runs.recheck(client, recheck, cfg.recheck_chunk, counters):
        if run["flowId"] in entries and run["id"] in in_progress:
            runs[run["id"]] = run

    # ---- the records of the flows whose thresholds decide something (a run that may be a problem,
    # a success after a problem) or that may be overdue: thresholds, schedule, still managed?
    need = {fid for fid, e in entries.items() if (e.get("due") is not None and e["due"] <= now) or "sc" not in e}
    need |= {run["flowId"] for run in runs.values()
             if needs_thresholds(run, now) or (entries[run["flowId"]]["p"] and completed(run))}
    newest: dict[str, int] = {}
    for run in runs.values():
        newest[run["flowId"]] = max(newest.get(run["flowId"], -1), started(run))
    for fid, st in newest.items():  # overdue even so (by the shard's copy of its schedule)?
        last = max(entries[fid]["s"], st)
        deadline = overdue_deadline(expand_schedule(entries[fid].get("sc")), int(entries[fid].get("b") or 0), last)
        if deadline is not None and deadline <= now:
            need.add(fid)
    records = store.read_records(table, {entries[fid]["n"] for fid in need})
    report.records_read = len(records)
    flows: dict[str, ManagedFlow] = {}
    dropped: set[str] = set()
    for fid in need:
        record = records.get(entries[fid]["n"])
        flow = from_record(record) if record else None
        if flow is None or flow.flowId != fid or flow.sandbox != unit.sandbox:
            dropped.add(fid)
        else:
            flows[fid] = flow
    # The others' runs are fine whatever their thresholds; their schedule comes from the shard.
    for fid in {run["flowId"] for run in runs.values()} - need:
        entry = entries[fid]
        flows[fid] = ManagedFlow(name=entry["n"], flowId=fid, sandbox=unit.sandbox, connector="unknown",
                                 alerts=Alerts(), schedule=expand_schedule(entry.get("sc")),
                                 baseline_ms=int(entry.get("b") or 0))

    deltas: dict[int, Delta] = defaultdict(Delta)
    problems: list[Problem] = []
    status_counts: Counter[str] = Counter()
    done_by_flow: dict[str, list[dict]] = defaultdict(list)
    for rid, run in runs.items():
        fid = run["flowId"]
        if fid in dropped:
            continue
        flow, entry, delta = flows[fid], entries[fid], deltas[shard_of_flow[fid]]
        st = started(run)
        kind = classify(run, flow.alerts, now)
        if kind:
            problems.append((f"ALERT#{fid}#{rid}#{kind}", kind, flow, run, run_detail(kind, flow.alerts, now, run)))
        if completed(run):
            if rid in in_progress:
                delta.run_removes.add(rid)
            done_by_flow[fid].append(run)
            if rid in in_progress or st > entry["d"]:  # not counted before
                status_counts["partial" if kind == "partial" else kind or "success"] += 1
                rs = (run.get("metrics") or {}).get("recordSummary") or {}
                report.records_ingested += int(rs.get("outputRecordCount") or 0)
                report.records_failed += int(rs.get("failedRecordCount") or 0)
        else:
            status_counts["inProgress"] += 1
            if rid not in in_progress:
                delta.run_adds[rid] = [fid, st]
    # Runs last seen in progress that AEP no longer returns, or whose flow is no longer watched.
    for rid, info in in_progress.items():
        if rid not in runs or info[0] in dropped:
            deltas[shard_of_run[rid]].run_removes.add(rid)
    for fid in dropped:
        deltas[shard_of_flow[fid]].drop.add(fid)

    # ---- recovered: the first success after a problem, in start order, past what was handled
    for fid, done in done_by_flow.items():
        flow, entry = flows[fid], entries[fid]
        last_done, problem = entry["d"], bool(entry["p"])
        upd: dict[str, int] = {}
        for run in sorted(done, key=lambda r: (started(r), r["id"])):
            st = started(run)
            if st <= last_done:
                continue
            bad = classify(run, flow.alerts, now) is not None
            if not bad and problem and flow.alerts.notifyRecovered:
                problems.append((f"ALERT#{fid}#{run['id']}#recovered", "recovered", flow, run,
                                 {"reason": "first successful run after a failed or partial run"}))
            problem, last_done = bad, st
            upd["d"], upd["p"] = st, int(bad)
        if upd:
            deltas[shard_of_flow[fid]].flows.setdefault(fid, {}).update(upd)

    # ---- overdue: no run started within two intervals of when one was due
    for fid, flow in flows.items():
        entry = entries[fid]
        if fid in need:  # read from its record just now: keep the shard's copy of the schedule current
            fresh = {"sc": compact_schedule(flow.schedule), "b": flow.baseline_ms}
            if any(entry.get(k) != v for k, v in fresh.items()):
                deltas[shard_of_flow[fid]].flows.setdefault(fid, {}).update(fresh)
        last = max(entry["s"], newest.get(fid, -1))
        due = overdue_due(flow.schedule, flow.baseline_ms, None if last < 0 else last)
        deadline = None if due is None else due[0] + 2 * due[1]
        if due and now >= due[0] + 2 * due[1]:
            problems.append((f"ALERT#{fid}#due-{due[0]}#overdue", "overdue", flow, None, {
                "status": "no run", "dueAt": iso(due[0]), "lastRunStartedAt": iso(last) if last >= 0 else None,
                "reason": f"no run started within two intervals ({2 * due[1] // 60_000} minutes) of {iso(due[0])}"}))
            deadline = None  # claimed: silent until a newer run starts
        upd = {"s": last, "due": deadline} if last > entry["s"] else \
            {"due": deadline} if deadline != entry.get("due") else {}
        if upd:
            deltas[shard_of_flow[fid]].flows.setdefault(fid, {}).update(upd)
    for fid, entry in entries.items():
        if "from" in entry and fid not in dropped:
            deltas[shard_of_flow[fid]].clear_from.add(fid)

    # ---- every problem is durably claimed before the shards record the runs as handled
    unread = {p[2].flowId for p in problems} - need
    if unread:  # the rules above read the record of every flow that can have a problem
        raise RuntimeError(f"monitor: a problem of flows whose records were not read: {sorted(unread)[:3]}")
    sender = AlertSender(table, cfg.require_topic(), lease_seconds=lease_seconds, sns=aws.sns(), ddb=aws.dynamodb())
    for _, kind, _, _, _ in problems:
        report.problems[kind] = report.problems.get(kind, 0) + 1
    sender.claim_and_send_all([(key, build_alert(kind, _alert_flow(flow, client.sandbox), run, now_ms=now,
                                                 detail=detail)) for key, kind, flow, run, detail in problems])
    for number, delta in sorted(deltas.items()):
        if delta:
            store.save_shard(table, unit.sandbox, unit.shards, number, loaded[number], delta)
            report.shards_written += 1

    report.watermark_after = new_max
    report.flows_dropped = len(dropped)
    report.runs_seen = len([r for r in runs.values() if r["flowId"] not in dropped])
    report.runs_by_status = dict(status_counts)
    report.in_progress = status_counts.get("inProgress", 0)
    report.alerts_sent = dict(sender.sent)
    report.alerts_already_claimed = sender.already_claimed
    report.publish_errors = sender.publish_errors
    report.pages, report.recheck_chunks = counters.pages, counters.chunks
    report.aep_calls, report.aep_attempts = counters.calls, client.calls
    report.malformed_runs = counters.malformed
    report.duration_ms = round((time.perf_counter() - t0) * 1000, 1)
    return report
