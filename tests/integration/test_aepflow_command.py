"""The aepflow command against python -m local serve's API: validate and connectors offline,
apply with a progress line per step and the exit codes of provision, then get, list, runs and
delete; every request signed with SigV4 as API Gateway wants it."""

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from aepflow.doors.cli.main import main
from local.serve import Server

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = str(ROOT / "examples" / "004-oracle-table.yaml")


@pytest.fixture(scope="module")
def api():
    with Server() as server:
        yield server.info["api"]


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    saved, sys.stdout = sys.stdout, out
    try:
        code = main(list(argv))
    finally:
        sys.stdout = saved
    return code, out.getvalue()


def test_the_command_is_installed_and_validates_offline(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: acme-bad\nschedule: {frequency: minute, interval: 5, startTime: 1612310466}\n")
    command = Path(sys.executable).with_name("aepflow")
    done = subprocess.run([str(command), "validate", "--json", EXAMPLE, str(bad)], capture_output=True, text=True,
                          timeout=60, env={"PATH": "/usr/bin:/bin"})
    assert done.returncode == 2, done.stderr
    good, invalid = [json.loads(line) for line in done.stdout.splitlines()]
    assert good["status"] == "VALID" and good["connector"] == "oracle"
    assert invalid["status"] == "INVALID" and "schedule.interval" in {p["path"] for p in invalid["errors"]}


def test_connectors_lists_the_catalog_with_auth_specs_and_params():
    code, text = run("connectors", "bigquery", "--json")
    [row] = [json.loads(line) for line in text.splitlines()]
    assert code == 0 and row["connectionSpecId"] == "3c9b37f8-13a6-43d8-bad3-b863b941fedd"
    basic = next(a for a in row["authSpecs"] if a["name"] == "Basic Authentication")
    assert set(basic["required"]) == {"project", "clientId", "clientSecret", "refreshToken"}
    code, text = run("connectors")
    assert code == 0 and "salesforce" in text and "auth spec 'Basic Authentication'" in text


def test_apply_waits_with_a_line_per_step_then_get_list_runs_and_delete(api, tmp_path):
    code, text = run("apply", EXAMPLE, "--api", api)
    assert code == 0, text
    assert "acme-oracle-e2e: ok  Create the dataflow" in text and "ACTIVE" in text.splitlines()[-1]
    code, text = run("get", "acme-oracle-e2e", "--api", api, "--json")
    view = json.loads(text)
    assert code == 0 and view["status"] == "ACTIVE" and view["flow"]["state"] == "enabled"
    code, text = run("list", "--api", api)
    assert code == 0 and "acme-oracle-e2e" in text
    code, text = run("runs", "acme-oracle-e2e", "--api", api, "--json")
    assert code == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text((ROOT / "examples" / "004-oracle-table.yaml").read_text().replace("interval: 15,", "interval: 5,"))
    code, text = run("apply", str(bad), "--api", api)
    assert code == 2 and "schedule.interval" in text
    code, _ = run("delete", "acme-oracle-e2e", "--api", api)  # no terminal to ask on, and no --yes
    assert code == 1 and run("get", "acme-oracle-e2e", "--api", api)[0] == 0
    code, text = run("delete", "acme-oracle-e2e", "--api", api, "--json", "--yes")
    deleted = json.loads(text)
    assert code == 0 and deleted["status"] == "DELETED"
    kept = {k["kind"]: k["reason"] for k in deleted["kept"]}  # what it ingested into outlives it
    assert set(kept) == {"dataset", "schema"} and "deleteData=true" in kept["dataset"]
    assert not {d["kind"] for d in deleted["deleted"]} & {"dataset", "schema"}
    code, text = run("get", "acme-oracle-e2e", "--api", api)
    assert code == 1 and "404" in text


def test_no_api_is_one_line_not_a_traceback(capsys):
    code, _ = run("list", "--api", "http://127.0.0.1:9")
    assert code == 1 and "no answer from http://127.0.0.1:9" in capsys.readouterr().err


def test_a_name_is_refused_unless_it_is_a_dataflow_name_before_any_request(capsys):
    for name in ("x/../acme-oracle-e2e", "../acme", "ACME", "a", "a%2Fb"):
        for command in (["get", name], ["runs", name], ["delete", name, "--yes"]):
            code, _ = run(*command, "--api", "http://127.0.0.1:9")  # nothing listens: no request is made
            assert code == 2 and "is not a dataflow name" in capsys.readouterr().err, (command, name)
