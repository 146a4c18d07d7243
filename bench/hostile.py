"""Every hostile document of tests/hostile.py through the one way in (aepflow.document.read and
the spec's checks) and through the API function's handler, one at a time: how many were refused
with a field path, and the time and peak memory (tracemalloc) of the worst case. The 342-byte
alias bomb that hung every door, and the 100,000-deep JSON body that crashed the API, are in it.

    python -m bench hostile
"""

from __future__ import annotations

import json
import os
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _measure(call) -> tuple[float, int, object]:
    tracemalloc.start()
    started = time.perf_counter()
    try:
        outcome = call()
    except Exception as exc:  # noqa: BLE001 - what escaped is what the bench reports
        outcome = exc
    elapsed = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return elapsed, peak, outcome


def main(argv: list[str] | None = None) -> int:
    sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "aepflow")]
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    from aepflow.core.errors import SpecInvalid
    from aepflow.doors.api import handler
    from aepflow.spec import document
    from aepflow.spec.parse import parse_spec
    from local.serve import proxy_event
    from tests.hostile import ALL

    rows = []
    for case in ALL:
        elapsed, peak, outcome = _measure(lambda case=case: parse_spec(document.read(case.data)))
        refused = isinstance(outcome, SpecInvalid) and any(
            p["path"] == case.path and case.says in p["message"] for p in outcome.problems)
        event = proxy_event("POST", "/dataflows", headers={"Content-Type": "application/yaml"}, body=case.data,
                            resource="/dataflows")
        api_elapsed, api_peak, answer = _measure(lambda event=event: handler.handle(event, None))
        status = answer.get("statusCode") if isinstance(answer, dict) else None
        rows.append({"case": case.name, "bytes": len(case.data), "readerRefused": refused,
                     "readerSeconds": elapsed, "readerPeakBytes": peak, "apiStatus": status,
                     "apiSeconds": api_elapsed, "apiPeakBytes": api_peak})
    worst = max(rows, key=lambda r: r["apiSeconds"] + r["readerSeconds"])
    heaviest = max(rows, key=lambda r: max(r["apiPeakBytes"], r["readerPeakBytes"]))
    summary = {
        "cases": len(rows),
        "refusedWithTheirFieldPath": sum(r["readerRefused"] for r in rows),
        "apiAnswered4xx": sum(1 for r in rows if isinstance(r["apiStatus"], int) and 400 <= r["apiStatus"] < 500),
        "slowest": {"case": worst["case"], "seconds": round(worst["readerSeconds"] + worst["apiSeconds"], 4)},
        "heaviest": {"case": heaviest["case"],
                     "peakMB": round(max(heaviest["apiPeakBytes"], heaviest["readerPeakBytes"]) / 1e6, 2)},
    }
    print(f"{'case':<28} {'bytes':>7} {'reader':>8} {'peak KB':>8} {'API':>4} {'API s':>7} {'peak KB':>8}")
    for r in rows:
        print(f"{r['case']:<28} {r['bytes']:>7} {r['readerSeconds']:>8.4f} {r['readerPeakBytes'] / 1e3:>8.0f} "
              f"{r['apiStatus'] or '-':>4} {r['apiSeconds']:>7.4f} {r['apiPeakBytes'] / 1e3:>8.0f}")
    print(json.dumps(summary))
    return 0 if summary["refusedWithTheirFieldPath"] == summary["cases"] == summary["apiAnswered4xx"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
