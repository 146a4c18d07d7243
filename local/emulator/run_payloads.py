"""What a flow run looks like when GET /runs answers it: in progress, failed at copy or at
promotion, partial (failed records with their manifest links) or a success; shaped like seed
002's payload (see flow_runs.py for the in-progress shape, our choice)."""
from __future__ import annotations

EXPORT = "https://platform.adobe.io/data/foundation/export/batches"


def render_run(r: dict, done: bool, client_id: str) -> dict:
        start, end, outcome = r["start"], r["end"], r["outcome"]
        who = f"{client_id}@AdobeID"
        run = {"createdAt": start, "updatedAt": end if done else start, "createdBy": who, "updatedBy": who,
               "createdClient": client_id, "updatedClient": client_id, "sandboxId": r["sandboxId"],
               "sandboxName": r["sandboxName"], "id": r["id"], "flowId": r["flowId"],
               "etag": r["etags"][1 if done else 0]}
        if r.get("params"):  # a run made on demand shows what it was asked for (on-demand-ingestion.md)
            run["params"] = dict(r["params"])
        source_info = [{"id": r["sourceRef"], "type": "SourceConnection",
                        "reference": {"type": "AdfRunId", "ids": [r["adfRun"]]}}]
        if not done:
            run["state"] = "inProgress"
            run["metrics"] = {"durationSummary": {"startedAtUTC": start}, "sizeSummary": {}, "recordSummary": {},
                              "fileSummary": {}, "statusSummary": {"status": "inProgress",
                                                                   "activityRefs": ["copyActivity"]}}
            run["activities"] = [{"id": "copyActivity", "updatedAtUTC": start,
                                  "durationSummary": {"startedAtUTC": start}, "sizeSummary": {},
                                  "recordSummary": {}, "fileSummary": {},
                                  "statusSummary": {"status": "inProgress"}, "sourceInfo": source_info}]
            return run
        inp, failed = r["input"], r["failed"]
        in_bytes = inp * 240
        copy_end = start + (end - start) * 55 // 100
        promo_start = copy_end + 250
        manifest = {"failedRecords": f"{EXPORT}/{r['batch']}/meta?path=row_errors",
                    "sampleErrors": f"{EXPORT}/{r['batch']}/meta?path=row_error_samples.json"}
        window = r.get("params") or {}
        window_start = int(window["windowStartTime"]) * 1000 if "windowStartTime" in window else start - 2_350_000
        window_end = int(window["windowEndTime"]) * 1000 if "windowEndTime" in window else start - 550_000
        copy = {"id": "copyActivity", "updatedAtUTC": copy_end + 5000,
                "durationSummary": {"startedAtUTC": start, "completedAtUTC": copy_end,
                                    "extensions": {"windowStart": window_start, "windowEnd": window_end}},
                "sizeSummary": {"inputBytes": in_bytes, "outputBytes": in_bytes}, "recordSummary": {},
                "fileSummary": {"inputFileCount": 1, "outputFileCount": 1},
                "statusSummary": {"status": "success", "extensions": {"type": "one-time"}},
                "sourceInfo": source_info}
        if outcome == "failed-copy":
            err = {"code": "CONNECTOR-1001-500", "message": "Error occurred at copy activity."}
            copy["sizeSummary"] = {"inputBytes": 0, "outputBytes": 0}
            copy["fileSummary"] = {"inputFileCount": 0, "outputFileCount": 0}
            copy["durationSummary"]["completedAtUTC"] = end
            copy["statusSummary"] = {"status": "failed", "errors": [err], "extensions": {"type": "one-time"}}
            run["metrics"] = {"durationSummary": {"startedAtUTC": start, "completedAtUTC": end},
                              "sizeSummary": {"inputBytes": 0, "outputBytes": 0},
                              "recordSummary": {"inputRecordCount": 0, "outputRecordCount": 0,
                                                "failedRecordCount": 0},
                              "fileSummary": {"inputFileCount": 0, "outputFileCount": 0,
                                              "activityRefs": ["copyActivity"]},
                              "statusSummary": {"status": "failed", "errors": [err],
                                                "activityRefs": ["copyActivity"]}}
            run["activities"] = [copy]
            return run
        written = 0 if outcome == "failed-promotion" else inp - failed
        rec_failed = inp if outcome == "failed-promotion" else failed
        status = "failed" if outcome == "failed-promotion" else "success"
        promo_status: dict = {"status": status}
        run_status: dict = {"status": status, "activityRefs": ["promotionActivity"]}
        if outcome == "failed-promotion" or failed:  # every record failed, or some (a partial run)
            err = {"code": "CONNECTOR-2001-500", "message": "Error occurred at promotion activity."}
            promo_status["errors"] = run_status["errors"] = [err]
            promo_status["extensions"] = {"manifest": manifest, "errors": [
                {"code": "INGEST-1212-400", "message": f"Encountered {rec_failed} errors in the data. Successfully "
                                                       f"ingested {written} rows. Review the associated diagnostic "
                                                       f"files for additional details."},
                {"code": "MAPPER-3700-400", "recordCount": rec_failed, "message": "Mapper Transform Error"}]}
        out_bytes = written * 171
        records = {"inputRecordCount": inp, "outputRecordCount": written, "failedRecordCount": rec_failed}
        promo = {"id": "promotionActivity", "updatedAtUTC": end + 180,
                 "durationSummary": {"startedAtUTC": promo_start, "completedAtUTC": end},
                 "sizeSummary": {"inputBytes": in_bytes, "outputBytes": out_bytes},
                 "recordSummary": dict(records),
                 "fileSummary": {"inputFileCount": 2, "outputFileCount": 1, "extensions": {"manifest": {
                     "fileInfo": f"{EXPORT}/{r['batch']}/meta?path=input_files"}}},
                 "statusSummary": promo_status,
                 "targetInfo": [{"id": r["targetRef"], "type": "TargetConnection",
                                 "reference": {"type": "Batch", "ids": [r["batch"]]}}]}
        run["metrics"] = {"durationSummary": {"startedAtUTC": start, "completedAtUTC": end},
                          "sizeSummary": {"inputBytes": in_bytes, "outputBytes": out_bytes},
                          "recordSummary": records,
                          "fileSummary": {"inputFileCount": 1, "outputFileCount": 1,
                                          "activityRefs": ["promotionActivity"]},
                          "statusSummary": run_status}
        run["activities"] = [copy, promo]
        return run
