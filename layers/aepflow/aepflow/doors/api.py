"""The REST API (functions/api): Powertools' APIGatewayRestResolver with pydantic validation.
Routes call aepflow.ops; every error is JSON with a stable `code`, never a stack trace
or a secret. The OpenAPI document is generated from this module (openapi_document())."""

import base64
import binascii
import json
import re
from typing import Annotated, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Path, Query
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from aepflow.spec import document
from aepflow.ops import adopt, dataflow_runs, delete, describe, start
from aepflow.ops.apply import patch as apply_patch
from aepflow.ops.plan import read as plan_read
from aepflow.aep.naming import NAME_PATTERN
from aepflow.ops.dataflow_runs import RunRequest
from aepflow.core.errors import AepAuthError, AepflowError, AepNotFound, AepPreconditionFailed, AepServerError, AepThrottled, AepTimeout, AepValidationError, ChangeRefused, DataflowConflict, DataflowNotFound, DataflowPreconditionFailed, DocumentTooLarge, SpecInvalid

logger = Logger(child=True)

API_TITLE = "aepflow"
API_VERSION = "1.0.0"

app = APIGatewayRestResolver(enable_validation=True)


# --- Models -----------------------------------------------------------------------------------

class _Model(BaseModel):
    # defer_build: each model's validator and serializer are built when a request first needs them,
    # not at import: a cold start answers one route, which uses one or two of these models.
    model_config = ConfigDict(defer_build=True)


class Problem(_Model):
    path: str = Field(description="Field path in the spec or the request, e.g. schedule.startTime")
    message: str


class ErrorBody(_Model):
    code: str = Field(description="Stable machine-readable code, e.g. SpecInvalid, DataflowExists, FieldNotChangeable")
    message: str
    problems: list[Problem] = Field(default=[])
    requestId: str | None = None


class Accepted(_Model):
    name: str
    executionArn: str
    status: str = Field(description="PROVISIONING, ACTIVE or FAILED")
    started: bool = Field(description="false when an identical request already started this execution")


class DataflowView(_Model):
    model_config = ConfigDict(extra="allow")
    name: str
    status: str = Field(description="PROVISIONING, ACTIVE or FAILED")
    executionArn: str | None = None
    errors: list[dict[str, Any]] = Field(default=[])
    spec: dict[str, Any] | None = None
    ids: dict[str, Any] = Field(default={})
    updatedAt: str | None = None
    flow: dict[str, Any] | None = Field(default=None, description="The flow's live state from AEP")
    steps: list[dict[str, str]] = Field(default=[], description=(
        "The provisioning's steps so far, in order: {step, status: running|done|failed}"))
    drift: dict[str, Any] | None = Field(default=None, description="What the last drift check found AEP changed "
                                                                   "behind aepflow's back: differences, old -> new, "
                                                                   "who and when; null when AEP matches the record")


class PlanChange(_Model):
    field: str
    old: Any = None
    new: Any = None
    how: str | None = Field(default=None, description="The AEP call that makes the change in place")


class PlannedResource(_Model):
    kind: str = Field(description="baseConnection, sourceConnection, schema, dataset, targetConnection, "
                                  "mappingSet, flow or record (aepflow's own)")
    id: str | None = None
    action: str = Field(description="create, update (in place), replace or none")
    changes: list[PlanChange] = Field(default=[])
    reasons: list[str] = Field(default=[], description="Why AEP cannot change it in place")
    note: str | None = None


class PlanView(_Model):
    name: str
    sandbox: str | None = None
    action: str = Field(description="create, update, replace or none: the biggest action of any resource")
    managed: bool = Field(description="false when aepflow has no record of the name (everything is created)")
    resources: list[PlannedResource]
    calls: int = Field(description="AEP calls the plan made (GETs only)")
    problems: list[Problem] = Field(default=[])


class AdoptRequest(_Model):
    model_config = ConfigDict(extra="forbid")
    flowId: str = Field(pattern=r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
                        description="The AEP flow to bring under management")
    name: str | None = Field(default=None, pattern=NAME_PATTERN, description="The dataflow's name (default: from "
                                                                             "the flow's name)")
    sandbox: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")


class Adopted(_Model):
    name: str
    flowId: str
    status: str
    spec: dict[str, Any] = Field(description="The spec that reproduces the flow (as JSON)")
    yaml: str = Field(description="The same spec as YAML")
    plan: PlanView = Field(description="The spec's plan right after adopting: no change")


