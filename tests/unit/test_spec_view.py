"""The steps after validation read the spec and its resolved source from the state, without pydantic
(spec_view): what they read must be what validating that state would give."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel

from aepflow.spec.parse import parse_spec, resolve_source
from aepflow.spec.schema import view_fields
from aepflow.spec.view import FIELDS, SpecView, View, validated
from aepflow.steps.context import StepEvent
from local.examples import all_examples
from tests.function_env import FUNCTION_ENVIRONMENT

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = sorted((ROOT / "tests" / "fixtures" / "specs").glob("*.yaml"))


def _documents() -> list:
    from aepflow.spec import document

    return [*all_examples(), *(document.read(p.read_text()) for p in FIXTURES)]


def _same(view, model, path: str) -> None:
    """Every field of `model`, read through `view`, is the model's, down to the leaves."""
    if isinstance(model, BaseModel):
        assert isinstance(view, View), path
        for name in type(model).model_fields:
            _same(getattr(view, name), getattr(model, name), f"{path}.{name}")
    elif isinstance(model, list):
        assert isinstance(view, list) and len(view) == len(model), path
        for i, (v, m) in enumerate(zip(view, model, strict=True)):
            _same(v, m, f"{path}[{i}]")
    else:
        assert view == model and type(view) is type(model), (path, view, model)


@pytest.mark.parametrize("raw", _documents(), ids=lambda raw: raw["name"])
def test_what_a_step_reads_from_the_state_is_what_validation_made(raw):
    spec = parse_spec(raw)
    resolved = resolve_source(spec)
    # The state as Step Functions hands it on: validate_spec's answer, through JSON.
    state = json.loads(json.dumps({"spec": spec.model_dump(mode="json", by_alias=True, exclude_none=True),
                                   "resolved": resolved.model_dump(mode="json")}))
    seen_spec, seen_resolved = validated(state)
    _same(seen_spec, spec, "spec")
    _same(seen_resolved, resolved, "resolved")
    assert seen_spec.connector == spec.connector
    # Dumps as the steps make them (naming's mapping-set digest, schedule params, columns, options).
    for mode in ("python", "json"):
        for by_alias in (False, True):
            assert seen_spec.model_dump(mode=mode, by_alias=by_alias, exclude_none=True) == \
                spec.model_dump(mode=mode, by_alias=by_alias, exclude_none=True)
            assert [r.model_dump(mode=mode, by_alias=by_alias, exclude_none=True) for r in seen_spec.mapping] == \
                [r.model_dump(mode=mode, by_alias=by_alias, exclude_none=True) for r in spec.mapping]
    from aepflow.aep import naming

    assert naming.mapping_set(seen_spec) == naming.mapping_set(spec)


def test_a_view_refuses_what_the_model_does_not_have_and_hands_out_copies():
    spec = parse_spec(all_examples()[0])
    view = SpecView(json.loads(json.dumps(spec.model_dump(mode="json", by_alias=True, exclude_none=True))))
    with pytest.raises(AttributeError, match="no field 'sourec'"):
        view.sourec  # noqa: B018
    with pytest.raises(AttributeError, match="no field 'schema'"):
        view.target.schema  # noqa: B018 - the alias is the dump's key, not the model's attribute
    with pytest.raises(ValueError, match="exclude_none"):
        view.model_dump()
    dumped = view.model_dump(exclude_none=True)
    dumped["source"]["params"]["x"] = 1
    assert "x" not in view.source.params


def test_the_committed_fields_are_the_models():
    """spec/view_fields.json is spec.schema.view_fields() (python -m aepflow.spec.schema fields regenerates it)."""
    assert FIELDS == json.loads(json.dumps(view_fields()))


@pytest.mark.parametrize("state", [{}, {"spec": "acme", "resolved": {}}, {"spec": {}, "resolved": None}])
def test_a_state_that_validation_did_not_answer_is_refused(state):
    with pytest.raises(ValueError, match="no validated spec"):
        validated(state)


@pytest.mark.parametrize("event, field", [
    ([], r"\(event\)"), ({"state": "x"}, "state"), ({"state": {}, "execution": 7}, "execution"),
    ({"state": {}, "execution": ""}, "execution"), ({"state": {}, "execution": "e" * 2049}, "execution"),
    ({"state": {}, "retryCount": True}, "retryCount"), ({"state": {}, "retryCount": -1}, "retryCount"),
    ({"state": {}, "retryCount": "1"}, "retryCount"), ({"state": {}, "check": "flow"}, "check"),
])
def test_a_step_event_that_is_not_what_the_state_machine_sends_is_refused_by_field(event, field):
    with pytest.raises(ValueError, match=f"^{field}:"):
        StepEvent.parse(event)


def test_a_step_event_is_read_with_its_defaults_and_other_keys_ignored():
    event = StepEvent.parse({"state": {"a": 1}, "execution": "arn:x", "retryCount": 2, "check": "dataset", "x": 1})
    assert (event.state, event.execution, event.retryCount, event.check) == ({"a": 1}, "arn:x", 2, "dataset")
    event = StepEvent.parse({"state": {}})
    assert (event.execution, event.retryCount, event.check) == ("local", 0, None)


STEPS = ["create_base_connection", "explore_source", "create_source_connection", "create_target_schema",
         "create_dataset", "create_target_connection", "create_mapping_set", "resolve_flow_spec", "create_dataflow",
         "find_existing", "reserve_name", "roll_back", "grant_bucket_read"]


def test_no_step_after_validation_imports_pydantic_or_the_spec_models():
    """Their cold start: pydantic and the spec's models are what the steps no longer import."""
    probe = ("import importlib.util, sys\n"
             f"for name in {STEPS!r}:\n"
             "    spec = importlib.util.spec_from_file_location('h_' + name, f'functions/{name}/app.py')\n"
             "    sys.path.insert(0, f'functions/{name}')\n"
             "    spec.loader.exec_module(importlib.util.module_from_spec(spec))\n"
             "print(sorted(m for m in sys.modules if m.split('.')[0] == 'pydantic' or m == 'aepflow.spec.model'))")
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          check=True, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT / "layers" / "aepflow"),
                                           **FUNCTION_ENVIRONMENT, "POWERTOOLS_SERVICE_NAME": "aepflow"})
    assert done.stdout.strip() == "[]"
