"""Which flows the monitor watches: each ACTIVE dataflow record's flow, entered in the state of
its shard (its sandbox, crc32(flowId) % MONITOR_SHARDS). Two ways in:

- one flow, when aepflow.DataflowProvisioned announces it (an EventBridge rule), at once;
- a sync: every record, read one segment of a parallel Scan of the Dataflows index per
  invocation (the poll runs one when MONITOR_REGISTRY_SYNC_MINUTES have passed, and on its
  first run), for the flows whose announcement was lost or that were recorded another way.

A sync only adds: a flow whose record is gone, or no longer ACTIVE, is dropped by the check
that next reads its record (monitor/check.py). A new entry carries `from`, so its first check
looks for its runs since the record was written, not only since the shard's watermark."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from typing import Any

from aepflow.aep.run_outcome import overdue_deadline
from aepflow.core import settings
from aepflow.core.observability import logger
from aepflow.core.settings import MonitorSettings
from aepflow.monitor import shards
from aepflow.monitor.flows import ManagedFlow, compact_schedule, from_record
from aepflow.monitor.models import Segment, SegmentReport
from aepflow.monitor.state import Delta, shard_of
from aepflow.store import monitor as monitor_store

PROVISIONED = "aepflow.DataflowProvisioned"


def entry_for(flow: ManagedFlow, now_ms: int, cfg: MonitorSettings) -> dict[str, Any]:
    earliest = now_ms - cfg.initial_lookback_minutes * 60_000
    return {"n": flow.name, "sc": compact_schedule(flow.schedule), "b": flow.baseline_ms,
            "due": overdue_deadline(flow.schedule, flow.baseline_ms, None),
            "from": max(flow.baseline_ms - cfg.overlap_minutes * 60_000, earliest)}


SHARDS_IN_MEMORY = 8  # a sync holds this many shards' state at a time, whatever their number


def _register(cfg: MonitorSettings, groups: dict[tuple[str, int], dict[str, dict[str, Any]]],
              start: float = 0.0) -> int:
    """Add the entries, one conditional write per shard touched. Returns the shards written.
    `start` (0 <= start < 1): where in each sandbox's shards the writes begin, so that the segments
    of a sync, which run at once and touch the same shards, do not all queue on the first one."""
    by_sandbox: dict[str, list[int]] = defaultdict(list)
    for sandbox, number in groups:
        by_sandbox[sandbox].append(number)
    written = 0
    for sandbox, numbers in sorted(by_sandbox.items()):
        numbers.sort()
        first = int(start * len(numbers))
        numbers[:] = numbers[first:] + numbers[:first]
        for i in range(0, len(numbers), SHARDS_IN_MEMORY):
            loaded = shards.load(cfg.table_name, sandbox, cfg.shards, numbers[i:i + SHARDS_IN_MEMORY])
            for number, shard in loaded.items():
                regs = groups.pop((sandbox, number))
                known = shard.state.flows
                if all(fid in known and all(known[fid].get(k) == reg[k] for k in ("n", "sc", "b"))
                       for fid, reg in regs.items()):
                    continue  # nothing new for this shard
                shards.save(cfg.table_name, sandbox, cfg.shards, number, shard, Delta(register=regs))
                written += 1
    return written


def sync_segment(event: Segment, cfg: MonitorSettings | None = None) -> SegmentReport:
    """Enter every ACTIVE flow of one segment of the Dataflows index."""
    started = time.perf_counter()
    cfg = cfg or settings.load(MonitorSettings)
    groups: dict[tuple[str, int], dict[str, dict[str, Any]]] = defaultdict(dict)
    flows: Counter[str] = Counter()
    records = 0
    for page in monitor_store.record_pages(cfg.table_name, event.segment, event.segments):
        for item in page:
            records += 1
            flow = from_record(item)
            if flow is None:
                continue
            groups[(flow.sandbox, shard_of(flow.flowId, cfg.shards))][flow.flowId] = entry_for(flow, event.now, cfg)
            flows[flow.sandbox] += 1
    written = _register(cfg, groups, start=event.segment / event.segments)
    return SegmentReport(segment=event.segment, records=records, flows=dict(flows), shards_written=written,
                         duration_ms=round((time.perf_counter() - started) * 1000, 1))


def register_provisioned(event: dict[str, Any], cfg: MonitorSettings | None = None) -> dict[str, Any]:
    """Enter the flow an aepflow.DataflowProvisioned event announces, from its record (the
    event says which; the record, written before the event was sent, says what)."""
    cfg = cfg or settings.load(MonitorSettings)
    raw_detail = event.get("detail")
    detail: dict[str, Any] = raw_detail if isinstance(raw_detail, dict) else {}
    raw_ids = detail.get("ids")
    name, ids = detail.get("name"), raw_ids if isinstance(raw_ids, dict) else {}
    if event.get("detail-type") != PROVISIONED or not isinstance(name, str) or not name or len(name) > 200:
        return {"registered": False, "reason": "not an aepflow.DataflowProvisioned event with a dataflow name"}
    record = monitor_store.read_record(cfg.table_name, name)
    flow = from_record(record) if record else None
    if flow is None or (ids.get("flowId") and ids["flowId"] != flow.flowId):
        # A newer provisioning may have replaced it already; the sync keeps the registry right.
        logger.info("provisioned dataflow not registered", extra={"dataflow": name})
        return {"registered": False, "name": name, "reason": "no ACTIVE record with that flow"}
    now = int(time.time() * 1000)
    number = shard_of(flow.flowId, cfg.shards)
    _register(cfg, {(flow.sandbox, number): {flow.flowId: entry_for(flow, now, cfg)}})
    monitor_store.add_sandbox(cfg.table_name, flow.sandbox)
    return {"registered": True, "name": name, "flowId": flow.flowId, "sandbox": flow.sandbox, "shard": number}