class RunStarted(_Model):
    name: str
    flowId: str
    runId: str | None
    etag: str | None = None
    params: dict[str, Any]
    status: str
    links: dict[str, str]


class DataflowSummary(_Model):
    name: str
    status: str | None = None
    connector: str | None = None
    flowId: str | None = None
    updatedAt: str | None = None


class DataflowPage(_Model):
    items: list[DataflowSummary]
    next: str | None = Field(default=None, description="Pass as ?cursor= for the next page")


class SourcePatch(_Model):
    model_config = ConfigDict(extra="allow", json_schema_extra={"additionalProperties": False})
    credentialsSecret: str | None = Field(default=None, min_length=1, max_length=2048,
                                          description="Another source secret: its params reach the base "
                                                      "connection in place (PATCH /connections)")
    params: dict[str, Any] | None = Field(default=None, description="Only params.filters changes in place")


class DataflowPatch(_Model):
    """A JSON Merge Patch (RFC 7386) over the spec's fields that AEP can change in place. Other
    fields, or a change the plan cannot make in place, are refused with a 400 naming them."""

    # Other fields are read (extra="allow") so that ops.apply.patch can name them in a 400
    # FieldNotChangeable; the document says they are not part of the patch.
    model_config = ConfigDict(extra="allow", json_schema_extra={"additionalProperties": False})
    schedule: dict[str, Any] | None = Field(default=None, description="frequency, interval, backfill, startTime; "
                                                                      "a null member removes it")
    description: str | None = Field(default=None, max_length=1000)
    mapping: list[dict[str, Any]] | None = Field(default=None, min_length=1,
                                                 description="The whole new mapping (a new mapping set version)")
    enabled: StrictBool | None = Field(default=None, description="true enables the flow, false disables it")
    options: dict[str, Any] | None = Field(default=None, description="The flow's options (its flow spec's optionSpec)")
    alerts: dict[str, Any] | None = Field(default=None, description="The monitor's thresholds (aepflow's record only)")
    onDrift: str | None = Field(default=None, pattern="^(alert|revert)$",
                                description="What the drift check does: alert, or also revert")
    resources: dict[str, Any] | None = Field(default=None, description="AEP names and descriptions of the flow and "
                                                                       "its connections (renamed in place)")
    source: SourcePatch | None = None


class Updated(_Model):
    model_config = ConfigDict(extra="allow")
    name: str
    status: str
    changed: list[str] = Field(description="The spec's fields that changed")
    aepChanges: list[str] = Field(default=[], description="What changed in AEP, resource.field")
    etag: str | None
    ids: dict[str, Any]
    spec: dict[str, Any]


class Deleted(_Model):
    name: str
    status: str
    deleted: list[dict[str, Any]]
    kept: list[dict[str, Any]]
    leftBehind: list[dict[str, Any]]
    alreadyDeleted: bool = False


class RunSummary(_Model):
    id: str | None
    status: str | None
    startedAt: int | None = None
    completedAt: int | None = None
    recordsRead: int | None = None
    recordsWritten: int | None = None
    recordsFailed: int | None = None
    problem: str | None = Field(default=None, description="failed, partial or stuck, as the monitor classifies it")
    errors: list[dict[str, Any]] = Field(default=[])


class Runs(_Model):
    name: str
    flowId: str | None
    runs: list[RunSummary]


class GatewayError(_Model):
    """What API Gateway itself answers (IAM authorization, an unknown route), through the
    template's DEFAULT_4XX/5XX gateway responses."""

    code: str = Field(description="API Gateway's response type, e.g. MISSING_AUTHENTICATION_TOKEN, INVALID_SIGNATURE")
    message: str


def _error(description: str, schema: str = "ErrorBody") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {
        "$ref": f"#/components/schemas/{schema}"}}}}


def _ok(status: int, description: str, schema: str, *, etag: bool = False) -> dict[int, dict[str, Any]]:
    answer = _error(description, schema)
    if etag:
        answer["headers"] = {"ETag": {"description": "The flow's etag in AEP; send it back in If-Match to PATCH "
                                                     "only what you read", "schema": {"type": "string"}}}
    return {status: answer}


