"""The steps after validation make the spec again from the state without validating it
(spec.validated): what they get must be what validating that state would give."""

import json
from pathlib import Path

import pytest

from aepflow.spec import DataflowSpec, ResolvedSource, parse_spec, resolve_source, validated
from local.examples import all_examples

FIXTURES = sorted((Path(__file__).resolve().parents[1] / "fixtures" / "specs").glob("*.yaml"))


def _documents() -> list:
    from aepflow import document

    return [*all_examples(), *(document.read(p.read_text()) for p in FIXTURES)]


@pytest.mark.parametrize("raw", _documents(), ids=lambda raw: raw["name"])
def test_the_spec_made_again_from_the_state_is_the_spec_validation_makes(raw):
    spec = parse_spec(raw)
    resolved = resolve_source(spec)
    # The state as Step Functions hands it on: validate_spec's answer, through JSON.
    state = json.loads(json.dumps({"spec": spec.model_dump(mode="json", by_alias=True, exclude_none=True),
                                   "resolved": resolved.model_dump(mode="json")}))
    made_spec, made_resolved = validated(state)
    assert made_spec == DataflowSpec.model_validate(state["spec"]) == spec
    assert made_resolved == ResolvedSource.model_validate(state["resolved"]) == resolved
    # The same nested types, down to the leaves (model equality alone would accept a dict for a model).
    assert type(made_spec.target.schema_) is type(spec.target.schema_)
    assert [type(rule) for rule in made_spec.mapping] == [type(rule) for rule in spec.mapping]
    assert made_spec.model_dump(mode="json", by_alias=True) == spec.model_dump(mode="json", by_alias=True)


@pytest.mark.parametrize("state", [{}, {"spec": "acme", "resolved": {}}, {"spec": {}, "resolved": None}])
def test_a_state_that_validation_did_not_answer_is_refused(state):
    with pytest.raises(ValueError, match="no validated spec"):
        validated(state)
