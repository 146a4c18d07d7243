"""A dataflow's runs: the recent ones as the monitor sees them, and a run on demand.

A run on demand is Flow Service's `POST /runs` (flow-service.yaml createFlowRun,
help/sources/tutorials/api/on-demand-ingestion.md): `{flowId, params: {startTime, windowStartTime,
windowEndTime}}`. Adobe documents it for a dataflow "scheduled for one-time ingestion" (frequency
`once`), so aepflow refuses it for another schedule before calling AEP. The run appears in
`GET /runs` like a scheduled one, so the run monitor watches it like any other."""

from __future__ import annotations

import time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from aepflow.aep.client import aep_client
from aepflow.aep.run_outcome import classify
from aepflow.core.errors import ChangeRefused, DataflowConflict, DataflowNotFound, SpecInvalid
from aepflow.spec.parse import build_models, parse_spec
from aepflow.store import records, table
from aepflow.store import retries as retry_chains

build_models()  # parse_spec's validators, built at import (spec.build_models)

# Epoch seconds, like the spec's schedule.startTime: Adobe's examples of POST /runs are all in
# seconds ("1651584991"), although flow-service.yaml's descriptions say milliseconds; its types
# (integer) are followed, so the times are sent as integers.
MAX_EPOCH_SECONDS = 10_000_000_000
# How much of the source one run on demand may read: AEP documents no bound on the window
# (help/sources/tutorials/api/on-demand-ingestion.md); this is aepflow's, a year and a day, which a
# backfill of more needs to split into runs of its own.
MAX_WINDOW_SECONDS = 366 * 24 * 3600


class RunRequest(BaseModel):
    """POST /dataflows/{name}/runs: an optional window of the source's data to ingest (both its
    ends, or neither; the end after the start)."""

    # Absent, not null: a time is an integer when given (strict: never `true`, `1.0` or "1").
    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra={"dependentRequired": {
        "windowStartTime": ["windowEndTime"], "windowEndTime": ["windowStartTime"]}})
    windowStartTime: int = Field(default=None, ge=0, lt=MAX_EPOCH_SECONDS,  # type: ignore[assignment]
                                 description="epoch seconds: the earliest data to read")
    windowEndTime: int = Field(default=None, ge=0, lt=MAX_EPOCH_SECONDS,  # type: ignore[assignment]
                               description="epoch seconds: read data up to this time")
    startTime: int = Field(default=None, ge=0, lt=MAX_EPOCH_SECONDS,  # type: ignore[assignment]
                           description="epoch seconds: when the run starts (default: now)")

    @model_validator(mode="after")
    def _window(self) -> RunRequest:
        if (self.windowStartTime is None) != (self.windowEndTime is None):
            raise ValueError("give both windowStartTime and windowEndTime, or neither")
        if self.windowStartTime is not None and self.windowEndTime is not None:
            if self.windowEndTime <= self.windowStartTime:
                raise ValueError("windowEndTime must be after windowStartTime")
            if self.windowEndTime - self.windowStartTime > MAX_WINDOW_SECONDS:
                raise ValueError(f"the window is at most {MAX_WINDOW_SECONDS} seconds (366 days) wide; split a "
                                 "longer backfill into several runs")
        return self


def _record(name: str) -> records.Record:
    rec = records.record(name)
    if rec is None:
        raise DataflowNotFound(f"no provisioned dataflow named {name!r}", code="DataflowNotFound", status=404)
    return rec


def recent(name: str, limit: int = 20) -> dict[str, Any]:
    """The flow's most recent runs, newest first, each classified as the monitor would; a run AEP made
    re-triggering a failed one (the spec's onFailure.retry) says which attempt of which run it is."""
    rec = _record(name)
    spec = parse_spec(rec.spec)
    flow_id = rec.flow_id
    client = aep_client(spec.sandbox)
    page = client.get("flowservice", "/runs", params=[
        ("property", f"flowId=={flow_id}"), ("orderby", "-metrics.durationSummary.startedAtUTC"),
        ("limit", str(limit))]) or {}
    now_ms = int(time.time() * 1000)
    summary = []
    items = [run for run in page.get("items") or [] if isinstance(run, dict)]
    # AEP's ids, hostile as any answer: only what can be a run id is looked up (one BatchGetItem).
    links = retry_chains.links(table.name(), [str(r["id"]) for r in items if isinstance(r.get("id"), str)
                                              and 0 < len(r["id"]) <= 128])
    for run in items:
        metrics = run.get("metrics") or {}
        counts = metrics.get("recordSummary") or {}
        status = metrics.get("statusSummary") or {}
        summary.append({
            "id": run.get("id"), "status": status.get("status"),
            "startedAt": (metrics.get("durationSummary") or {}).get("startedAtUTC"),
            "completedAt": (metrics.get("durationSummary") or {}).get("completedAtUTC"),
            "recordsRead": counts.get("inputRecordCount"), "recordsWritten": counts.get("outputRecordCount"),
            "recordsFailed": counts.get("failedRecordCount"),
            "problem": classify(run, spec.alerts, now_ms),
            "errors": [{"code": e.get("code"), "message": e.get("message")} for e in status.get("errors") or []],
        })
        link = links.get(str(run.get("id")))
        if link:
            summary[-1].update(attempt=link["attempt"], retryOf=link["origin"])
    return {"name": name, "flowId": flow_id, "runs": summary}


def start(name: str, body: Any = None, *, now: float | None = None) -> dict[str, Any]:
    """Start a run of the dataflow now (POST /runs), over the window given. Returns the run's id."""
    try:
        request = RunRequest.model_validate(body or {})
    except ValidationError as exc:
        raise SpecInvalid("the run request is not valid", code="RequestInvalid", status=400, problems=[
            {"path": ".".join(str(p) for p in e["loc"]) or "(body)", "message": e["msg"].removeprefix("Value error, ")}
            for e in exc.errors(include_url=False)]) from None
    rec = _record(name)
    spec = parse_spec(rec.spec)
    if spec.schedule.frequency != "once":
        raise ChangeRefused(
            f"dataflow {name!r} runs on its schedule (frequency {spec.schedule.frequency}, interval "
            f"{spec.schedule.interval}); "
            "AEP creates runs on demand only for a dataflow scheduled for one-time ingestion",
            code="NotOneTime", status=409,
            problems=[{"path": "schedule.frequency", "message": "on-demand runs need frequency: once"}])
    if not rec.flow_id:
        raise DataflowConflict(f"dataflow {name!r} has no flow yet", code="ProvisioningInProgress", status=409)
    params: dict[str, Any] = {"startTime": request.startTime if request.startTime is not None
                              else int(time.time() if now is None else now)}
    if request.windowStartTime is not None:
        params.update(windowStartTime=request.windowStartTime, windowEndTime=request.windowEndTime)
    client = aep_client(spec.sandbox)
    answer = client.post("flowservice", "/runs", json={"flowId": rec.flow_id, "params": params}) or {}
    # flow-service.yaml answers {id, etag}; the tutorial shows {items: [{id, etag}]}: both are read.
    items = answer.get("items") if isinstance(answer.get("items"), list) else [answer]
    run = items[0] if items else {}
    return {"name": name, "flowId": rec.flow_id, "runId": run.get("id"), "etag": run.get("etag"),
            "params": params, "status": "STARTED",
            "links": {"runs": f"/dataflows/{name}/runs"}}