_COMMON_ERRORS = {
    400: _error("Invalid request; every problem by field path (code RequestInvalid, SpecInvalid, FieldNotChangeable, ...)"),
    403: _error("Not signed, badly signed or not allowed (IAM; answered by API Gateway)", "GatewayError"),
    405: _error("The path exists but not with this method (MethodNotAllowed); the Allow header lists the methods"),
    429: _error("AEP or API Gateway throttled the request (Throttled)"),
}
_AEP_ERRORS = {
    502: _error("AEP failed (AepServerError, AepAuthFailed)"),
    504: _error("AEP did not answer in time (AepTimeout)"),
}
_NOT_FOUND = {404: _error("No such dataflow (DataflowNotFound), or its flow is gone from AEP (FlowNotFound)")}
_CONFLICT = {409: _error("Another spec holds the name (DataflowExists), provisioning still runs "
                         "(ProvisioningInProgress), or a concurrent change (ConcurrentUpdate)")}
_BODY_ERRORS = {413: _error("The body is larger than 64 KiB (PayloadTooLarge)"),
                415: _error("The Content-Type is not one the API reads (UnsupportedMediaType)")}

NameParam = Annotated[str, Path(pattern=NAME_PATTERN, description="The dataflow's name (the spec's name)")]


# --- Errors -----------------------------------------------------------------------------------

def error_response(status: int, code: str, message: str, problems: list[dict[str, str]] | None = None,
                   request_id: str | None = None) -> Response:
    body = ErrorBody(code=code, message=message, problems=[Problem(**p) for p in problems or []],
                     requestId=request_id)
    return Response(status_code=status, content_type="application/json",
                    body=body.model_dump_json(exclude_none=True))


def _status_for(exc: AepflowError) -> tuple[int, str]:
    if isinstance(exc, SpecInvalid):
        return 400, exc.code if exc.code in ("RequestInvalid", "NotAdoptable") else "SpecInvalid"
    if isinstance(exc, (DataflowNotFound, DataflowConflict, ChangeRefused, DataflowPreconditionFailed)):
        return exc.status or 400, exc.code or type(exc).__name__
    if isinstance(exc, AepPreconditionFailed):
        return 412, "PreconditionFailed"
    if isinstance(exc, AepThrottled):
        return 429, "Throttled"
    if isinstance(exc, AepNotFound):
        return 404, "AepNotFound"
    if isinstance(exc, AepValidationError):
        return 400, f"AepRefused:{exc.code}" if exc.code else "AepRefused"
    if isinstance(exc, AepAuthError):
        return 502, "AepAuthFailed"
    if isinstance(exc, AepTimeout):
        return 504, "AepTimeout"
    if isinstance(exc, AepServerError):
        return 502, "AepServerError"
    return 400, type(exc).__name__


@app.exception_handler(AepflowError)
def _aepflow_error(exc: AepflowError) -> Response:
    status, code = _status_for(exc)
    if status >= 500:
        logger.warning("AEP error", extra={"error": exc.to_dict()})
    return error_response(status, code, exc.message, exc.problems, exc.request_id)


@app.exception_handler(RequestValidationError)
def _request_invalid(exc: RequestValidationError) -> Response:
    problems = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")]
        problems.append({"path": ".".join(loc) or "(body)", "message": err.get("msg", "invalid")})
    return error_response(400, "RequestInvalid", "the request is not valid", problems)


@app.exception_handler(Exception)
def _unexpected(exc: Exception) -> Response:
    logger.exception("unexpected error")
    return error_response(500, "InternalError", "an internal error occurred; it has been logged",
                          request_id=app.lambda_context.aws_request_id if getattr(app, "lambda_context", None) else None)


@app.not_found
def _not_found(exc: Exception) -> Response:
    """A path the API has, with a method it has not (the template routes every method of its
    paths here): 405 with the methods it has."""
    path, method = app.current_event.path, app.current_event.http_method
    allowed = sorted(m for (m, pattern) in ROUTES if re.fullmatch(pattern, path))
    if not allowed:
        return error_response(404, "RouteNotFound", f"no route {method} {path}")
    answer = error_response(405, "MethodNotAllowed", f"{method} is not a method of {path}",
                            [{"path": "(method)", "message": f"use one of {', '.join(allowed)}"}])
    answer.headers["Allow"] = ", ".join(allowed)
    return answer


