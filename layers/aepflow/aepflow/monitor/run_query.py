"""Reading runs from AEP: the runs of a list of flows started since a time (one paged
GET /runs?property=flowId==a,b,...&property=metrics.durationSummary.startedAtUTC>T query), and
runs re-checked by id (id==a,b,...). Pages are streamed; what is kept of a run is only what the
classification and the alert need (aep/run_outcome.py)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aepflow.aep.client import MAX_PAGES, AepClient, segment
from aepflow.aep.run_outcome import needs_thresholds
from aepflow.core.errors import AepTimeout

STARTED = "metrics.durationSummary.startedAtUTC"


@dataclass
class Counters:
    calls: int = 0      # logical requests (retries not counted)
    pages: int = 0      # pages of runs in a window (first pages and follow-ups), and follow-ups of re-checks
    chunks: int = 0     # re-check requests (their first page)
    malformed: int = 0  # items AEP returned that are not runs


def _pages(client: AepClient, params: list[tuple[str, str]], counters: Counters) -> Iterator[list[Any]]:
    for _ in range(MAX_PAGES):
        page = client.get("flowservice", "/runs", params=params) or {}
        counters.calls += 1
        items = page.get("items") if isinstance(page, dict) else None
        yield items if isinstance(items, list) else []
        links = page.get("_links") if isinstance(page, dict) else None
        href = ((links or {}).get("next") or {}).get("href") if isinstance(links, dict) else None
        token = parse_qs(urlsplit(href).query).get("continuationToken") if isinstance(href, str) else None
        if not token:
            return
        counters.pages += 1
        params = [(k, v) for k, v in params if k != "continuationToken"] + [("continuationToken", token[0])]
    raise AepTimeout(f"GET /runs: more than {MAX_PAGES} pages")


def compact(run: Any, now_ms: int) -> dict | None:
    """The run as the monitor keeps it: whole when it may be a problem (its errors and links go
    into the alert), else only its id, flow, times, status and record counts. None when the
    item is not a run."""
    if not isinstance(run, dict) or not isinstance(run.get("id"), str) or not isinstance(run.get("flowId"), str):
        return None
    m = run.get("metrics")
    if not isinstance(m, dict):
        return None
    summaries = [m.get(k) for k in ("durationSummary", "statusSummary", "recordSummary")]
    ds, ss, rs = (summary if isinstance(summary, dict) else {} for summary in summaries)
    try:
        started = int(ds.get("startedAtUTC") or 0)
        completed = ds.get("completedAtUTC")
        completed = int(completed) if completed is not None else None
        counts = {k: int(rs[k]) for k in ("inputRecordCount", "outputRecordCount", "failedRecordCount")
                  if rs.get(k) is not None}
    except (TypeError, ValueError):
        return None
    if needs_thresholds(run, now_ms):
        return run
    return {"id": run["id"], "flowId": run["flowId"],
            "metrics": {"durationSummary": {"startedAtUTC": started, "completedAtUTC": completed},
                        "statusSummary": {"status": ss.get("status")}, "recordSummary": counts}}


def window(client: AepClient, flow_ids: list[str], since_ms: int, page_size: int, counters: Counters,
           now_ms: int) -> Iterator[dict]:
    """Every run of `flow_ids` started after `since_ms`, page by page."""
    params = [("property", "flowId==" + ",".join(flow_ids)), ("property", f"{STARTED}>{since_ms}"),
              ("limit", str(page_size))]
    counters.pages += 1
    for items in _pages(client, params, counters):
        yield from _runs(items, counters, now_ms)


def recheck(client: AepClient, run_ids: list[str], chunk: int, counters: Counters, now_ms: int) -> Iterator[dict]:
    """The runs named, `chunk` ids per request."""
    for i in range(0, len(run_ids), chunk):
        ids = run_ids[i:i + chunk]
        counters.chunks += 1
        for items in _pages(client, [("property", "id==" + ",".join(ids)), ("limit", str(len(ids)))], counters):
            yield from _runs(items, counters, now_ms)


def _runs(items: list[Any], counters: Counters, now_ms: int) -> Iterator[dict]:
    for item in items:
        run = compact(item, now_ms)
        if run is None:
            counters.malformed += 1
        else:
            yield run


def run_by_id(client: AepClient, run_id: str, flow_id: str | None = None) -> dict | None:
    """One run, as GET /runs/{id} answers it (`items` holding it): None when the answer holds no run
    of that id (of `flow_id`, when given). The item is as AEP wrote it: its reader parses it."""
    answer = client.get("flowservice", f"/runs/{segment(run_id)}")
    items = answer.get("items") if isinstance(answer, dict) else None
    found = [i for i in items or [] if isinstance(i, dict) and i.get("id") == run_id
             and (flow_id is None or i.get("flowId") == flow_id)]
    return found[0] if found else None
