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


def test_apply_says_what_it_did_and_plan_gates_ci_with_its_exit_code(api, tmp_path):
    """apply --json carries the action and the fields changed; plan ends with a summary line and,
    with --detailed-exitcode, exits 0 when nothing would change and 2 when something would."""
    spec = (ROOT / "examples" / "004-oracle-table.yaml").read_text().replace("acme-oracle-e2e", "acme-oracle-ci")
    first, second = tmp_path / "v1.yaml", tmp_path / "v2.yaml"
    first.write_text(spec)
    second.write_text(spec.replace("interval: 15,", "interval: 30,"))
    code, text = run("apply", str(first), "--api", api, "--json")
    [created] = [json.loads(line) for line in text.splitlines()]
    assert code == 0 and created["action"] == "create" and created["status"] == "ACTIVE", created
    code, text = run("plan", str(first), "--api", api, "--detailed-exitcode")
    assert code == 0 and text.splitlines()[-1] == "Plan: 0 to create, 0 to update in place, 0 to replace, 1 unchanged."
    code, text = run("plan", str(second), "--api", api, "--detailed-exitcode")
    assert code == 2 and "1 to update in place" in text.splitlines()[-1] and "scheduleParams.interval" in text
    code, text = run("plan", str(second), "--api", api)  # without it: 0, whatever the plan
    assert code == 0
    code, text = run("apply", str(second), "--api", api, "--json")
    [updated] = [json.loads(line) for line in text.splitlines()]
    assert code == 0 and updated["action"] == "update" and updated["flowId"] == created["flowId"]
    assert updated["changed"] == ["flow.scheduleParams.interval"], updated
    code, text = run("apply", str(second), "--api", api)  # the table says it too
    assert code == 0 and " none " in text.splitlines()[-1] and "ACTIVE" in text.splitlines()[-1]
    bad = tmp_path / "bad.yaml"
    bad.write_text(spec.replace("interval: 15,", "interval: 5,"))
    code, text = run("plan", str(bad), "--api", api, "--detailed-exitcode")
    assert code == 1 and text.splitlines()[-1].endswith(", 0 unchanged, 1 invalid.")  # an error, not "changes"


def test_connector_names_match_whatever_their_case():
    code, text = run("connectors", "Salesforce", "--json")
    assert code == 0 and json.loads(text)["name"] == "salesforce"


def test_a_reader_that_goes_away_ends_the_command_quietly():
    """`aepflow connectors | head -1`: the reader closes the pipe; no BrokenPipeError trace."""
    command = Path(sys.executable).with_name("aepflow")
    process = subprocess.Popen([str(command), "connectors"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # before the command has written anything
    _, err = process.communicate(timeout=60)
    assert process.returncode == 1 and err == b"", err.decode()[-2000:]


def test_an_unknown_connector_names_the_closest(capsys):
    code, text = run("connectors", "postgres")
    assert code == 1 and text == "" and "did you mean 'postgresql'" in capsys.readouterr().err
