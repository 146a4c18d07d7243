"""Flow Service's flow runs, in emulated time: runs on the flows' schedules, GET /runs (filters,
order, paging), GET /runs/{id} and POST /runs (a run on demand). What a run looks like is
run_payloads.py's.

The emulator keeps its own clock (`emu.now_ms`), which only moves when a test or the demo
calls `emu.advance(...)`. Runs are generated lazily and deterministically: whenever the
clock moves, or /runs is read, every enabled flow with `scheduleParams` gets one run per
schedule tick that is due (`startTime` in epoch seconds, `frequency` x `interval`; `once`
runs once). A flow is "registered" the first time the generator sees it; ticks before that
moment are not back-filled as separate runs (AEP folds backfill into the first run).

Outcomes, per flow: `emu.set_run_outcomes(flow_id, [...])` is consumed in order, then
`success`; or, after `emu.set_random_outcomes(weights, seed)`, drawn from
`random.Random(f"{seed}:{flowId}:{tick}")` (deterministic per run, independent of the order
in which flows are generated). Outcomes:

  success           status success, every record written
  failed            status failed, CONNECTOR-1001-500 (copy) or CONNECTOR-2001-500 (promotion),
                    chosen per run; `failed-copy` / `failed-promotion` force one
  partial           status success with 2-10 % failed records (INGEST-1212-400, MAPPER-3700-400
                    with recordCount, failedRecords/sampleErrors manifest links) - like seed 002
  partial-low       status success with 1 failed record out of >= 1000 (under AEP's 0.5 %)
  stuck             never completes
  skipped           the tick produces no run at all (to make a flow overdue)

Every run but `skipped` is in progress for 1-4 emulated minutes before it completes.

In-progress shape (our choice, FACTS §3): the documented in-progress signal is the run
`state` (`state==inProgress` is the documented filter example); `statusSummary.status`
only documents `success` and `failed`. A run in progress here carries `state: "inProgress"`,
`metrics.statusSummary.status: "inProgress"` and no `completedAtUTC`; a completed run carries
no `state` at all, exactly like the seed-002 payload. Consumers should treat "no
completedAtUTC and status neither success nor failed" as in progress.

Listing (FACTS §2): `property` filters (ANDed, `==` any-of lists, `>`, `<`, `>=`, refusals
1440/1443/1448/1450/1452/1453 via listing.parse_property), `orderby` (1432/1433), `limit`,
`count` (1401 with limit), and `continuationToken`. `==` on `state` and
`metrics.statusSummary.status` is case-insensitive (the docs write `Failed`, payloads
`failed`). The continuation token is a keyset cursor (the sort value and id of the last item
returned), so runs appearing or changing between two pages neither shift nor hide items.
"""
from __future__ import annotations

import bisect
import heapq
import math
import random
import threading
import time
import uuid

from .aep_errors import flow_error
from .drafts import refuse_if_draft
from .listing import ListError, _cmp_val, _matches, _resolve, continuation_href, parse_limit, parse_property, resume
from .run_events import RunAnnouncer
from .run_payloads import render_run
from .sandbox import new_etag

OUTCOMES = ("success", "failed", "failed-copy", "failed-promotion", "partial", "partial-low", "stuck", "skipped")
PERIOD_MS = {"minute": 60_000, "hour": 3_600_000, "day": 86_400_000, "week": 604_800_000}
CI_FIELDS = {"state", "metrics.statusSummary.status"}
SORTABLE = {"id", "createdAt", "updatedAt", "flowId", "state", "metrics.durationSummary.startedAtUTC",
            "metrics.durationSummary.completedAtUTC"}
STARTED = "metrics.durationSummary.startedAtUTC"
# A bound on runs generated per flow in one step, so a startTime grid far in the past or a
# huge advance cannot exhaust memory.
MAX_RUNS_PER_FLOW_PER_STEP = 10_000


class _Store:
    """The runs of one sandbox."""

    def __init__(self):
        self.runs: dict[str, dict] = {}          # id -> skeleton
        self.by_flow: dict[str, list[str]] = {}  # flowId -> run ids, oldest first
        self.order: list[tuple[int, str]] = []   # (startedAt, id), sorted
        self.cursor: dict[str, dict] = {}        # flowId -> {"registered": ms, "last": ms | None}
        self.cache: dict[str, tuple[str, dict]] = {}  # id -> (phase, rendered)


