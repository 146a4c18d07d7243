"""The committed JSON Schema of spec v1 (schemas/dataflow-spec-v1.schema.json): generated from
the pydantic model, every field described with an example, named by every example spec so that
editors (yaml-language-server) complete and check them, and holding every example."""

import json
from pathlib import Path

import jsonschema
import pytest

from aepflow.spec import schema as spec_mod
from local.examples import load_spec

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / spec_mod.SCHEMA_PATH
SPECS = sorted((ROOT / "examples").glob("*.yaml")) + sorted((ROOT / "tests" / "fixtures" / "specs").glob("*.yaml"))


def test_the_committed_schema_is_generated_from_the_model():
    assert json.loads(SCHEMA.read_text()) == spec_mod.json_schema(), (
        "schemas/dataflow-spec-v1.schema.json is stale: "
        "PYTHONPATH=layers/aepflow python -m aepflow.spec.schema > schemas/dataflow-spec-v1.schema.json")


def test_every_field_has_a_description_and_an_example():
    schema = json.loads(SCHEMA.read_text())
    missing = []
    for model, definition in [("DataflowSpec", schema), *schema["$defs"].items()]:
        for field, prop in definition.get("properties", {}).items():
            if not prop.get("description"):
                missing.append(f"{model}.{field}: description")
            is_object = "$ref" in prop or any("$ref" in p for p in prop.get("anyOf", []))
            has_example = prop.get("examples") or any(p.get("examples") for p in prop.get("anyOf", []))
            if not is_object and not has_example:
                missing.append(f"{model}.{field}: example")
    assert missing == []


@pytest.mark.parametrize("path", SPECS, ids=[p.name for p in SPECS])
def test_every_example_names_the_schema_and_holds_to_it(path):
    first = path.read_text().splitlines()[0]
    relative = Path(first.split("$schema=", 1)[1])
    assert first.startswith("# yaml-language-server: $schema=") and (path.parent / relative).resolve() == SCHEMA
    jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text())).validate(load_spec(path))


def test_the_schema_refuses_what_the_model_refuses_by_itself():
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text()))
    spec = load_spec(ROOT / "examples" / "004-oracle-table.yaml")
    for path, bad in ((("schedule", "interval"), "15"), (("target", "dataset", "id"), "../../flowservice/flows"),
                      (("enabled",), "yes"), (("name",), "Not A Name"), (("source", "surprise"), 1)):
        broken = json.loads(json.dumps(spec))
        cursor = broken
        for key in path[:-1]:
            cursor = cursor.setdefault(key, {})
        cursor[path[-1]] = bad
        assert not validator.is_valid(broken), path
