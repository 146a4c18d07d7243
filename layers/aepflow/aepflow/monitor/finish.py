"""The last step of a poll: add up what every unit did into one report, remember how many flows
each sandbox has (the next poll splits its work by it), and publish the poll's metrics."""

from __future__ import annotations

import time
from collections import defaultdict

from aws_lambda_powertools.metrics import MetricUnit

from aepflow.core import settings
from aepflow.core.observability import logger, metrics
from aepflow.core.settings import MonitorSettings
from aepflow.monitor.models import FinishEvent, PollReport, Tally
from aepflow.store import monitor as monitor_store

# The counters a poll adds up from its units.
_SUMMED = tuple(name for name, f in Tally.model_fields.items() if f.annotation is int)
_MERGED = tuple(name for name, f in Tally.model_fields.items() if f.annotation == dict[str, int])


def _add(into: dict[str, int], more: dict[str, int]) -> None:
    for key, n in more.items():
        into[key] = into.get(key, 0) + n


def finish_poll(event: FinishEvent, cfg: MonitorSettings | None = None) -> PollReport:
    cfg = cfg or settings.load(MonitorSettings)
    report = PollReport(now_ms=event.now, sandboxes=sorted({u.sandbox for u in event.units}),
                        units=len(event.units), registry_synced=event.synced, alerts_retried=event.alerts_retried,
                        publish_errors=event.publish_errors, alerts_sent=dict(event.alerts_sent))
    counts: dict[str, int] = defaultdict(int)
    done = [r for r in event.reports if not r.failed]
    before = [r.watermark_before for r in done if r.flows]
    after = [r.watermark_after for r in done if r.watermark_after is not None]
    for unit in event.reports:
        if unit.failed:
            report.units_failed += 1
            report.failures[unit.failed] = report.failures.get(unit.failed, 0) + 1
            continue
        for name in _SUMMED:
            setattr(report, name, getattr(report, name) + getattr(unit, name))
        for name in _MERGED:
            _add(getattr(report, name), getattr(unit, name))
        counts[unit.sandbox] += unit.flows
        report.slowest_unit_ms = max(report.slowest_unit_ms, unit.duration_ms)
    report.watermark_before = None if not before or None in before else min(w for w in before if w is not None)
    report.watermark_after = max(after) if after else None
    report.duration_ms = float(max(0, int(time.time() * 1000) - event.startedAt))
    # A sandbox's watermark moves only when every unit of it succeeded: a failed one looks again.
    failed = {r.sandbox for r in event.reports if r.failed}
    newest: dict[str, int] = {}
    for r in done:
        if r.watermark_after is not None:
            newest[r.sandbox] = max(newest.get(r.sandbox, r.watermark_after), r.watermark_after)
    for sandbox, value in sorted(newest.items()):
        if sandbox not in failed:
            monitor_store.advance_watermark(cfg.table_name, sandbox, value)
    if done and not report.units_failed:
        monitor_store.record_counts(cfg.table_name, dict(counts))
    _emit_metrics(report)
    if report.units_failed:
        # What the state machine's "Some units failed" state says: the error of the units that failed.
        report.error = sorted(report.failures, key=lambda e: (-report.failures[e], e))[0]
        report.cause = f"{report.units_failed} of {report.units} units failed: " + ", ".join(
            f"{error} x{n}" for error, n in sorted(report.failures.items()))
        logger.error("monitor poll: units failed", extra={"failures": report.failures})
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
    for problem, sent in r.alerts_sent.items():  # the dashboard's "alerts by problem"
        metrics.add_metric(name=f"Alerts{problem[:1].upper()}{problem[1:]}", unit=MetricUnit.Count, value=sent)
    metrics.add_metric(name="AepCallsPerPoll", unit=MetricUnit.Count, value=r.aep_calls)
    metrics.add_metric(name="PollDuration", unit=MetricUnit.Milliseconds, value=r.duration_ms)