def _period(sp: dict) -> int | None:
    freq = str(sp.get("frequency", "")).lower()
    if freq not in PERIOD_MS:
        return None
    try:
        interval = int(sp.get("interval") or 1)
    except (TypeError, ValueError):
        interval = 1
    return PERIOD_MS[freq] * max(1, interval)


def _start_ms(sp: dict, registered: int) -> int:
    try:
        return int(sp["startTime"]) * 1000
    except (KeyError, TypeError, ValueError):
        return registered


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _batch_id(rng: random.Random) -> str:
    alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    return "".join(rng.choice(alphabet) for _ in range(26))


class FlowRunsMixin:
    """Mixed into AepEmulator: the clock, the run generator and the /runs endpoints. State (set by
    the emulator): `org_id`, `client_id`, `_lock`, `_sandboxes`."""

    # ------------------------------------------------------------ public API
    def _runs_init(self, seed: int = 0) -> None:
        self._clock_ms = int(time.time() * 1000) // 60_000 * 60_000
        self._run_seed = seed
        self._run_stores: dict[str, _Store] = {}
        self._outcome_queue: dict[str, list[str]] = {}
        self._random_outcomes: tuple[list[str], list[float], int] | None = None
        self._runs_lock = threading.RLock()
        # Runs not yet announced, by when they end (end ms, sandbox, id): the clock's passing a run's
        # end announces it (run_events.py) to `run_events.listen(...)`'s listeners.
        self._ends: list[tuple[int, str, str]] = []
        self.run_events = RunAnnouncer()

    @property
    def now_ms(self) -> int:
        """The emulated clock, epoch milliseconds."""
        return self._clock_ms

    def advance(self, minutes: float = 0, *, seconds: float = 0, hours: float = 0) -> int:
        """Move the emulated clock forward and generate the runs that became due.
        Returns the new `now_ms`."""
        delta = int((minutes * 60 + seconds + hours * 3600) * 1000)
        if delta < 0:
            raise ValueError("the emulated clock only moves forward")
        with self._lock, self._runs_lock:
            self._sync_runs()  # register new flows at the old time first
            self._clock_ms += delta
            self._sync_runs()
            now, ended = self._clock_ms, self._ended_runs()
        if ended:  # outside the locks: a listener may call the emulator back
            self.run_events.announce(ended, self.org_id)
        return now

    def _ended_runs(self) -> list[tuple[dict, int]]:
        """The runs whose end the clock has now passed, rendered, oldest end first (to announce)."""
        out: list[tuple[dict, int]] = []
        while self._ends and self._ends[0][0] <= self._clock_ms:
            end, sandbox, rid = heapq.heappop(self._ends)
            if self.run_events.listening:
                st = self._store(sandbox)
                out.append((self._render(st, st.runs[rid], self._clock_ms), end))
        return out

    def set_run_outcomes(self, flow_id: str, outcomes: list[str]) -> None:
        """The outcomes of the next runs of `flow_id`, in order; `success` once used up."""
        bad = [o for o in outcomes if o not in OUTCOMES]
        if bad:
            raise ValueError(f"unknown outcomes {bad}; use {OUTCOMES}")
        with self._runs_lock:
            self._outcome_queue.setdefault(flow_id, []).extend(outcomes)

    def set_random_outcomes(self, weights: dict[str, float] | None, seed: int = 0) -> None:
        """Draw the outcome of every run without a queued outcome from `weights`
        (e.g. {"success": 8, "failed": 1, "partial": 1}); None turns it off."""
        with self._runs_lock:
            if not weights:
                self._random_outcomes = None
                return
            bad = [o for o in weights if o not in OUTCOMES]
            if bad:
                raise ValueError(f"unknown outcomes {bad}; use {OUTCOMES}")
            names = sorted(weights)
            self._random_outcomes = (names, [float(weights[n]) for n in names], seed)

    def add_scheduled_flow(self, schedule: dict, *, sandbox: str = "prod", name: str | None = None,
                           flow_id: str | None = None, state: str = "enabled") -> str:
        """Put a bare flow (no connections behind it) straight into a sandbox, for tests and
        scenarios that need many flows with runs quickly. Returns its id."""
        with self._lock, self._runs_lock:
            sb = self._sandboxes[sandbox]
            fid = flow_id or str(uuid.uuid4())
            now = self._clock_ms
            sb.flows[fid] = {"id": fid, "name": name or f"flow-{fid[:8]}", "createdAt": now, "updatedAt": now,
                             "sandboxId": sb.id, "sandboxName": sb.name, "imsOrgId": self.org_id,
                             "etag": new_etag(), "state": state, "version": '"1"',
                             "flowSpec": {"id": "14518937-270c-4525-bdec-c2ba7cce3860", "version": "1.0"},
                             "sourceConnectionIds": [], "targetConnectionIds": [], "transformations": [],
                             "scheduleParams": dict(schedule), "runs": f"/runs?property=flowId=={fid}"}
            st = self._store(sandbox)
            if self._generate(st, sb, sb.flows[fid], now):  # registered now: ticks count from here
                st.order.sort()
            return fid

    def run_outcomes(self, sandbox: str | None = None) -> dict[str, str]:
        """run id -> the outcome the emulator chose (what a test expects the monitor to find)."""
        with self._lock, self._runs_lock:
            self._sync_runs()
            names = [sandbox] if sandbox else list(self._run_stores)
            return {rid: r["outcome"] for n in names for rid, r in self._run_stores.get(n, _Store()).runs.items()}

    # ------------------------------------------------------------ generation
    def _store(self, name: str) -> _Store:
        st = self._run_stores.get(name)
        if st is None:
            st = self._run_stores[name] = _Store()
        return st

    def _sync_runs(self) -> None:
        with self._runs_lock:
            now = self._clock_ms
            for name, sb in self._sandboxes.items():
                st = self._store(name)
                added = False
                for _fid, flow in list(sb.flows.items()):
                    added |= self._generate(st, sb, flow, now)
                if added:
                    st.order.sort()

    def _generate(self, st: _Store, sb, flow: dict, now: int) -> bool:
        fid = flow["id"]
        cur = st.cursor.get(fid)
        if cur is None:
            cur = st.cursor[fid] = {"registered": now, "last": None}
        sp = flow.get("scheduleParams") or None
        if not sp:
            return False
        freq = str(sp.get("frequency", "")).lower()
        start = _start_ms(sp, cur["registered"])
        added = False
        for _ in range(MAX_RUNS_PER_FLOW_PER_STEP):
            if freq == "once":
                if cur["last"] is not None:
                    return added
                tick = max(start, cur["registered"])
            else:
                period = _period(sp)
                if period is None:
                    return added
                floor = cur["registered"] if cur["last"] is None else cur["last"] + 1
                k = max(0, math.ceil((floor - start) / period))
                tick = start + k * period
            if tick > now:
                return added
            cur["last"] = tick
            if flow.get("state", "enabled") != "enabled":  # disabled, or a draft (drafts.py, draft.md)
                continue
            added |= self._make_run(st, sb, fid, tick)
        return added

    def _next_outcome(self, fid: str, tick: int) -> str:
        queue = self._outcome_queue.get(fid)
        if queue:
            return queue.pop(0)
        if self._random_outcomes:
            names, weights, seed = self._random_outcomes
            return random.Random(f"{seed}:{fid}:{tick}").choices(names, weights)[0]
        return "success"

    def _make_run(self, st: _Store, sb, fid: str, tick: int, salt: str = "", params: dict | None = None) -> bool:
        outcome = self._next_outcome(fid, tick)
        if outcome == "skipped":
            return False
        rng = random.Random(f"{self._run_seed}:{fid}:{tick}{salt}")
        if outcome == "failed":
            outcome = rng.choice(["failed-copy", "failed-promotion"])
        rid = _uuid(rng)
        inp = rng.randint(1_000, 5_000) if outcome == "partial-low" else rng.randint(100, 5_000)
        failed = 0
        if outcome == "partial":
            failed = max(2, math.ceil(inp * rng.uniform(0.02, 0.10)))
        elif outcome == "partial-low":
            failed = 1
        duration = rng.randint(60_000, 240_000)
        st.runs[rid] = {
            "id": rid, "flowId": fid, "sandboxName": sb.name, "sandboxId": sb.id, "outcome": outcome,
            "start": tick, "end": None if outcome == "stuck" else tick + duration, "input": inp,
            "failed": failed, "batch": _batch_id(rng), "etags": (f'"{_uuid(rng)}"', f'"{_uuid(rng)}"'),
            "sourceRef": _uuid(rng), "adfRun": _uuid(rng), "targetRef": _uuid(rng), "params": params,
        }
        st.by_flow.setdefault(fid, []).append(rid)
        st.order.append((tick, rid))
        if st.runs[rid]["end"] is not None:
            heapq.heappush(self._ends, (st.runs[rid]["end"], sb.name, rid))
        self._last_run_id = rid
        return True

    # ------------------------------------------------------------ rendering
    def _render(self, st: _Store, r: dict, now: int) -> dict:
        done = r["end"] is not None and now >= r["end"]
        phase = "done" if done else "running"
        cached = st.cache.get(r["id"])
        if cached and cached[0] == phase:
            return cached[1]
        out = render_run(r, done, self.client_id)
        st.cache[r["id"]] = (phase, out)
        return out

    # ------------------------------------------------------------ endpoints
    def _create_run(self, sb, body: dict):
        """POST /runs (flow-service.yaml createFlowRun): a run on demand. Adobe's tutorial
        (help/sources/tutorials/api/on-demand-ingestion.md) says the flow must be "scheduled for
        one-time ingestion", that only batch sources support it, and that a params.deltaColumn other
        than the one of the flow's Copy transformation is an error. The times are epoch seconds, as
        every example of that page and of the spec writes them (the spec's descriptions say ms; its
        types, integers, the contract check enforces). Answers 201 {id, etag} (CreateFlowRunResponse)."""
        fid = (body or {}).get("flowId")
        flow = sb.flows.get(fid) if isinstance(fid, str) else None
        if flow is None:
            raise flow_error(400, "1413", "Flow not found", f"Flow {fid} does not exist")
        refuse_if_draft(flow, "a run on demand")  # drafts.py: a draft runs once published (draft.md)
        schedule = flow.get("scheduleParams") or {}
        if str(schedule.get("frequency", "")).lower() != "once":
            raise flow_error(400, "1425", "Flow is not scheduled for one-time ingestion",
                             f"Flow {fid} runs every {schedule.get('interval')} {schedule.get('frequency')}; a run on "
                             "demand needs a flow scheduled for one-time ingestion")
        params = dict((body or {}).get("params") or {})
        delta = params.get("deltaColumn")
        copy = next((t for t in flow.get("transformations") or [] if t.get("name") == "Copy"), None)
        if delta is not None and copy is not None and \
                ((copy.get("params") or {}).get("deltaColumn") or {}).get("name") != (delta or {}).get("name"):
            raise flow_error(400, "1426", "deltaColumn cannot be changed",
                             "The deltaColumn of the flow's Copy transformation cannot be changed through run params")
        if "windowStartTime" in params and "windowEndTime" in params and \
                int(params["windowEndTime"]) < int(params["windowStartTime"]):
            raise flow_error(400, "1427", "Invalid window", "windowEndTime is before windowStartTime")
        with self._runs_lock:
            self._sync_runs()
            st = self._store(sb.name)
            start = max(self._clock_ms, int(params.get("startTime") or 0) * 1000)
            self._on_demand = getattr(self, "_on_demand", 0) + 1
            self._last_run_id = None
            self._make_run(st, sb, fid, start, salt=f":on-demand:{self._on_demand}", params=params)
            st.order.sort()
            rid = self._last_run_id
            if rid is None:  # the queued outcome was "skipped": AEP made the run, it just never ran
                raise flow_error(500, "1102", "Internal Error", "the run could not be scheduled")
            run = self._render(st, st.runs[rid], self._clock_ms)
        return 201, {"id": rid, "etag": run["etag"]}, {}

    def _dump_runs(self, sb) -> list[dict]:
        with self._runs_lock:
            self._sync_runs()
            st, now = self._store(sb.name), self._clock_ms
            return [self._render(st, st.runs[rid], now) for _, rid in st.order]

    def _get_run(self, sb, ids: str):
        with self._runs_lock:
            self._sync_runs()
            st, now = self._store(sb.name), self._clock_ms
            found = [self._render(st, st.runs[i], now) for i in ids.split(",") if i in st.runs]
        if not found:
            raise flow_error(404, "1439", "Resource not found", f"Run with id {ids} was not found")
        return 200, {"items": found}, {}

    def _list_runs(self, sb, query: dict):
        try:
            with self._runs_lock:
                self._sync_runs()
                return 200, self._list_runs_unlocked(sb, query), {}
        except ListError as e:
            raise flow_error(400, e.code, "Bad Request", e.message) from e

    def _list_runs_unlocked(self, sb, query: dict) -> dict:
        st, now = self._store(sb.name), self._clock_ms
        query, cursor = resume(query)
        props = query.get("property", [])
        props = [props] if isinstance(props, str) else list(props)
        filters = [parse_property(p) for p in props]
        count = str(query.get("count", "")).lower() == "true"
        limit = query.get("limit")
        if count and limit is not None:
            raise ListError("1401", "The 'limit' parameter is not supported together with 'count'")
        desc, sort_field = _sort_order(query.get("orderby"))
        n = parse_limit(limit) if limit is not None else None

        # Narrow the candidates with an index when a filter allows it; every filter still applies.
        cand = _indexed_candidates(st, filters)
        pool = st.runs.keys() if cand is None else cand
        items = []
        for rid in pool:
            item = self._render(st, st.runs[rid], now)
            if all(_match(item, *f) for f in filters):
                items.append(item)
        if count:
            return {"count": len(items)}

        def key(item):
            return (_cmp_val((_resolve(item, sort_field) or [""])[0]), item["id"])

        items.sort(key=key, reverse=desc)
        if cursor is not None:
            items = _after_cursor(items, [key(i) for i in items], cursor, desc)
        links: dict = {}
        if n is not None and len(items) > n:
            items = items[:n]
            k = key(items[-1])
            links = {"next": {"href": continuation_href("runs", query, [list(k[0]), k[1]])}}
        return {"items": items, "_links": links}


