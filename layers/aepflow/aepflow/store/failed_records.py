"""Where a run's failed records are kept in the stack's FailedRecordsBucket, and its summary read
back: `dataflows/<name>/runs/<runId>/summary.json` (error codes with counts, a few sample records)
beside `batches/<batchId>/...`. monitor/diagnostics.py writes them (the check, before the run's
alert); ops/run_errors.py reads the summary for `GET /dataflows/{name}/runs/{runId}/errors`."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from botocore.exceptions import ClientError

from aepflow.core import aws

# A summary holds codes, counts and at most a few sample records: far below this.
MAX_SUMMARY_BYTES = 1024 * 1024


def prefix(name: str, run_id: str) -> str:
    """The run's folder; each part one key segment, percent-encoded (never a `/` or `..` of its own)."""
    return f"dataflows/{quote(name, safe='')}/runs/{quote(run_id, safe='')}/"


def summary_key(name: str, run_id: str) -> str:
    return prefix(name, run_id) + "summary.json"


def read_summary(bucket: str, name: str, run_id: str) -> dict[str, Any] | None:
    """The run's summary, or None when none was kept (the object is absent). Read bounded, and
    parsed: a summary that is not a JSON object counts as none."""
    try:
        answer = aws.aws_client("s3").get_object(Bucket=bucket, Key=summary_key(name, run_id),
                                                 Range=f"bytes=0-{MAX_SUMMARY_BYTES - 1}")
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "InvalidRange"):
            return None
        raise
    try:
        value = json.loads(answer["Body"].read(MAX_SUMMARY_BYTES))
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
