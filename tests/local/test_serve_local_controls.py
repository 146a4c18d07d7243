"""The served local stack for one's own spec: time passes on POST /_local/clock (or by itself with
--clock-speed), so the API answers runs and the monitor polls; a source secret put into the running
stack (python -m local secret put, against serve's "aws" endpoint) is one a spec can use."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from local import secret_command
from local.examples import example
from local.serve import Server
from tests import signed_http

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def doors(module_stack):
    with Server(stack=module_stack) as running:
        yield running


@pytest.fixture
def server(doors, stack):  # `stack` has reset the local stack under the doors
    return doors


def call(method: str, url: str, body: dict | None = None, *, signed: bool = True) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    status, answer, _, _ = signed_http.call(method, url, data, signed=signed)
    return status, answer


def test_post_clock_makes_the_runs_due_polls_the_monitor_and_the_api_answers_them(server):
    api, stack = server.info["api"], server.stack
    [result] = stack.provision([example("004")])
    assert result["status"] == "ACTIVE", result
    runs_url = f"{api}/dataflows/acme-oracle-e2e/runs"
    status, before = call("GET", runs_url)
    assert status == 200 and before["runs"] == []

    status, clock = call("GET", server.info["clock"])
    interval = clock["monitorIntervalMinutes"]
    status, moved = call("POST", server.info["clock"], {"minutes": 60})
    assert status == 200 and moved["nowMs"] == clock["nowMs"] + 60 * 60_000
    assert moved["polls"] == 60 // interval and stack.invocations.count("MonitorFinishFunction") == moved["polls"]
    status, after = call("GET", runs_url)
    assert status == 200 and len(after["runs"]) >= 3  # the flow's schedule: every 15 minutes


def test_the_clock_control_is_signed_checked_and_not_the_products_api(server):
    clock = server.info["clock"]
    assert call("POST", clock, {"minutes": 5}, signed=False)[0] == 403
    for body in ({"minutes": 0}, {"minutes": True}, {"minutes": "5"}, {"minutes": 5, "x": 1}, [5]):
        status, refused = call("POST", clock, body)  # type: ignore[arg-type]
        assert status == 400 and refused["code"] == "INVALID_REQUEST", body
    assert "minutes" in call("POST", clock, {"minutes": 10**6})[1]["message"]
    assert call("GET", f"{server.info['api']}/_local/nothing")[0] == 404
    openapi = json.loads((ROOT / "functions" / "api" / "openapi.json").read_text())
    assert not [path for path in openapi["paths"] if "_local" in path]
    # Without the served stack's clock (the API alone, as API Gateway routes it), no such path.
    assert signed_http.in_process(server.stack, "POST", "/_local/clock", {"minutes": 5})[0] == 403


def test_clock_speed_moves_time_in_the_background_and_polls(server):
    stack, clock = server.stack, server.clock
    start = stack.emulator.now_ms
    stop = threading.Event()
    ticking = threading.Thread(target=clock.run, args=(clock.poll_minutes * 20, stop))  # an interval per 50 ms
    ticking.start()
    try:
        deadline = time.monotonic() + 5
        while stack.invocations.count("MonitorFinishFunction") < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        stop.set()
        ticking.join()
    assert stack.invocations.count("MonitorFinishFunction") >= 2
    assert stack.emulator.now_ms >= start + 2 * clock.poll_minutes * 60_000


def test_a_secret_put_into_the_running_stack_is_one_a_spec_can_use(server):
    value = {"connectionString": "Host=oracle.mine.example;Port=1521;Sid=E2E;User Id=me;Password=my-Own-Pw-44"}
    env = {**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'layers' / 'aepflow'}"}
    done = subprocess.run([sys.executable, "-m", "local", "secret", "put", "aep/sources/my-oracle", "--value",
                           json.dumps(value), "--endpoint", server.info["aws"], "--json"],
                          capture_output=True, text=True, timeout=60, env=env, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"name": "aep/sources/my-oracle", "action": "created"}
    # In the backend the functions read (AEP's answers redact it, as AEP does), and a spec naming it provisions.
    stored = server.stack.client("secretsmanager").get_secret_value(SecretId="aep/sources/my-oracle")
    assert json.loads(stored["SecretString"]) == value
    spec = example("004")
    spec["source"]["credentialsSecret"] = "aep/sources/my-oracle"
    [result] = server.stack.provision([spec])
    assert result["status"] == "ACTIVE", result


def test_secret_put_keeps_the_credentials_boundary_and_talks_to_127_0_0_1_only(capsys):
    def refused(*argv: str) -> str:
        parser = __import__("argparse").ArgumentParser()
        secret_command.add_parser(parser.add_subparsers(dest="command"))
        assert secret_command.run(parser.parse_args(["secret", "put", *argv]), sys.stdout) == secret_command.REFUSED
        return capsys.readouterr().err

    local = "http://127.0.0.1:1"
    assert "not under the source-secrets prefix 'aep/sources/'" in refused(
        "aepflow/aep-credentials", "--value", '{"a": "b"}', "--endpoint", local)
    assert "--value: expected a JSON object" in refused("aep/sources/x", "--value", "[1]", "--endpoint", local)
    assert "not a local stack's" in refused("aep/sources/x", "--value", '{"a": "b"}',
                                            "--endpoint", "https://secretsmanager.us-east-1.amazonaws.com")
