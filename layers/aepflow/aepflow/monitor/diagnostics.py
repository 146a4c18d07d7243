"""Failed records kept: for a failed or partial run of a flow whose spec sets
`options.errorDiagnosticsEnabled`, copy what AEP keeps of its failed records (for up to 30 days)
into the stack's FailedRecordsBucket, before the run's alert is claimed, and say where.

What is read, per batch the run's activities name (targetInfo reference type Batch), as Adobe
describes it (AdobeDocs/experience-platform.en):
- Catalog `GET /batches/{BATCH_ID}`: status, metrics, errors[] `{code, description, recordCount}`
  (help/ingestion/quality/error-diagnostics.md "Check status");
- Data Access `GET /export/batches/{BATCH_ID}/failed` and `?path=<file>`: the failed rows
  (help/ingestion/quality/retrieve-failed-batches.md);
- Data Access `GET /export/batches/{BATCH_ID}/meta?path=row_errors` and `?path=row_errors/<file>`:
  the row errors (error-diagnostics.md "Unparsable rows").

Bounded and parsed as hostile: at most MAX_BATCHES batches, MAX_FILES files of each list,
MAX_BYTES of each file; ids and file names that could not be one S3 key segment are refused;
every value passes through core/scrub.py (the secrets aepflow knows) and a value under a
secret-sounding column is masked. Keys: `dataflows/<name>/runs/<runId>/summary.json` (error codes
with counts, a few sample records) and `.../batches/<batchId>/{batch.json,failed/<file>,
row_errors/<file>}`."""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

from aepflow.aep.client import AepClient, segment
from aepflow.core import aws
from aepflow.core.errors import AepError
from aepflow.core.observability import logger
from aepflow.core.scrub import MASK, scrub
from aepflow.store.failed_records import prefix, summary_key

MAX_BATCHES = 5
MAX_FILES = 5
MAX_BYTES = 256 * 1024
SAMPLES = 5
_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_FILE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,199}$")
_SECRET_COLUMN = re.compile(r"(?i)(pass|secret|token|api[_-]?key|credential|auth|ssn|card)")
_ROW_META = ("_validationErrors", "_errors", "_corrupt_record", "_filename")


def enabled(record: dict[str, Any] | None) -> bool:
    """Does the dataflow record's spec keep error diagnostics (options.errorDiagnosticsEnabled)?"""
    if not record:
        return False
    try:
        spec = json.loads(record.get("spec") or "{}")
    except (TypeError, ValueError):
        return False
    options = spec.get("options") if isinstance(spec, dict) else None
    return isinstance(options, dict) and options.get("errorDiagnosticsEnabled") is True


def run_batches(run: dict) -> list[str]:
    """The batch ids a run's activities name (targetInfo[].reference {type: Batch, ids}), bounded."""
    out: list[str] = []
    for act in run.get("activities") or []:
        for target in (act.get("targetInfo") or []) if isinstance(act, dict) else []:
            ref = target.get("reference") if isinstance(target, dict) else None
            if isinstance(ref, dict) and ref.get("type") == "Batch" and isinstance(ref.get("ids"), list):
                out += [i for i in ref["ids"] if isinstance(i, str) and _ID.match(i) and i not in out]
    return out[:MAX_BATCHES]


def _masked(row: Any) -> Any:
    if isinstance(row, dict):
        return {k: MASK if _SECRET_COLUMN.search(str(k)) and not isinstance(v, (dict, list)) else _masked(v)
                for k, v in row.items()}
    if isinstance(row, list):
        return [_masked(v) for v in row]
    return row


def _text(body: Any) -> str:
    """A downloaded file as text (the client answers JSON it could parse, else text), bounded."""
    text = body if isinstance(body, str) else "" if body is None else json.dumps(body)
    return text[:MAX_BYTES]


def _rows(text: str) -> list[dict]:
    rows = []
    for line in text.splitlines()[:1000]:
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict):
            rows.append(row)
    return rows


def _row_codes(row: dict) -> list[str]:
    errors = row.get("_validationErrors") or row.get("_errors") or []
    return [str(e.get("code"))[:64] for e in errors if isinstance(e, dict) and e.get("code")] if \
        isinstance(errors, list) else []


def _listing(answer: Any) -> list[str]:
    data = answer.get("data") if isinstance(answer, dict) else None
    names = [d.get("name") for d in data if isinstance(d, dict)] if isinstance(data, list) else []
    return [n for n in names if isinstance(n, str) and _FILE.match(n) and n != "_SUCCESS"][:MAX_FILES]