# The routes that take a body (read by _read_body before routing); a run's body may be empty.
BODY_ROUTES = (("POST", r"/dataflows"), ("PATCH", r"/dataflows/[^/]+"), ("POST", r"/dataflows:adopt"))
OPTIONAL_BODY_ROUTES = (("POST", r"/dataflows/[^/]+/runs"),)
# The API's own routes (method, path pattern), for the Allow header of a 405.
ROUTES = (("POST", r"/dataflows"), ("GET", r"/dataflows"), ("GET", r"/dataflows/[^/]+"),
          ("PATCH", r"/dataflows/[^/]+"), ("DELETE", r"/dataflows/[^/]+"), ("GET", r"/dataflows/[^/]+/runs"),
          ("POST", r"/dataflows/[^/]+/runs"), ("POST", r"/dataflows:adopt"))


# --- Routes -----------------------------------------------------------------------------------

@app.post("/dataflows", summary="Provision a dataflow from a spec, or plan it (dryRun=true)", tags=["dataflows"],
          operation_id="postDataflow",
          responses={**_ok(202, "Provisioning started (or already started by the same spec)", "Accepted"),
                     **_ok(200, "dryRun=true: the plan, and nothing changed", "PlanView"),
                     **_COMMON_ERRORS, **_CONFLICT, **_BODY_ERRORS, **_AEP_ERRORS})
def post_dataflow(spec: Annotated[dict[str, Any], Body(description="The dataflow spec v1, as JSON or YAML")],
                  dryRun: Annotated[bool, Query(description="true: answer the plan (what would be created, "
                                                                  "updated in place or replaced) and change "
                                                                  "nothing; GETs only")] = False) -> Response[Accepted | PlanView]:
    if dryRun:
        return Response(status_code=200, content_type="application/json", body=PlanView(**plan_read.of(spec)))
    answer = start.start(spec, origin=start.API)
    return Response(status_code=202, content_type="application/json", body=Accepted(**answer),
                    headers={"Location": f"/dataflows/{answer['name']}"})


@app.post("/dataflows:adopt", summary="Bring an existing AEP flow under management", tags=["dataflows"],
          operation_id="adoptDataflow",
          responses={**_ok(201, "Adopted: the spec that reproduces the flow, and its plan (no change)", "Adopted"),
                     **_COMMON_ERRORS, 404: _error("No such flow in the sandbox (FlowNotFound)"),
                     409: _error("The flow is managed already (AlreadyManaged), or the name is taken (DataflowExists)"),
                     **_BODY_ERRORS, **_AEP_ERRORS})
def adopt_dataflow(request: Annotated[AdoptRequest, Body(description="{flowId, name?, sandbox?}")]) -> Response[Adopted]:
    answer = adopt.adopt(request.flowId, name=request.name, sandbox=request.sandbox)
    return Response(status_code=201, content_type="application/json", body=Adopted(**answer),
                    headers={"Location": f"/dataflows/{answer['name']}"})


@app.get("/dataflows", summary="List dataflows (paged)", tags=["dataflows"], operation_id="listDataflows",
         responses={**_ok(200, "One page of dataflows, in name order", "DataflowPage"), **_COMMON_ERRORS})
def list_dataflows(limit: Annotated[int, Query(ge=1, le=100)] = 50,
                   cursor: Annotated[str | None, Query(pattern=NAME_PATTERN)] = None) -> DataflowPage:
    return DataflowPage(**describe.list_dataflows(limit=limit, cursor=cursor))


@app.get("/dataflows/<name>", summary="A dataflow: record, provisioning status, live flow state", tags=["dataflows"],
         operation_id="getDataflow",
         responses={**_ok(200, "The dataflow", "DataflowView", etag=True), **_COMMON_ERRORS, **_NOT_FOUND,
                    **_AEP_ERRORS})
def get_dataflow(name: NameParam) -> Response[DataflowView]:
    view = DataflowView(**describe.describe(name))
    return Response(status_code=200, content_type="application/json", body=view, headers=_etag(view.flow))


@app.patch("/dataflows/<name>", summary="Change schedule, description, mapping or enabled (JSON Merge Patch)",
           tags=["dataflows"], operation_id="patchDataflow",
           responses={**_ok(200, "What changed, and the new etag", "Updated", etag=True), **_COMMON_ERRORS,
                      **_NOT_FOUND, **_CONFLICT, **_BODY_ERRORS,
                      412: _error("If-Match no longer matches the dataflow, or the flow changed in AEP again while "
                                  "being updated (PreconditionFailed)"), **_AEP_ERRORS})
