"""The first step of a poll: re-send the alerts a crashed or refused invocation left pending,
decide whether the registry needs a sync first, and split the work: per sandbox, as many
units (ranges of its shards) as its flows need, MONITOR_FLOWS_PER_UNIT flows each."""

from __future__ import annotations

import math
import time

from aepflow.core import aws, settings
from aepflow.core.settings import MonitorSettings
from aepflow.monitor.alerts import AlertSender
from aepflow.monitor.models import MAX_SEGMENTS, MAX_UNITS, PlanEvent, PlanResult, Segment, Unit
from aepflow.store import monitor as monitor_store


def split(counts: dict[str, int], sandboxes: set[str], cfg: MonitorSettings,
          watermarks: dict[str, int] | None = None) -> list[Unit]:
    units: list[Unit] = []
    for sandbox in sorted(sandboxes | set(counts)):
        n = min(cfg.shards, max(1, math.ceil(counts.get(sandbox, 0) / cfg.flows_per_unit)))
        for i in range(n):
            units.append(Unit(sandbox=sandbox, shards=cfg.shards, first=i * cfg.shards // n,
                              last=(i + 1) * cfg.shards // n - 1, wm=(watermarks or {}).get(sandbox)))
    if len(units) > MAX_UNITS:
        raise ValueError(f"{len(units)} units of work: raise MONITOR_FLOWS_PER_UNIT")
    return units


def plan_poll(event: PlanEvent, *, lease_seconds: float, cfg: MonitorSettings | None = None) -> PlanResult:
    cfg = cfg or settings.load(MonitorSettings)
    started_at = int(time.time() * 1000)
    now = event.now if event.now is not None else int(event.time.timestamp() * 1000) if event.time else started_at
    sender = AlertSender(cfg.table_name, cfg.require_topic(), lease_seconds=lease_seconds,
                         sns=aws.aws_client("sns"))
    sender.sweep()  # alerts a crashed or refused invocation left pending
    result = PlanResult(now=now, startedAt=started_at, alerts_retried=sender.retried,
                        publish_errors=sender.publish_errors, alerts_sent=dict(sender.sent))
    if event.synced is not None:
        counts: dict[str, int] = {}
        for seg in event.synced:
            for sandbox, n in seg.flows.items():
                counts[sandbox] = counts.get(sandbox, 0) + n
        monitor_store.record_sync(cfg.table_name, now, cfg.shards, counts)
        result.synced = True
    registry = monitor_store.read_registry(cfg.table_name)
    # Due on the first poll, every MONITOR_REGISTRY_SYNC_MINUTES, and when MONITOR_SHARDS changed
    # (the flows' shards are new then, and empty).
    due = registry.synced_at is None or registry.shards != cfg.shards or \
        now - registry.synced_at >= cfg.registry_sync_minutes * 60_000
    if due and event.synced is None:
        total = sum(registry.counts.values()) if registry.counts else monitor_store.table_items(cfg.table_name)
        n = min(MAX_SEGMENTS, max(1, math.ceil(total / cfg.records_per_segment)))
        result.sync = [Segment(segment=i, segments=n, now=now) for i in range(n)]
        result.syncDue = True
        return result
    result.units = split(registry.counts, registry.sandboxes, cfg, registry.watermarks)
    return result