class Keeper:
    """Copies one run's failed records; `put(key, bytes)` writes to the bucket."""

    def __init__(self, client: AepClient, s3: Any, bucket: str):
        self.client, self.s3, self.bucket = client, s3, bucket

    def _put(self, key: str, body: str) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=scrub(body).encode(),
                           ContentType="application/json", ServerSideEncryption="AES256")

    def keep(self, name: str, run: dict) -> str | None:
        """Copy the run's batches; the `s3://bucket/prefix` they are under, or None when the run
        names no batch or its id cannot be a key. AEP's refusals are written into the summary;
        an S3 failure is raised (the caller sends the alert without a location)."""
        run_id, batches = run.get("id"), run_batches(run)
        if not isinstance(run_id, str) or not _ID.match(run_id) or not batches:
            return None
        base = prefix(name, run_id)
        codes: Counter[str] = Counter()
        samples: list[dict] = []
        summary: dict[str, Any] = {"version": 1, "dataflow": name, "runId": run_id, "flowId": run.get("flowId"),
                                   "location": f"s3://{self.bucket}/{base}", "batches": []}
        for batch_id in batches:
            summary["batches"].append(self._batch(base, batch_id, codes, samples))
        summary["errorCodes"] = dict(codes.most_common())
        summary["samples"] = samples[:SAMPLES]
        self._put(summary_key(name, run_id), json.dumps(scrub(summary), default=str))
        return summary["location"]

    def _batch(self, base: str, batch_id: str, codes: Counter[str], samples: list[dict]) -> dict:
        where = f"{base}batches/{batch_id}/"
        out: dict[str, Any] = {"id": batch_id, "files": [], "problems": []}
        try:
            answer = self.client.get("catalog", f"/batches/{segment(batch_id)}")
            batch = answer.get(batch_id) if isinstance(answer, dict) else None
            if isinstance(batch, dict):
                metrics = batch.get("metrics")
                metrics = metrics if isinstance(metrics, dict) else {}
                errors = [e for e in batch.get("errors") or [] if isinstance(e, dict)][:50] \
                    if isinstance(batch.get("errors"), list) else []
                out.update(status=str(batch.get("status"))[:32], failedRecordCount=metrics.get("failedRecordCount"))
                for e in errors:
                    if isinstance(e.get("recordCount"), int) and e.get("code"):
                        codes[str(e["code"])[:64]] += e["recordCount"]
                self._put(where + "batch.json", json.dumps({batch_id: batch}, default=str)[:MAX_BYTES])
                out["files"].append(where + "batch.json")
        except AepError as exc:  # kept in the summary: what AEP answered, by code
            out["problems"].append(f"catalog: {exc.code or type(exc).__name__}")
        counted = bool(codes)
        for kind, path in (("failed", None), ("meta", "row_errors")):
            try:
                names = _listing(self.client.get("export", f"/batches/{segment(batch_id)}/{kind}",
                                                  params={"path": path} if path else None))
                for file in names:
                    file_path = f"{path}/{file}" if path else file
                    text = _text(self.client.get("export", f"/batches/{segment(batch_id)}/{kind}",
                                                 params={"path": file_path}))
                    rows = [_masked(r) for r in _rows(text)]
                    if not counted:
                        codes.update(c for r in rows for c in _row_codes(r))
                    samples += [r for r in rows if any(k not in _ROW_META for k in r)][:SAMPLES - len(samples)]
                    key = f"{where}{path or 'failed'}/{file}"
                    self._put(key, "".join(json.dumps(r) + "\n" for r in rows) if rows else text)
                    out["files"].append(key)
            except AepError as exc:
                out["problems"].append(f"{kind}: {exc.code or type(exc).__name__}")
        return out


def keep_for_alert(client: AepClient, bucket: str | None, alert: dict, kind: str, name: str,
                   run: dict | None) -> dict:
    """The alert of a failed or partial run of a flow that keeps diagnostics, once its failed records
    are copied: naming where (`failedRecordsKept`), or, when S3 refused, saying they were not kept
    (`failedRecordsNotKept`). The alert is sent either way: it never waits on, nor is lost by, the
    copy. Both paths call it just before the claim (the poll's check and the flow-run events)."""
    if not bucket or run is None or kind not in ("failed", "partial"):
        return alert
    try:
        where = Keeper(client, aws.aws_client("s3"), bucket).keep(name, run)
    except Exception as exc:  # S3 refused: the alert goes without a location, and says so
        logger.exception("failed records not kept", extra={"dataflow": name, "runId": run.get("id")})
        return {**alert, "failedRecordsNotKept": f"copy failed ({type(exc).__name__})"}
    return {**alert, "failedRecordsKept": where} if where else alert
