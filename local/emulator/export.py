"""The batches the emulator's runs make: Catalog's GET /batches/{BATCH_ID} and Data Access's
error diagnostics (/data/foundation/export/batches/...), as Adobe's pages describe them.

A run's promotion activity names its batch (run_payloads.py: targetInfo ... "Batch"); a run that
failed at copy made none. What each endpoint answers, and where Adobe says so
(AdobeDocs/experience-platform.en):

- Catalog `GET /batches/{BATCH_ID}` (catalog.yaml retrieveBatch: `{id: batchResponse}`;
  help/ingestion/quality/error-diagnostics.md "Check status"): status, tags
  `acp_enableErrorDiagnostics` / `acp_partialIngestionPercent`, metrics (input/output/failed
  record counts), errors[] `{code, description, recordCount}`. A batch with failed records
  whose flow keeps diagnostics says INGEST-1212-400 and one error per code with its recordCount;
  without diagnostics, INGEST-1211-400 alone ("Please resend the data with error diagnostics
  enabled"). A partial batch's status is `success` ("the status will be success with more
  information about the errors"); a batch above the partial-ingestion threshold, `failed`.
- Data Access `GET /export/batches/{BATCH_ID}/failed` (help/ingestion/quality/
  retrieve-failed-batches.md): `{data: [{name, length, _links.self.href}], _page: {limit,
  count}}`, a `_SUCCESS` marker and the `part-...json` file holding the failed rows; `?path=NAME`
  downloads one: JSON lines, each a failed row with its `_validationErrors`;
  `?path=parse_errors` (error-diagnostics.md "Unparsable rows"): rows `{_corrupt_record,
  _errors: [{code, message}], _filename}`.
- `GET /export/batches/{BATCH_ID}/meta?path=row_errors` (error-diagnostics.md): the row-error
  files (`conversion_errors_0.json`, `parsing_errors_0.json`), each downloadable with
  `?path=row_errors/<name>`; `meta?path=input_files` lists the input files' metadata.
  Diagnostics are kept "for up to 30 days" and only for flows with errorDiagnosticsEnabled:
  without it (or past 30 days) the lists are empty (our choice of how "not kept" looks).

The content is deterministic per batch (seeded by its id): a few rows each, with the columns of
a CRM contacts table. Data Access has no vendored OpenAPI spec (local/aep_contract.py
OUTSIDE_SPECS says so); its error body's shape is our choice: `{type, status, title, detail}`.
"""
from __future__ import annotations

import json
import random

from .aep_errors import ApiError, cat_error

DA = "/data/foundation/export"
EXPORT_URL = "https://platform.adobe.io:443/data/foundation/export/batches"
KEPT_MS = 30 * 24 * 3600 * 1000  # "retained within Platform for up to 30 days"
SAMPLE_ROWS = 3  # rows per file: "a few"
_FIRST = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken")
_LAST = ("Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson")
# (code, description, the column it breaks, its bad value): Adobe's documented row errors.
_ROW_ERRORS = (
    ("INGEST-1555-400", "A required field is either missing or has a value of null. Add the required field to "
                        "the input row and try again.", "email", None),
    ("MAPPER-3700-400", "Mapper Transform Error", "birth_date", "1985-13-40"),
)
_PARSE_ERROR = ("INGEST-1401-400", "The row has corrupted data and cannot be read or parsed. Fix the corrupted "
                                   "data and try again.")


def da_error(status: int, title: str, detail: str) -> ApiError:
    return ApiError(status, {"type": f"http://ns.adobe.com/aep/errors/DAS-{status}", "status": status,
                             "title": title, "detail": detail})


def _row(rng: random.Random, n: int) -> dict:
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    return {"contact_id": f"C-{rng.randint(10_000, 99_999)}", "first_name": first, "last_name": last,
            "email": f"{first.lower()}.{last.lower()}{n}@example.com", "birth_date": f"19{rng.randint(50, 99)}-0"
            f"{rng.randint(1, 9)}-1{rng.randint(0, 9)}", "loyalty_points": rng.randint(0, 5000)}


