"""Flow Service's re-trigger of a flow run: `POST /runs/{RUN_ID}/action?op=re-trigger`.

As Adobe documents it (AdobeDocs/experience-platform.en, help/sources/tutorials/api/retry-flows.md):
"Support for retrying failed dataflow runs is available to batch sources. You can only retry
dataflow runs that have failed", and the page's note: "You can use the re-trigger operation to retry
successful dataflow runs as well, given that the successful dataflow run has zero ingested records".
"A successful response returns a newly created flow run ID and its corresponding etag version":
`{"id", "etag"}`. flow-service.yaml (postAction, /runs/{RUN_ID}/action) answers 200 and enumerates
the op as `RE_TRIGGER` where the page writes `re-trigger`: both spellings are accepted here.

The new run is a run of the same flow, made now, whose outcome is the flow's next one
(`set_run_outcomes`, then random outcomes, then success), as any run of flow_runs.py; it is in
progress for 1-4 emulated minutes and announced when it ends. What the page refuses is refused,
with codes of our own (aep_errors.INVENTED_CODES): a run in progress (FLOW-1428-400), a run that
did not fail and ingested records (FLOW-1429-400), a run of a streaming flow (FLOW-1430-400)."""
from __future__ import annotations

from .aep_errors import flow_error


class RunRetriggerMixin:
    """Mixed into AepEmulator beside FlowRunsMixin, whose store, clock and run maker it uses."""

    def _retrigger_run(self, sb, run_id: str, query: dict):
        op = str(query.get("op", ""))
        if op.upper().replace("-", "_") != "RE_TRIGGER":
            raise flow_error(400, "1400", "Bad Request", f"op '{op}' is not supported on a flow run")
        with self._runs_lock:
            self._sync_runs()
            st, now = self._store(sb.name), self._clock_ms
            r = st.runs.get(run_id)
            if r is None:
                raise flow_error(404, "1439", "Resource not found", f"Run with id {run_id} was not found")
            flow = sb.flows.get(r["flowId"]) or {}
            spec = self._flow_specs.get((flow.get("flowSpec") or {}).get("id"), {})
            if str((spec.get("attributes") or {}).get("frequency", "batch")).lower() == "streaming":
                raise flow_error(400, "1430", "Run cannot be re-triggered",
                                 "Retrying dataflow runs is available to batch sources only")
            if r["end"] is None or now < r["end"]:
                raise flow_error(400, "1428", "Run cannot be re-triggered",
                                 f"Run {run_id} is in progress; only a run that has failed can be retried")
            status = self._render(st, r, now)["metrics"]["statusSummary"]["status"]
            written = r["input"] - r["failed"] if status == "success" else 0
            if status != "failed" and written:
                raise flow_error(400, "1429", "Run cannot be re-triggered",
                                 f"Run {run_id} did not fail and ingested {written} records; only a run that has "
                                 "failed, or a successful run with zero ingested records, can be retried")
            self._retriggers = getattr(self, "_retriggers", 0) + 1
            self._last_run_id = None
            self._make_run(st, sb, r["flowId"], now, salt=f":re-trigger:{self._retriggers}")
            st.order.sort()
            rid = self._last_run_id
            if rid is None:  # the queued outcome was "skipped": AEP made the run, it just never ran
                raise flow_error(500, "1102", "Internal Error", "the run could not be scheduled")
            return 200, {"id": rid, "etag": self._render(st, st.runs[rid], now)["etag"]}, {}
