"""What is generated from the spec's models and committed: its JSON Schema (schemas/, for editors) and
the field table the steps read a validated spec by without pydantic (view_fields.json, spec/view.py).
Regenerate them with `python -m aepflow.spec.schema > schemas/dataflow-spec-v1.schema.json` and
`python -m aepflow.spec.schema fields > layers/aepflow/aepflow/spec/view_fields.json`."""

from typing import Any

from pydantic import BaseModel

from aepflow.spec.model import DataflowSpec, ResolvedSource
from aepflow.spec.unknown import nested_model


def view_fields() -> dict[str, dict[str, list[str | None]]]:
    """What spec_view needs to read a dump of these models without them (committed as
    spec/view_fields.json, which a test holds to this): for each model, each field's attribute name, the
    key it has in the dump (its alias) and the model its value is made of (in a list, or one of a
    union with None), or None for a plain value (text, number, a dict of params, ...)."""
    out: dict[str, dict[str, list[str | None]]] = {}

    def visit(model: type[BaseModel]) -> None:
        if model.__name__ in out:
            return
        out[model.__name__] = {}
        for name, field in model.model_fields.items():
            kind = nested_model(field.annotation)
            out[model.__name__][name] = [field.alias or name, kind.__name__ if kind else None]
            if kind is not None:
                visit(kind)

    visit(DataflowSpec)
    visit(ResolvedSource)
    return out


SCHEMA_PATH = "schemas/dataflow-spec-v1.schema.json"


def json_schema() -> dict[str, Any]:
    """The JSON Schema of spec v1, generated from the models above (committed at SCHEMA_PATH, so
    editors can complete and check specs: the examples name it in a yaml-language-server comment).
    The catalog's own rules (a table for a CRM, a deltaColumn for CRMToAEP, the auth params) are
    checked by parse_spec; the schema holds what a document can say about itself."""
    from aepflow.spec.connectors import CONNECTORS

    schema = DataflowSpec.model_json_schema(by_alias=True)
    schema["$defs"]["Source"]["properties"]["connector"]["anyOf"][0]["examples"] = sorted(CONNECTORS)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": "urn:aepflow:dataflow-spec:v1", **schema}


if __name__ == "__main__":
    # Regenerate what is committed from these models:
    #   python -m aepflow.spec.schema > schemas/dataflow-spec-v1.schema.json
    #   python -m aepflow.spec.schema fields > layers/aepflow/aepflow/spec/view_fields.json
    import json
    import sys

    print(json.dumps(view_fields() if sys.argv[1:] == ["fields"] else json_schema(), indent=2, sort_keys=True))