class ExportMixin:
    """Mixed into AepEmulator (after FlowRunsMixin, whose run stores it reads)."""

    def _batch_run(self, sb, batch_id: str) -> tuple[dict, dict | None]:
        """The run whose promotion made `batch_id` (it has ended), and its flow (None if deleted)."""
        with self._runs_lock:
            self._sync_runs()
            now = self._clock_ms
            for r in self._store(sb.name).runs.values():
                if r["batch"] == batch_id and r["outcome"] != "failed-copy" and r["end"] is not None \
                        and now >= r["end"]:
                    return r, sb.flows.get(r["flowId"])
        raise cat_error(404, "1002", "Not Found", f"Batch {batch_id} not found")

    @staticmethod
    def _options(flow: dict | None) -> dict:
        return (flow or {}).get("options") or {}

    def _diagnostics_kept(self, r: dict, flow: dict | None) -> bool:
        return bool(self._options(flow).get("errorDiagnosticsEnabled")) and self._clock_ms - r["end"] <= KEPT_MS

    @staticmethod
    def _failed_count(r: dict) -> int:
        return r["input"] if r["outcome"] == "failed-promotion" else r["failed"]

    # ------------------------------------------------------------ Catalog
    def _get_batch(self, sb, batch_id: str):
        r, flow = self._batch_run(sb, batch_id)
        failed = self._failed_count(r)
        options = self._options(flow)
        tags: dict = {"acp_enableErrorDiagnostics": bool(options.get("errorDiagnosticsEnabled"))}
        if options.get("partialIngestionPercent") is not None:
            tags["acp_partialIngestionPercent"] = options["partialIngestionPercent"]
        related = [{"type": "flowRun", "id": r["id"]}]
        target = sb.targetConnections.get(next(iter((flow or {}).get("targetConnectionIds") or []), ""))
        dsid = ((target or {}).get("params") or {}).get("dataSetId")
        if dsid:
            related.insert(0, {"type": "dataSet", "id": dsid})
        batch = {"id": batch_id, "externalId": batch_id, "imsOrg": self.org_id, "status":
                 "failed" if r["outcome"] == "failed-promotion" else "success", "tags": tags,
                 "relatedObjects": related, "inputFormat": {"format": "parquet"},
                 "created": r["start"], "started": r["start"], "completed": r["end"], "updated": r["end"],
                 "createdClient": self.client_id, "createdUser": f"{self.client_id}@AdobeID",
                 "updatedUser": f"{self.client_id}@AdobeID", "version": "1.0.5",
                 "metrics": {"inputByteSize": r["input"] * 240, "inputFileCount": 1,
                             "inputRecordCount": r["input"], "outputRecordCount": r["input"] - failed,
                             "failedRecordCount": failed}}
        if failed:
            if options.get("errorDiagnosticsEnabled"):
                first = failed // 2
                batch["errors"] = [
                    {"code": "INGEST-1212-400", "description": f"Encountered {failed} errors in the data. "
                     f"Successfully ingested {r['input'] - failed} rows. Please review the associated "
                     "diagnostic files for more details."},
                    {"code": _ROW_ERRORS[0][0], "description": _ROW_ERRORS[0][1], "recordCount": first},
                    {"code": _ROW_ERRORS[1][0], "description": _ROW_ERRORS[1][1], "recordCount": failed - first}]
            else:
                batch["errors"] = [{"code": "INGEST-1211-400", "description": "Encountered errors while parsing, "
                                    "converting or otherwise validating the data. Please resend the data with "
                                    "error diagnostics enabled to collect additional information on failure types"}]
        return 200, {batch_id: batch}, {}

    # ------------------------------------------------------------ Data Access
    def _failed_rows(self, r: dict) -> list[dict]:
        rng = random.Random(f"failed:{r['batch']}")
        rows = []
        for n in range(min(SAMPLE_ROWS, self._failed_count(r))):
            code, message, column, bad = _ROW_ERRORS[n % len(_ROW_ERRORS)]
            row = _row(rng, n)
            row[column] = bad
            row["_validationErrors"] = [{"code": code, "keyword": "required" if bad is None else "format",
                                         "message": message, "pointerToViolation": f"#/{column}",
                                         "schemaLocation": f"#/properties/{column}"}]
            rows.append(row)
        return rows

    def _parse_rows(self, r: dict, filename: str) -> list[dict]:
        rng = random.Random(f"parse:{r['batch']}")
        row = _row(rng, 0)
        corrupt = json.dumps(row)[:-1].replace('"first_name"', "first_name")  # unquoted key, no closing brace
        return [{"_corrupt_record": corrupt, "_errors": [{"code": _PARSE_ERROR[0].split("-")[1],
                                                          "message": _PARSE_ERROR[1]}], "_filename": filename}]

    def _files(self, r: dict, flow: dict | None, where: str) -> dict[str, str]:
        """name -> content (JSON lines) of the files `where` ('failed' or 'row_errors') lists."""
        if not self._failed_count(r) or not self._diagnostics_kept(r, flow):
            return {}
        if where == "failed":
            rng = random.Random(f"part:{r['batch']}")
            part = f"part-00000-{rng.getrandbits(128):032x}-c000.json"
            return {"_SUCCESS": "", part: _lines(self._failed_rows(r))}
        return {"conversion_errors_0.json": _lines(self._failed_rows(r)),
                "parsing_errors_0.json": _lines(self._parse_rows(r, "parsing_errors_0.json"))}

    def _export(self, sb, batch_id: str, kind: str, query: dict):
        """GET /export/batches/{BATCH_ID}/failed and /meta, with or without ?path."""
        path = query.get("path")
        if path is not None and not isinstance(path, str):
            raise da_error(400, "Bad Request", "path must be given once")
        r, flow = self._batch_run(sb, batch_id)
        if kind == "failed":
            files = self._files(r, flow, "failed")
            if path == "parse_errors":
                return 200, _lines(self._parse_rows(r, "a1.json")) if files else "", {}
            return self._list_or_file(batch_id, "failed", "", files, path)
        if path is None:
            raise da_error(400, "Bad Request", "meta needs ?path= (input_files, row_errors, or a file under one)")
        top, _, rest = path.partition("/")
        if top == "input_files":
            files = {"fileMetaData1.json": _lines([{"path": f"{r['flowId']}/{r['batch']}.parquet"}])}
        elif top == "row_errors":
            files = self._files(r, flow, "row_errors")
        else:
            raise da_error(404, "Not Found", f"no metadata at path {path}")
        return self._list_or_file(batch_id, "meta", top + "/", files, rest or None)

    @staticmethod
    def _list_or_file(batch_id: str, kind: str, prefix: str, files: dict[str, str], name: str | None):
        if name is None:
            data = [{"name": n, "length": str(len(body.encode())),
                     "_links": {"self": {"href": f"{EXPORT_URL}/{batch_id}/{kind}?path="
                                                f"{(prefix + n).replace('/', '%2F')}"}}} for n, body in files.items()]
            return 200, {"data": data, "_page": {"limit": 100, "count": len(data)}}, {}
        if name not in files:
            raise da_error(404, "Not Found", f"no file {prefix + name} in batch {batch_id}")
        return 200, files[name], {"Content-Type": "application/octet-stream"}


def _lines(rows: list[dict]) -> str:
    return "".join(json.dumps(row) + "\n" for row in rows)
