"""A managed dataflow as the monitor sees it, read from its dataflow record: the flow id, its
sandbox, the spec's alert thresholds and schedule. A record that is not ACTIVE, names no flow,
is a draft (an AEP draft makes no run until it is published: aepflow publish), or cannot be read
is not watched."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ValidationError

from aepflow.core.observability import logger
from aepflow.monitor.models import SANDBOX_KEY
from aepflow.spec.on_failure import OnFailure
from aepflow.spec.thresholds import Alerts

# The monitor validates a record's alert thresholds and re-trigger policy: their validators are built
# at import, as a module that parses specs builds parse_spec's (spec.build_models).
Alerts.model_rebuild()
OnFailure.model_rebuild()


DEFAULT_SANDBOX = "(default)"


class ManagedFlow(BaseModel):
    name: str
    flowId: str
    sandbox: str  # as the spec names it, or DEFAULT_SANDBOX: the credentials' sandbox, which only AEP calls need
    connector: str
    alerts: Alerts
    schedule: dict | None = None
    baseline_ms: int = 0  # the schedule's grid starts counting here (startTime, or the last update)
    onFailure: OnFailure | None = None  # the re-trigger policy (monitor/retries.py)


def parse_time_ms(value: Any) -> int:
    if not value:
        return 0
    try:
        return int(datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return 0


def from_record(item: dict[str, Any]) -> ManagedFlow | None:
    """The record's flow, or None when the record is not one the monitor watches."""
    if item.get("status") != "ACTIVE":
        return None
    try:
        spec = json.loads(item.get("spec") or "{}")
        ids = json.loads(item.get("ids") or "{}")
        if not isinstance(spec, dict) or not isinstance(ids, dict):
            raise ValueError("spec and ids must be JSON objects")
        flow_id = item.get("flowId") or ids.get("flowId")
        if not flow_id or ids.get("draft") is True:  # a draft: watched once published (ops/drafts.py)
            return None
        sched = spec.get("schedule") or None
        if sched is not None and not isinstance(sched, dict):
            raise ValueError("schedule must be an object")
        sandbox = str(spec.get("sandbox") or DEFAULT_SANDBOX).lower()
        if not re.match(SANDBOX_KEY, sandbox):
            raise ValueError("sandbox is not a sandbox name")
        start = int(sched["startTime"]) * 1000 if sched and sched.get("startTime") is not None else 0
        return ManagedFlow(name=str(item.get("name") or spec.get("name") or flow_id), flowId=str(flow_id),
                           sandbox=sandbox,
                           connector=str(item.get("connector") or "unknown"),
                           alerts=Alerts.model_validate(spec.get("alerts") or {}), schedule=sched,
                           baseline_ms=max(start, parse_time_ms(item.get("updatedAt"))),
                           onFailure=OnFailure.model_validate(spec["onFailure"]) if spec.get("onFailure") else None)
    except (ValueError, TypeError, KeyError, ValidationError) as exc:
        # One unreadable record must not stop the watch of every other flow.
        logger.warning("dataflow record not watched: unreadable", extra={"dataflow": item.get("name"),
                                                                         "error": type(exc).__name__})
        return None


def compact_schedule(schedule: dict | None) -> list | None:
    """[frequency, interval, startTime]: what the due time of a run needs, kept in the shard."""
    if not schedule:
        return None
    return [schedule.get("frequency"), schedule.get("interval"), schedule.get("startTime")]


def expand_schedule(compact: list | None) -> dict | None:
    if not compact:
        return None
    frequency, interval, start = (list(compact) + [None, None, None])[:3]
    return {"frequency": frequency, "interval": interval, "startTime": start}


def alert_flow(flow: ManagedFlow, sandbox: str) -> dict[str, Any]:
    """What an alert says of its flow (monitor/alerts.build_alert), from the poll or an event alike."""
    return {"name": flow.name, "sandbox": sandbox, "connector": flow.connector, "flowId": flow.flowId,
            "alerts": flow.alerts.model_dump(), "schedule": flow.schedule}
