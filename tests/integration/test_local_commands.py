"""`python -m local`'s conventions, through its own main(): a table (or `key: value` lines) by default and
JSON lines with --json, logs on stderr only with -v, and an error the command expects as a message and an
exit code, never a traceback."""

import json
import logging
from pathlib import Path

from local.__main__ import main
from tests.hostile import ALL, refused

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


def test_the_cli_gives_every_hostile_file_its_own_invalid_line_in_one_batch(tmp_path, capsys):
    """Every hostile document of tests/hostile.py in one `provision` batch: a result line per file,
    each INVALID at its path, exit code 2, no traceback, and not one AEP request."""
    paths = []
    for index, case in enumerate(ALL):
        path = tmp_path / f"{index:02d}-{case.name}.{'json' if case.data.lstrip()[:1] in (b'{', b'[') else 'yaml'}"
        path.write_bytes(case.data)
        paths.append(path)
    record = tmp_path / "record.jsonl"
    code = main(["provision", "--json", *map(str, paths), "--record", str(record)])
    out, err = capsys.readouterr()
    assert code == 2 and "Traceback" not in err, err[-2000:]
    lines = [json.loads(line) for line in out.splitlines()]
    assert len(lines) == len(ALL)
    for case, path, line in zip(ALL, paths, lines, strict=True):
        assert line["status"] == "INVALID" and line["file"] == str(path), (case.name, line)
        assert refused(line["errors"], case.path, case.says), (case.name, line)
    assert record.read_text() == ""


def test_monitor_scenario_prints_one_summary_and_writes_every_alert(tmp_path, capsys):
    alerts, state = tmp_path / "alerts.jsonl", tmp_path / "state.json"
    code = main(["monitor-scenario", "--flows", "12", "--runs-per-flow", "1", "--seed", "4", "--shards", "8",
                 "--json", "--alerts", str(alerts), "--dump-state", str(state)])
    out, err = capsys.readouterr()
    assert code == 0, err[-2000:]
    [line] = out.splitlines()
    summary = json.loads(line)
    assert summary["duplicates"] == 0 and summary["missed"] == 0, summary
    sent = [json.loads(row) for row in alerts.read_text().splitlines()]
    assert len(sent) == sum(summary["alertsSent"].values()) > 0
    assert all(len(a["Subject"]) < 100 and a["MessageAttributes"]["problem"] for a in sent)
    assert len(json.loads(state.read_text())["runs"]) == summary["runs"]
    assert summary["flows"] == 12