def _sort_order(orderby) -> tuple[bool, str]:
    """(descending, field) of a runs listing's `orderby` parameter; newest first without one."""
    if orderby is None:
        return True, "createdAt"
    if isinstance(orderby, list) or "," in orderby or orderby.strip() in ("", "+", "-"):
        raise ListError("1433", f"Invalid orderby '{orderby}'")
    desc, sort_field = orderby.startswith("-"), orderby.lstrip("+-")
    if sort_field not in SORTABLE:
        raise ListError("1432", f"Sorting on field '{sort_field}' is not supported")
    return desc, sort_field


def _indexed_candidates(st: _Store, filters: list) -> set[str] | None:
    """The run ids the store's indexes allow for `filters`; None when no filter uses an index."""
    cand: set[str] | None = None
    for field, op, values in filters:
        ids: set[str] | None = None
        if field == "id" and op == "==":
            ids = {v for v in values if v in st.runs}
        elif field == "flowId" and op == "==":
            ids = {rid for v in values for rid in st.by_flow.get(v, ())}
        elif field == STARTED and op in (">", ">="):
            t = int(values[0])
            ids = {rid for _, rid in st.order[bisect.bisect_left(st.order, (t, "")):]}
        elif field == STARTED and op == "<":
            ids = {rid for _, rid in st.order[:bisect.bisect_left(st.order, (int(values[0]), ""))]}
        if ids is not None:
            cand = ids if cand is None else cand & ids
    return cand


def _after_cursor(items: list, keys: list, cursor, desc: bool) -> list:
    """The sorted `items` (their sort `keys` alongside) that come after the continuation `cursor`."""
    try:
        after = (tuple(cursor[0]), cursor[1])
    except Exception:
        raise ListError("1400", "Invalid continuationToken") from None
    if desc:  # descending: first index whose key is below the cursor
        lo, hi = 0, len(keys)
        while lo < hi:
            mid = (lo + hi) // 2
            if keys[mid] < after or keys[mid] == after:
                hi = mid
            else:
                lo = mid + 1
        return items[lo + (1 if lo < len(keys) and keys[lo] == after else 0):]
    return items[bisect.bisect_right(keys, after):]


def _match(item: dict, field: str, op: str, values: list[str]) -> bool:
    if op == "==" and field in CI_FIELDS:
        wanted = {v.lower() for v in values}
        return any(str(x).lower() in wanted for x in _resolve(item, field))
    return _matches(item, field, op, values)
