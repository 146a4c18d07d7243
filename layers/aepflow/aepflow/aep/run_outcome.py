"""What a flow run came to, or what a flow's schedule says (the monitor's alerts and `aepflow runs`
alike): failed, partial (failed records over the spec's threshold), stuck (in progress too long),
overdue (no run within two intervals of when one was due). Pure functions of the run, the flow's
alert settings and the clock."""

from __future__ import annotations

import math
from typing import Any

from aepflow.spec.thresholds import Alerts

PERIOD_MS = {"minute": 60_000, "hour": 3_600_000, "day": 86_400_000, "week": 604_800_000}


def status(run: dict) -> str:
    return str(((run.get("metrics") or {}).get("statusSummary") or {}).get("status", "")).lower()


def completed(run: dict) -> bool:
    m = run.get("metrics") or {}
    return status(run) in ("success", "failed") and (m.get("durationSummary") or {}).get("completedAtUTC") is not None


def started(run: dict) -> int:
    return int(((run.get("metrics") or {}).get("durationSummary") or {}).get("startedAtUTC") or 0)


def classify(run: dict, alerts: Alerts, now_ms: int) -> str | None:
    """failed | partial | stuck | None (fine, or still running within its allowance)."""
    m = run.get("metrics") or {}
    state = status(run)
    if not completed(run):
        if state == "failed":
            return "failed"
        return "stuck" if now_ms - started(run) > alerts.stuckAfterMinutes * 60_000 else None
    if state == "failed":
        return "failed"
    rs = m.get("recordSummary") or {}
    read, failed = int(rs.get("inputRecordCount") or 0), int(rs.get("failedRecordCount") or 0)
    if failed and (read == 0 or failed * 100 / read > alerts.failedRecordsPercent):
        return "partial"
    return None


# The smallest stuckAfterMinutes a spec may set (alert_thresholds.Alerts): a run in progress for less can
# be stuck under no threshold.
MIN_STUCK_MS = 60_000


def needs_thresholds(run: dict, now_ms: int) -> bool:
    """Whether the flow's alert thresholds decide anything about this run: a failed run, one
    with failed records, or one in progress long enough to be stuck under some threshold."""
    if status(run) == "failed":
        return True
    if completed(run):
        return bool(int(((run.get("metrics") or {}).get("recordSummary") or {}).get("failedRecordCount") or 0))
    return now_ms - started(run) > MIN_STUCK_MS


def run_detail(kind: str, alerts: Alerts, now_ms: int, run: dict) -> dict:
    if kind == "partial":
        return {"threshold": f"failed records over {alerts.failedRecordsPercent}% of input records"}
    if kind == "stuck":
        minutes = (now_ms - started(run)) // 60_000
        return {"threshold": f"in progress over {alerts.stuckAfterMinutes} minutes",
                "reason": f"in progress for {minutes} minutes"}
    return {}


def overdue_due(schedule: dict[str, Any] | None, baseline_ms: int, last_start: int | None) -> tuple[int, int] | None:
    """(due tick, period) of the first run that should have started after the last one seen
    (or at/after `baseline_ms` when none was), or None for a flow without a periodic schedule."""
    sched = schedule or {}
    period = PERIOD_MS.get(str(sched.get("frequency", "")).lower())
    if period is None:
        return None
    period *= max(1, int(sched.get("interval") or 1))
    grid = int(sched["startTime"]) * 1000 if sched.get("startTime") is not None else baseline_ms
    if last_start is None:
        k = max(0, math.ceil((baseline_ms - grid) / period))
    else:
        k = max(0, (last_start - grid) // period + 1)
    return grid + k * period, period


def overdue_deadline(schedule: dict[str, Any] | None, baseline_ms: int, last_start: int | None) -> int | None:
    """When the flow becomes overdue if no run starts before: two intervals after the due tick."""
    due = overdue_due(schedule, baseline_ms, last_start)
    return None if due is None else due[0] + 2 * due[1]