def patch_dataflow(name: NameParam, patch: Annotated[DataflowPatch, Body(
        description="RFC 7386 JSON Merge Patch (application/merge-patch+json)")],
        if_match: Annotated[str | None, Header(
            alias="If-Match", description="The ETag of GET /dataflows/{name}: change the dataflow only if it is "
                                          "still what you read")] = None) -> Response[Updated]:
    updated = Updated(**apply_patch.patch(name, patch.model_dump(exclude_unset=True), if_match=if_match))
    return Response(status_code=200, content_type="application/json", body=updated,
                    headers=_etag({"etag": updated.etag}))


@app.delete("/dataflows/<name>", summary="Delete the flow and what aepflow created for it", tags=["dataflows"],
            operation_id="deleteDataflow",
            responses={**_ok(200, "What was deleted, kept (the dataset and schema, unless deleteData) and left "
                                  "behind; alreadyDeleted on a second DELETE",
                             "Deleted"), **_COMMON_ERRORS, **_NOT_FOUND, **_CONFLICT, **_AEP_ERRORS})
def delete_dataflow(name: NameParam, deleteData: Annotated[bool, Query(description=(
        "true: delete the dataset and schema aepflow created too, with everything ingested into them (by "
        "default they are kept, unless the spec's onDelete says delete)"))] = False) -> Deleted:
    return Deleted(**delete.delete(name, delete_data=deleteData))


@app.get("/dataflows/<name>/runs", summary="Recent runs, summarised as the monitor sees them", tags=["dataflows"],
         operation_id="getRuns",
         responses={**_ok(200, "The flow's most recent runs", "Runs"), **_COMMON_ERRORS, **_NOT_FOUND,
                    **_AEP_ERRORS})
def get_runs(name: NameParam, limit: Annotated[int, Query(ge=1, le=100)] = 20) -> Runs:
    return Runs(**dataflow_runs.recent(name, limit=limit))


@app.post("/dataflows/<name>/runs", summary="Start a run on demand (Flow Service POST /runs), optionally over a window",
          tags=["dataflows"], operation_id="startRun",
          responses={**_ok(202, "The run was created; GET .../runs and the run monitor follow it", "RunStarted"),
                     **_COMMON_ERRORS, **_NOT_FOUND,
                     409: _error("The dataflow is not scheduled for one-time ingestion (NotOneTime), which AEP "
                                 "needs for a run on demand, or it is still provisioning (ProvisioningInProgress)"),
                     **_BODY_ERRORS, **_AEP_ERRORS})
def start_run(name: NameParam, window: Annotated[RunRequest | None, Body(
        description="Optional: {windowStartTime, windowEndTime} (both or neither) and startTime")] = None
              ) -> Response[RunStarted]:
    started = dataflow_runs.start(name, window.model_dump(exclude_none=True) if window else None)
    return Response(status_code=202, content_type="application/json", body=RunStarted(**started),
                    headers={"Location": started["links"]["runs"]})


def _etag(flow: dict[str, Any] | None) -> dict[str, str]:
    etag = (flow or {}).get("etag")
    return {"ETag": etag} if isinstance(etag, str) and etag else {}


# --- Entry point --------------------------------------------------------------------------------

# Media types a body may come in. curl --data-binary sends form encoding by default, so a
# form-encoded body is read as the raw document it is; anything else is a 415.
BODY_MEDIA_TYPES = ("application/json", "application/merge-patch+json", "application/yaml", "application/x-yaml",
                    "text/yaml", "text/x-yaml", "application/x-www-form-urlencoded")
_JSON_MEDIA_TYPES = ("application/json", "application/merge-patch+json")


def _header(event: dict[str, Any], name: str) -> str | None:
    for key, value in (event.get("headers") or {}).items():
        if key.lower() == name:
            return value
    return None


