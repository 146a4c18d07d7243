"""Tracing stays, and costs nothing at import when it is off: the X-Ray SDK (and botocore through
it) is imported only when a function runs in Lambda with tracing on, where Powertools' Tracer
wraps the handler."""

import os
import subprocess
import sys
from pathlib import Path

LAYER = str(Path(__file__).resolve().parents[2] / "layers" / "aepflow")
PROBE = """
import sys
from aepflow.core.observability import tracer
handler = tracer.capture_lambda_handler(capture_response=False)(lambda event, context: "handled")
print(int("aws_xray_sdk" in sys.modules), int(not hasattr(handler, "__wrapped__")), handler({}, None))
"""


def _probe(**env: str) -> list[str]:
    base = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": LAYER, "POWERTOOLS_SERVICE_NAME": "aepflow"}
    done = subprocess.run([sys.executable, "-c", PROBE], env={**base, **env}, capture_output=True, text=True,
                          timeout=60, check=True)
    return done.stdout.split()


def test_off_the_handler_is_left_as_it_is_and_the_xray_sdk_is_never_imported():
    assert _probe() == ["0", "1", "handled"]  # not in Lambda
    assert _probe(LAMBDA_TASK_ROOT="/var/task", POWERTOOLS_TRACE_DISABLED="true") == ["0", "1", "handled"]


def test_on_in_lambda_powertools_tracer_wraps_the_handler():
    imported, unwrapped, _ = _probe(LAMBDA_TASK_ROOT="/var/task", AWS_LAMBDA_FUNCTION_NAME="probe")
    assert (imported, unwrapped) == ("1", "0")
