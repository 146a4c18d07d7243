"""A run's failed records, as the monitor kept them in the stack's FailedRecordsBucket (monitor/
diagnostics.py, for a failed or partial run of a dataflow whose spec sets
options.errorDiagnosticsEnabled): the summary's error codes with counts, a few sample records
(scrubbed of secrets when they were kept) and where the files are. `GET
/dataflows/{name}/runs/{runId}/errors`, `aepflow runs NAME --errors RUN_ID`."""

from __future__ import annotations

import re
from typing import Any

from aepflow.core import settings
from aepflow.core.errors import DataflowNotFound
from aepflow.core.settings import FailedRecordsSettings
from aepflow.store import failed_records, records

# A run id as AEP writes them (a UUID) and as the monitor keeps them (diagnostics._ID).
RUN_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
# What the answer shows of a summary, however large the file it was read from.
MAX_CODES, MAX_SAMPLES, MAX_BATCHES = 50, 5, 5


def errors(name: str, run_id: str) -> dict[str, Any]:
    if records.record(name) is None:
        raise DataflowNotFound(f"no dataflow named {name!r}", code="DataflowNotFound", status=404)
    if not re.fullmatch(RUN_ID_PATTERN, run_id):
        raise DataflowNotFound(f"no run {run_id!r}", code="RunNotFound", status=404)
    bucket = settings.load(FailedRecordsSettings).failed_records_bucket
    summary = failed_records.read_summary(bucket, name, run_id) if bucket else None
    if summary is None:
        raise DataflowNotFound(
            f"no failed records kept for run {run_id} of {name}: the monitor keeps them for a failed or "
            "partial run of a dataflow whose spec sets options.errorDiagnosticsEnabled, once it alerts the run",
            code="FailedRecordsNotKept", status=404)
    codes: dict[str, Any] = _typed(summary.get("errorCodes"), dict, {})
    samples: list[Any] = _typed(summary.get("samples"), list, [])
    batches: list[Any] = _typed(summary.get("batches"), list, [])
    return {"name": name, "runId": run_id, "location": str(summary.get("location") or ""),
            "errorCodes": {str(k)[:64]: v for k, v in list(codes.items())[:MAX_CODES] if isinstance(v, int)},
            "samples": [s for s in samples if isinstance(s, dict)][:MAX_SAMPLES],
            "batches": [{"id": str(b.get("id"))[:64], "status": b.get("status"), "files": len(b.get("files") or []),
                         "problems": [str(p)[:200] for p in (b.get("problems") or [])][:10]}
                        for b in batches[:MAX_BATCHES] if isinstance(b, dict)]}


def _typed(value: Any, kind: type, empty: Any) -> Any:
    """A summary's field as the answer reads it, or `empty`: the file is read as hostile."""
    return value if isinstance(value, kind) else empty