def _read_body(event: dict[str, Any]) -> dict[str, Any]:
    """Read a POST or PATCH body through the one way in for documents (aepflow.document) before
    the resolver sees it: 415 for a media type the API does not take, 413 when too large, 400
    for an empty, non-UTF-8, malformed or non-object body. What was read goes on as JSON."""
    method, path = event.get("httpMethod"), event.get("path") or ""
    optional = any(m == method and re.fullmatch(pattern, path) for m, pattern in OPTIONAL_BODY_ROUTES)
    if not optional and not any(m == method and re.fullmatch(pattern, path) for m, pattern in BODY_ROUTES):
        return event
    if optional and not event.get("body"):
        return event
    media = (_header(event, "content-type") or "").split(";", 1)[0].strip().lower()
    if media and media not in BODY_MEDIA_TYPES:
        raise _BodyRefused(error_response(415, "UnsupportedMediaType", f"Content-Type {media!r} is not accepted",
                                          [{"path": "(header) Content-Type",
                                            "message": f"use one of {', '.join(BODY_MEDIA_TYPES)}"}]))
    body: Any = event.get("body")
    code = "RequestInvalid"  # the body could not be read as a document; SpecInvalid is for what it says
    if event.get("isBase64Encoded") and body:
        try:
            body = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise _BodyRefused(error_response(400, code, "the body is not valid base64",
                                              [{"path": "(body)", "message": "not valid base64"}])) from None
    if not body:
        raise _BodyRefused(error_response(400, code, "the request has no body",
                                          [{"path": "(body)", "message": "the body is empty; send a JSON or YAML object"}]))
    try:
        tree = document.read(body, json_only=media in _JSON_MEDIA_TYPES)
    except SpecInvalid as exc:
        problems = [{**p, "path": "(body)" if p["path"] == document.DOCUMENT else p["path"]} for p in exc.problems]
        if isinstance(exc, DocumentTooLarge):
            raise _BodyRefused(error_response(413, "PayloadTooLarge", exc.message, problems)) from None
        raise _BodyRefused(error_response(400, code, exc.message, problems)) from None
    headers = {k: v for k, v in (event.get("headers") or {}).items() if k.lower() != "content-type"}
    headers["Content-Type"] = "application/json"
    multi = {k: v for k, v in (event.get("multiValueHeaders") or {}).items() if k.lower() != "content-type"}
    multi["Content-Type"] = ["application/json"]
    return {**event, "body": json.dumps(tree), "isBase64Encoded": False, "headers": headers,
            "multiValueHeaders": multi}


class _BodyRefused(Exception):
    """A body refused before routing; carries the answer, in the error shape of every route."""

    def __init__(self, response: Response):
        super().__init__(response.status_code)
        self.response = response

    def proxy_result(self) -> dict[str, Any]:
        return {"statusCode": self.response.status_code, "body": self.response.body, "isBase64Encoded": False,
                "multiValueHeaders": {"Content-Type": ["application/json"]}}


def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        event = _read_body(event)
    except _BodyRefused as refused:
        return refused.proxy_result()
    return app.resolve(event, context)


SPEC_MEDIA_TYPES = ("application/json", "application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")
PATCH_MEDIA_TYPES = ("application/merge-patch+json", "application/json", "application/yaml")
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
                 PlanView)
    for path, operations in doc.get("paths", {}).items():
        for method, operation in operations.items():
            # Validation errors are answered as 400 ErrorBody (see _request_invalid), not Powertools' 422.
            operation.get("responses", {}).pop("422", None)
            operation["security"] = [{"sigv4": []}]
            body = operation.get("requestBody")
            if body is not None:
                model, media = {"patch": ("DataflowPatch", PATCH_MEDIA_TYPES)}.get(method) or {
                    "/dataflows:adopt": ("AdoptRequest", ("application/json",)),
                    "/dataflows/{name}/runs": ("RunRequest", ("application/json",))}.get(
                    path, ("DataflowSpec", SPEC_MEDIA_TYPES))
                body["content"] = {m: {"schema": {"$ref": f"#/components/schemas/{model}"}} for m in media}
        if "post" in operations and path == "/dataflows":
            operations["post"]["responses"]["202"]["links"] = _LINKS
            operations["post"]["responses"]["202"]["headers"] = {
                "Location": {"description": "The dataflow's path", "schema": {"type": "string"}}}
    doc["components"]["securitySchemes"] = {"sigv4": {
        "type": "apiKey", "name": "Authorization", "in": "header", "x-amazon-apigateway-authtype": "awsSigv4",
        "description": "AWS Signature Version 4 for service execute-api (any AWS SDK, aws-sigv4 of curl)"}}
    return doc


if __name__ == "__main__":  # regenerate the committed document: python -m aepflow.doors.api > functions/api/openapi.json
    print(json.dumps(openapi_document(), indent=2, sort_keys=True))
