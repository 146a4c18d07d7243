"""Every line a provisioning step logs names its dataflow and sandbox (structured keys on
Powertools' JSON line), and the layer logs through one Logger named after the service."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path
from typing import Any

import pytest
import yaml

from aepflow.core import observability
from aepflow.core.errors import AepServerError
from aepflow.spec.parse import parse_spec, resolve_source
from aepflow.steps import context as context_mod
from aepflow.steps.context import Context
from aepflow.steps.handler import step_handler
from local import template as cfn
from local.stack import FakeLambdaContext

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "000-salesforce-contacts.yaml"


class FakeClient:
    sandbox = "dev-sandbox"


class FakeJournal:
    def __init__(self, execution: str, sandbox: str):
        self.entries: list[tuple[str, str]] = []

    def intend(self, kind: str, name: str) -> str:
        return f"RESOURCE#{kind}"

    def created(self, sort_key: str, resource_id: str) -> None:
        self.entries.append((sort_key, resource_id))

    def rolling_back(self) -> bool:
        return False


@pytest.fixture
def logged():
    """A function returning the JSON lines the layer's Logger has written since the test began."""
    out = io.StringIO()
    handler = observability.logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    saved = handler.setStream(out)
    try:
        yield lambda: [json.loads(line) for line in out.getvalue().splitlines()]
    finally:
        handler.setStream(saved)


def _state() -> dict[str, Any]:
    spec = parse_spec(yaml.safe_load(EXAMPLE.read_text()))
    return {"spec": spec.model_dump(mode="json", by_alias=True, exclude_none=True),
            "resolved": resolve_source(spec).model_dump(mode="json")}


def test_a_steps_lines_name_its_dataflow_and_sandbox_and_the_keys_end_with_it(monkeypatch, logged):
    monkeypatch.setattr(context_mod, "aep_client", lambda sandbox: FakeClient())
    monkeypatch.setattr(context_mod, "Journal", FakeJournal)
    answers: list[Any] = [AepServerError("POST /flows: 502", status=502), "flow-1"]

    def create() -> str:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def create_dataflow(ctx: Context) -> dict[str, str]:  # a step whose first POST's answer is lost
        return {"flowId": ctx.ensure("flow", "acme-flow", create, find=lambda: None)}

    handler = step_handler(create_dataflow)
    event = {"state": _state(), "execution": "arn:aws:states:us-east-1:123456789012:execution:m:e1"}
    assert handler(event, FakeLambdaContext("aepflow-CreateDataflowFunction", 256, 60)) == {"flowId": "flow-1"}
    observability.logger.warning("after the step")  # the same thread, after the invocation

    lost, after = [line for line in logged() if line["message"] in ("create answer lost, looking it up",
                                                                    "after the step")]
    assert lost["dataflow"] == "acme-salesforce-contacts" and lost["sandbox"] == "dev-sandbox"
    assert lost["step"] == "create_dataflow" and lost["kind"] == "flow" and lost["error"] == "AepServerError"
    assert "dataflow" not in after and "sandbox" not in after and "execution" not in after
    assert lost["service"] == after["service"] == "aepflow"


def test_the_one_logger_is_named_as_the_templates_service_and_no_module_makes_a_child():
    env = cfn.load()["Globals"]["Function"]["Environment"]["Variables"]
    assert observability.SERVICE == env["POWERTOOLS_SERVICE_NAME"] == observability.logger.name
    # A child Logger would be named <service>.<module>: aepflow.aepflow.monitor.finish.
    layer = Path(observability.__file__).resolve().parents[1]
    children = {str(p.relative_to(layer)) for p in layer.rglob("*.py") if "Logger(child=True)" in p.read_text()}
    assert not children, children
