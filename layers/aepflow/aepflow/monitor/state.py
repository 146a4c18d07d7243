"""The monitor's state of one shard (a sandbox's flows whose id hashes to it): which flows it
watches, what it last saw of each, and the runs it saw in progress. Pure data and the merge
rules; monitor/store.py reads and writes it.

One shard, as JSON (stored zlib-compressed):
  {"flows": {<flowId>: {"n": <dataflow name>,
                        "s": <start of the newest run seen, or -1>,
                        "d": <start of the newest completed run handled, or -1>,
                        "p": 1 (PROBLEM) when that run was alerted as a problem (a success after it is
                             a recovery), 2 (HELD_BACK) when it failed but was held back for a
                             re-trigger (monitor/retries.py: never alerted, so no recovery), else 0,
                        "due": <ms when the flow is overdue unless a run starts, or null>,
                        "sc": [frequency, interval, startTime] of its schedule, or null, and
                        "b": <ms its schedule counts from> (copied from the record, for the due time),
                        "from": <ms, only until the first check: look for runs since then>}},
   "runs": {<runId>: [<flowId>, <startedAt>]}}      runs last seen in progress
(The sandbox's watermark, which every shard of it shares, is kept in the registry item.)

Every change is a Delta applied to the latest stored state, and every rule is monotonic (times
only move forward, additions and removals are explicit), so polls that overlap, a registry sync
and a check that write the same shard never undo each other."""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass, field
from typing import Any
from zlib import crc32

# A flow's newest completed run handled (its "p"): alerted as a problem, or held back for a re-trigger.
PROBLEM, HELD_BACK = 1, 2


def shard_of(flow_id: str, shards: int) -> int:
    return crc32(flow_id.encode()) % shards


@dataclass
class ShardState:
    flows: dict[str, dict[str, Any]] = field(default_factory=dict)
    runs: dict[str, list] = field(default_factory=dict)

    @classmethod
    def decode(cls, blob: bytes | None) -> ShardState:
        if not blob:
            return cls()
        doc = json.loads(zlib.decompress(blob))
        return cls(flows=doc.get("flows") or {}, runs=doc.get("runs") or {})

    def encode(self) -> bytes:
        doc = {"flows": self.flows, "runs": self.runs}
        return zlib.compress(json.dumps(doc, separators=(",", ":")).encode(), 6)


@dataclass
class Delta:
    """What one writer changes in one shard."""
    register: dict[str, dict[str, Any]] = field(default_factory=dict)  # flowId -> {n, sc, b, due, from}
    flows: dict[str, dict[str, Any]] = field(default_factory=dict)     # flowId -> {s?, d?, p?, due?, sc?, b?}
    drop: set[str] = field(default_factory=set)                         # flows no longer managed
    clear_from: set[str] = field(default_factory=set)                   # flows checked once
    run_adds: dict[str, list] = field(default_factory=dict)
    run_removes: set[str] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.register or any(self.flows.values()) or self.drop or self.clear_from or self.run_adds
                    or self.run_removes)


def merge(state: ShardState, delta: Delta) -> ShardState:
    """The state after `delta`, merged into what is stored now."""
    flows = {fid: dict(entry) for fid, entry in state.flows.items()}
    for fid in delta.drop:
        flows.pop(fid, None)
    for fid, reg in delta.register.items():
        cur = flows.get(fid)
        if cur is None:
            entry = {"n": reg["n"], "s": -1, "d": -1, "p": 0, "due": reg.get("due"), "sc": reg.get("sc"),
                     "b": reg.get("b", 0)}
            if reg.get("from") is not None:
                entry["from"] = reg["from"]
            flows[fid] = entry
        else:  # what the record says now; what the monitor saw stays
            cur.update({k: reg[k] for k in ("n", "sc", "b") if k in reg})
    for fid, upd in delta.flows.items():
        cur = flows.get(fid)
        if cur is None:
            continue  # dropped meanwhile
        if "s" in upd and upd["s"] > cur["s"]:
            cur["s"] = upd["s"]
            if "due" in upd:
                cur["due"] = upd["due"]
        elif "due" in upd and upd.get("s", cur["s"]) == cur["s"]:
            # Same newest run: an overdue alert already claimed (null) stays claimed.
            cur["due"] = None if cur.get("due") is None or upd["due"] is None else upd["due"]
        if "d" in upd and upd["d"] > cur["d"]:
            cur["d"], cur["p"] = upd["d"], upd.get("p") if upd.get("p") in (PROBLEM, HELD_BACK) else 0
        cur.update({k: upd[k] for k in ("sc", "b") if k in upd})
    for fid in delta.clear_from:
        if fid in flows:
            flows[fid].pop("from", None)
    runs = dict(state.runs)
    runs.update(delta.run_adds)
    for rid in delta.run_removes:
        runs.pop(rid, None)
    return ShardState(flows=flows, runs=runs)
