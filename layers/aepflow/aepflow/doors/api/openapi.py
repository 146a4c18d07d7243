"""The API's OpenAPI document, generated from its routes and models (committed as
functions/api/openapi.json; a test fails when it is stale). Regenerate it with
`PYTHONPATH=layers/aepflow python -m aepflow.doors.api.openapi > functions/api/openapi.json`."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from aepflow.doors.api.models import Accepted, AdoptRequest, DataflowPatch, ErrorBody, GatewayError, PlanView, Problem
from aepflow.doors.api.routes import app
from aepflow.ops.dataflow_runs import RunRequest
from aepflow.ops.explore import ExploreRequest

API_TITLE = "aepflow"
API_VERSION = "1.0.0"


SPEC_MEDIA_TYPES = ("application/json", "application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")
PATCH_MEDIA_TYPES = ("application/merge-patch+json", "application/json", "application/yaml")
# The model and media types of a request body: by method, else by path, else a spec's.
_BODY_BY_METHOD: dict[str, tuple[str, tuple[str, ...]]] = {"patch": ("DataflowPatch", PATCH_MEDIA_TYPES)}
_BODY_BY_PATH: dict[str, tuple[str, tuple[str, ...]]] = {
    "/dataflows:adopt": ("AdoptRequest", ("application/json",)),
    "/dataflows/{name}/promote": ("PromoteRequest", ("application/json",)),
    "/dataflows/{name}/runs": ("RunRequest", ("application/json",)),
    "/explore": ("ExploreRequest", ("application/json", "application/yaml"))}
_BY_NAME = {"name": "$response.body#/name"}
_LINKS = {"GetDataflow": {"operationId": "getDataflow", "parameters": _BY_NAME},
          "PatchDataflow": {"operationId": "patchDataflow", "parameters": _BY_NAME},
          "GetRuns": {"operationId": "getRuns", "parameters": _BY_NAME},
          "StartRun": {"operationId": "startRun", "parameters": _BY_NAME},
          "DeleteDataflow": {"operationId": "deleteDataflow", "parameters": _BY_NAME}}


def _add_schemas(doc: dict[str, Any], *models: type[BaseModel]) -> None:
    schemas = doc["components"]["schemas"]
    for model in models:
        schema = model.model_json_schema(by_alias=True, ref_template="#/components/schemas/{model}")
        for name, sub in schema.pop("$defs", {}).items():
            schemas.setdefault(name, sub)
        schemas[model.__name__] = schema


def openapi_document() -> dict[str, Any]:
    from aepflow.spec.model import DataflowSpec

    doc = json.loads(app.get_openapi_json_schema(
        title=API_TITLE, version=API_VERSION,
        description="Provision, change and delete AEP source dataflows from aepflow specs. Every call is signed "
                    "with AWS Signature Version 4 for execute-api (IAM authorization). Bodies may be JSON or YAML, "
                    "at most 64 KiB; a body sent as application/x-www-form-urlencoded (what curl --data-binary "
                    "sends) is read as the raw JSON or YAML document it is."))
    doc.setdefault("components", {}).setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError", "ResponseValidationError"):
        doc["components"]["schemas"].pop(unused, None)
    _add_schemas(doc, ErrorBody, GatewayError, Accepted, Problem, DataflowPatch, DataflowSpec, AdoptRequest, RunRequest,
                 PlanView, ExploreRequest)
    for path, operations in doc.get("paths", {}).items():
        for method, operation in operations.items():
            # Validation errors are answered as 400 ErrorBody (see _request_invalid), not Powertools' 422.
            operation.get("responses", {}).pop("422", None)
            operation["security"] = [{"sigv4": []}]
            body = operation.get("requestBody")
            if body is not None:
                model, media = (_BODY_BY_METHOD.get(method)
                                or _BODY_BY_PATH.get(path, ("DataflowSpec", SPEC_MEDIA_TYPES)))
                body["content"] = {m: {"schema": {"$ref": f"#/components/schemas/{model}"}} for m in media}
        if "post" in operations and path == "/dataflows":
            operations["post"]["responses"]["202"]["links"] = _LINKS
            operations["post"]["responses"]["202"]["headers"] = {
                "Location": {"description": "The dataflow's path", "schema": {"type": "string"}}}
    doc["components"]["securitySchemes"] = {"sigv4": {
        "type": "apiKey", "name": "Authorization", "in": "header", "x-amazon-apigateway-authtype": "awsSigv4",
        "description": "AWS Signature Version 4 for service execute-api (any AWS SDK, aws-sigv4 of curl)"}}
    return doc


if __name__ == "__main__":
    print(json.dumps(openapi_document(), indent=2, sort_keys=True))
