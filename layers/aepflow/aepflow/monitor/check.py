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

from aepflow.aep.client import AepClient, aep_client
from aepflow.aep.run_outcome import (
    classify,
    completed,
    needs_thresholds,
    overdue_deadline,
    overdue_due,
    run_detail,
    started,
)
from aepflow.core import aws, settings
from aepflow.core.settings import MonitorSettings
from aepflow.monitor import diagnostics, shards
from aepflow.monitor import run_query as aep_runs
from aepflow.monitor.alerts import AlertSender, alert_key, build_alert, iso
from aepflow.monitor.flows import (
    DEFAULT_SANDBOX,
    ManagedFlow,
    alert_flow,
    compact_schedule,
    expand_schedule,
    from_record,
)
from aepflow.monitor.models import CheckEvent, UnitReport
from aepflow.monitor.retries import ALERT, RECOVERED, RETRY, Decision, Retries
from aepflow.monitor.state import HELD_BACK, PROBLEM, Delta
from aepflow.spec.thresholds import Alerts
from aepflow.store import monitor as monitor_store

Problem = tuple[str, str, ManagedFlow, "dict | None", dict]  # (alert key, kind, flow, run, detail)


def _client(sandbox: str) -> AepClient:
    """A client of its own (its call counter is this unit's), sharing the token and session."""
    base = aep_client()
    name = base.sandbox if sandbox == DEFAULT_SANDBOX else sandbox
    return AepClient(base.settings, base.credentials, base.tokens, sandbox=name, session=base.session)


def check_unit(event: CheckEvent, *, lease_seconds: float, cfg: MonitorSettings | None = None) -> UnitReport:
    started_at = time.perf_counter()
    check = _Check(event, cfg or settings.load(MonitorSettings))
    check.fetch_runs()
    check.read_flows()
    check.classify_runs()
    check.find_recoveries()
    check.find_overdue()
    check.send_then_save(lease_seconds)
    check.report.duration_ms = round((time.perf_counter() - started_at) * 1000, 1)
    return check.report


