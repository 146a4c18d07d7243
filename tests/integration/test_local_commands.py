"""`python -m local`'s conventions, through its own main(): a table (or `key: value` lines) by default and
JSON lines with --json, logs on stderr only with -v, and an error the command expects as a message and an
exit code, never a traceback."""

import json
import logging
from pathlib import Path

from local.__main__ import main

ROOT = Path(__file__).resolve().parents[2]
SCHEDULED = str(ROOT / "examples" / "004-oracle-table.yaml")
ONCE = str(ROOT / "examples" / "on-demand" / "salesforce-accounts-once.yaml")


def test_a_run_on_demand_of_a_scheduled_dataflow_is_a_message_not_a_traceback(capsys, caplog):
    code = main(["run", SCHEDULED])
    out, err = capsys.readouterr()
    assert not [r for r in caplog.records if r.levelno < logging.WARNING and r.name.startswith("aepflow")]
    assert code == 1 and out == ""
    assert err.splitlines() == [
        "python -m local run: NotOneTime: dataflow 'acme-oracle-e2e' runs on its schedule (frequency minute, "
        "interval 15); AEP creates runs on demand only for a dataflow scheduled for one-time ingestion",
        "  schedule.frequency: on-demand runs need frequency: once"]


def test_info_logs_only_with_v_and_json_is_one_line(capsys, caplog):
    """-v: the functions' INFO lines (the monitor's poll report) are logged; stdout stays one JSON line.
    (Where a line goes is the Logger's handler's: stderr, as python -m local points stdout there before
    the functions' Logger is made; here pytest's capture has it.)"""
    code = main(["run", ONCE, "--outcome", "failed", "--json", "-v"])
    out, _ = capsys.readouterr()
    [shown] = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and shown["run"]["status"] == "failed" and shown["run"]["id"] == shown["started"]["runId"]
    assert any(r.getMessage() == "monitor poll" and r.levelno == logging.INFO for r in caplog.records)