class _Check:
    """The working state of one check, phase by phase."""

    def __init__(self, event: CheckEvent, cfg: MonitorSettings):
        self.cfg, self.unit, self.now = cfg, event.unit, event.now
        unit = self.unit
        self.loaded = shards.load(cfg.table_name, unit.sandbox, unit.shards, range(unit.first, unit.last + 1))
        self.entries: dict[str, dict[str, Any]] = {}
        self.shard_of_flow: dict[str, int] = {}
        self.in_progress: dict[str, list] = {}
        self.shard_of_run: dict[str, int] = {}
        for number, shard in self.loaded.items():
            for fid, entry in shard.state.flows.items():
                self.entries[fid], self.shard_of_flow[fid] = entry, number
            for rid, info in shard.state.runs.items():
                self.in_progress[rid], self.shard_of_run[rid] = info, number
        self.report = UnitReport(sandbox=unit.sandbox, first=unit.first, last=unit.last, flows=len(self.entries),
                                 watermark_before=unit.wm)
        self.client = _client(unit.sandbox)
        self.counters = aep_runs.Counters()
        self.runs: dict[str, dict] = {}
        self.newest: dict[str, int] = {}          # flow -> start of its newest run seen now
        self.need: set[str] = set()               # flows whose record is read
        self.flows: dict[str, ManagedFlow] = {}
        self.dropped: set[str] = set()
        self.deltas: dict[int, Delta] = defaultdict(Delta)
        self.problems: list[Problem] = []
        self.done_by_flow: dict[str, list[dict]] = defaultdict(list)
        self.keeps_diagnostics: set[str] = set()  # flows whose spec sets options.errorDiagnosticsEnabled
        arn = cfg.retry_state_machine_arn  # the re-trigger policy (monitor/retries.py)
        self.retries = Retries(cfg.table_name, arn, aws.aws_client("stepfunctions") if arn else None)
        self.to_retry: list[Decision] = []        # failed runs held back: their retry is started, not alerted

    def _delta(self, fid: str) -> Delta:
        return self.deltas[self.shard_of_flow[fid]]

    def _update(self, fid: str, changes: dict[str, Any]) -> None:
        if changes:
            self._delta(fid).flows.setdefault(fid, {}).update(changes)

    # ---- the runs: every flow's since the sandbox's watermark (new flows: since they were recorded)
    def fetch_runs(self) -> None:
        cfg, now, entries = self.cfg, self.now, self.entries
        wm = self.unit.wm
        window_start = wm - cfg.overlap_minutes * 60_000 if wm is not None else \
            now - cfg.initial_lookback_minutes * 60_000
        new_max: int | None = None
        # New flows last, so their longer look-back does not widen the other flows' queries.
        order = sorted(entries, key=lambda f: ("from" in entries[f], self.shard_of_flow[f], f))
        for i in range(0, len(order), cfg.flows_per_query):
            ids = order[i:i + cfg.flows_per_query]
            wanted = set(ids)
            since = min(min(window_start, entries[f].get("from", window_start)) for f in ids)
            for run in aep_runs.window(self.client, ids, since, cfg.page_size, self.counters, now):
                if run["flowId"] in wanted:
                    self.runs[run["id"]] = run
                    st = min(started(run), now)
                    new_max = st if new_max is None else max(new_max, st)
        recheck = sorted(rid for rid, info in self.in_progress.items() if rid not in self.runs and info[0] in entries)
        for run in aep_runs.recheck(self.client, recheck, cfg.recheck_chunk, self.counters, now):
            if run["flowId"] in entries and run["id"] in self.in_progress:
                self.runs[run["id"]] = run
        for run in self.runs.values():
            self.newest[run["flowId"]] = max(self.newest.get(run["flowId"], -1), started(run))
        self.report.watermark_after = new_max

    # ---- the records of the flows whose thresholds decide something (a run that may be a problem,
    # a success after a problem) or that may be overdue: thresholds, schedule, still managed?
    def read_flows(self) -> None:
        now, entries = self.now, self.entries
        need = {fid for fid, e in entries.items() if (e.get("due") is not None and e["due"] <= now) or "sc" not in e}
        need |= {run["flowId"] for run in self.runs.values()
                 if needs_thresholds(run, now) or (entries[run["flowId"]]["p"] and completed(run))}
        for fid, st in self.newest.items():  # overdue even so (by the shard's copy of its schedule)?
            entry = entries[fid]
            deadline = overdue_deadline(expand_schedule(entry.get("sc")), int(entry.get("b") or 0), max(entry["s"], st))
            if deadline is not None and deadline <= now:
                need.add(fid)
        records = monitor_store.read_records(self.cfg.table_name, {entries[fid]["n"] for fid in need})
        self.report.records_read = len(records)
        for fid in need:
            record = records.get(entries[fid]["n"])
            flow = from_record(record) if record else None
            if flow is None or flow.flowId != fid or flow.sandbox != self.unit.sandbox:
                self.dropped.add(fid)
            else:
                self.flows[fid] = flow
                if diagnostics.enabled(record):
                    self.keeps_diagnostics.add(fid)
                fresh = {"sc": compact_schedule(flow.schedule), "b": flow.baseline_ms}  # the shard's copy
                self._update(fid, {k: v for k, v in fresh.items() if entries[fid].get(k) != v})
        # The others' runs are fine whatever their thresholds; their schedule comes from the shard.
        for fid in set(self.newest) - need:
            entry = entries[fid]
            self.flows[fid] = ManagedFlow(name=entry["n"], flowId=fid, sandbox=self.unit.sandbox, connector="unknown",
                                          alerts=Alerts(), schedule=expand_schedule(entry.get("sc")),
                                          baseline_ms=int(entry.get("b") or 0))
        self.need = need
        for fid in self.dropped:
            self._delta(fid).drop.add(fid)

    # ---- the re-trigger policy: which completed runs of flows with one are re-runs (their chains)
    def _read_retry_links(self) -> None:
        self.retries.read_links(rid for rid, run in self.runs.items() if run["flowId"] not in self.dropped
                                and self.flows[run["flowId"]].onFailure is not None and completed(run))

    def _problem(self, flow: ManagedFlow, run: dict, kind: str) -> None:
        """A problem run, unless the policy holds a failure back for a re-trigger (monitor/retries.py)."""
        detail = run_detail(kind, flow.alerts, self.now, run)
        decision = self.retries.decide(flow, run, kind, self.unit.sandbox)
        if decision.action == RETRY:
            self.to_retry.append(decision)
            return
        if decision.action == ALERT and decision.detail:
            reasons = [r for r in (detail.get("reason"), decision.detail.get("reason")) if r]
            detail = {**detail, **decision.detail, "reason": "; ".join(reasons)}
        self.problems.append((alert_key(flow.flowId, run["id"], kind), kind, flow, run, detail))

    def classify_runs(self) -> None:
        now, report = self.now, self.report
        status_counts: Counter[str] = Counter()
        self._read_retry_links()
        for rid, run in self.runs.items():
            fid = run["flowId"]
            if fid in self.dropped:
                continue
            flow, entry, delta = self.flows[fid], self.entries[fid], self._delta(fid)
            st = started(run)
            kind = classify(run, flow.alerts, now)
            if kind:
                self._problem(flow, run, kind)
            if completed(run):
                if rid in self.in_progress:
                    delta.run_removes.add(rid)
                self.done_by_flow[fid].append(run)
                if rid in self.in_progress or st > entry["d"]:  # not counted before
                    status_counts["partial" if kind == "partial" else kind or "success"] += 1
                    rs = (run.get("metrics") or {}).get("recordSummary") or {}
                    report.records_ingested += int(rs.get("outputRecordCount") or 0)
                    report.records_failed += int(rs.get("failedRecordCount") or 0)
            else:
                status_counts["inProgress"] += 1
                if rid not in self.in_progress:
                    delta.run_adds[rid] = [fid, st]
        # Runs last seen in progress that AEP no longer returns, or whose flow is no longer watched.
        for rid, info in self.in_progress.items():
            if rid not in self.runs or info[0] in self.dropped:
                self.deltas[self.shard_of_run[rid]].run_removes.add(rid)
        report.runs_seen = sum(1 for r in self.runs.values() if r["flowId"] not in self.dropped)
        report.runs_by_status = dict(status_counts)
        report.in_progress = status_counts.get("inProgress", 0)
        report.flows_dropped = len(self.dropped)

    # ---- recovered: the first success after a problem, in start order, past what was handled. A
    # re-run's success (a re-triggered run, monitor/retries.py) is the policy's: quiet, or its note.
    def find_recoveries(self) -> None:
        for fid, done in self.done_by_flow.items():
            flow, entry = self.flows[fid], self.entries[fid]
            # problem: state.PROBLEM (alerted: a success after it is a recovery), state.HELD_BACK (held
            # for a re-trigger, never alerted: only the re-run's own success may say recovered) or 0.
            last_done, problem = entry["d"], int(entry["p"])
            held = {str((d.start or {}).get("runId")) for d in self.to_retry}
            changes: dict[str, int] = {}
            for run in sorted(done, key=lambda r: (started(r), r["id"])):
                st = started(run)
                if st <= last_done:
                    continue
                bad = classify(run, flow.alerts, self.now) is not None
                if not bad and run["id"] in self.retries.links:
                    decision = self.retries.decide(flow, run, None, self.unit.sandbox)
                    if decision.action == RECOVERED:
                        self.problems.append((alert_key(fid, run["id"], "recovered"), "recovered", flow, run,
                                              decision.detail))
                elif not bad and problem == PROBLEM and flow.alerts.notifyRecovered:
                    self.problems.append((alert_key(fid, run["id"], "recovered"), "recovered", flow, run,
                                          {"reason": "first successful run after a failed or partial run"}))
                problem, last_done = (HELD_BACK if run["id"] in held else PROBLEM) if bad else 0, st
                changes["d"], changes["p"] = st, problem
            self._update(fid, changes)

    # ---- overdue: no run started within two intervals of when one was due
    def find_overdue(self) -> None:
        now = self.now
        for fid, flow in self.flows.items():
            entry = self.entries[fid]
            last = max(entry["s"], self.newest.get(fid, -1))
            due = overdue_due(flow.schedule, flow.baseline_ms, None if last < 0 else last)
            deadline = None if due is None else due[0] + 2 * due[1]
            if due and deadline is not None and now >= deadline:
                self.problems.append((f"ALERT#{fid}#due-{due[0]}#overdue", "overdue", flow, None, {
                    "status": "no run", "dueAt": iso(due[0]), "lastRunStartedAt": iso(last) if last >= 0 else None,
                    "reason": f"no run started within two intervals ({2 * due[1] // 60_000} minutes) of "
                              f"{iso(due[0])}"}))
                deadline = None  # claimed: silent until a newer run starts
            if last > entry["s"]:
                self._update(fid, {"s": last, "due": deadline})
            elif deadline != entry.get("due"):
                self._update(fid, {"due": deadline})
        for fid, entry in self.entries.items():
            if "from" in entry and fid not in self.dropped:
                self._delta(fid).clear_from.add(fid)

    # ---- failed records kept: copied just before the claim of a failed or partial run's alert, so
    # the alert names only a copy that exists; a problem already claimed is not copied again. A
    # crash between the copy and the claim makes the next poll copy again (the same keys: the puts
    # are idempotent), and a copy that fails is logged and named in the alert, which is sent all
    # the same: the alert never waits on, nor is lost by, the copy.
    def _keep_failed_records(self, alert: dict, kind: str, flow: ManagedFlow, run: dict | None) -> dict:
        if flow.flowId not in self.keeps_diagnostics:
            return alert
        return diagnostics.keep_for_alert(self.client, self.cfg.failed_records_bucket, alert, kind, flow.name, run)

    # ---- every problem is durably claimed before the shards record the runs as handled
    def send_then_save(self, lease_seconds: float) -> None:
        cfg, report = self.cfg, self.report
        unread = {p[2].flowId for p in self.problems} - self.need
        if unread:  # the rules above read the record of every flow that can have a problem
            raise RuntimeError(f"monitor: a problem of flows whose records were not read: {sorted(unread)[:3]}")
        sender = AlertSender(cfg.table_name, cfg.require_topic(), lease_seconds=lease_seconds,
                             sns=aws.aws_client("sns"))
        for _, kind, _, _, _ in self.problems:
            report.problems[kind] = report.problems.get(kind, 0) + 1
        for decision in self.to_retry:  # started before the shards mark the run handled (a crash: next poll)
            self.retries.start(decision)
        if self.to_retry:
            report.problems["retry"] = len(self.to_retry)
        runs = {key: (kind, flow, run) for key, kind, flow, run, _ in self.problems}
        sender.claim_and_send_all([(key, build_alert(kind, alert_flow(flow, self.client.sandbox), run,
                                                     now_ms=self.now, detail=detail))
                                   for key, kind, flow, run, detail in self.problems],
                                  prepare=lambda key, alert: self._keep_failed_records(alert, *runs[key]))
        for number, delta in sorted(self.deltas.items()):
            if delta:
                shards.save(cfg.table_name, self.unit.sandbox, self.unit.shards, number, self.loaded[number],
                                 delta)
                report.shards_written += 1
        report.alerts_sent = dict(sender.sent)
        report.alerts_already_claimed = sender.already_claimed
        report.publish_errors = sender.publish_errors
        report.pages, report.recheck_chunks = self.counters.pages, self.counters.chunks
        report.aep_calls, report.aep_attempts = self.counters.calls, self.client.calls
        report.malformed_runs = self.counters.malformed
