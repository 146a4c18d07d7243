"""The API's routes on Powertools' APIGatewayRestResolver (with its pydantic validation), what each answers
and refuses, and the handlers that turn every error into the one JSON shape with a stable `code`,
never a stack trace or a secret. Each route calls one operation of aepflow.ops."""

from __future__ import annotations

import re
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Path, Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

from aepflow.core.errors import (
    AepAuthError,
    AepflowError,
    AepNotFound,
    AepPreconditionFailed,
    AepServerError,
    AepThrottled,
    AepTimeout,
    AepValidationError,
    ChangeRefused,
    DataflowConflict,
    DataflowNotFound,
    DataflowPreconditionFailed,
    SpecInvalid,
)
from aepflow.core.observability import logger
from aepflow.doors.api.models import (
    Accepted,
    Adopted,
    AdoptRequest,
    DataflowPage,
    DataflowPatch,
    DataflowView,
    Deleted,
    Explored,
    PlanView,
    PromoteRequest,
    Promotion,
    Published,
    RunErrors,
    Runs,
    RunStarted,
    Updated,
    error_response,
)
from aepflow.ops import adopt, dataflow_runs, delete, describe, drafts, explore, promote, run_errors, start
from aepflow.ops.apply import patch as apply_patch
from aepflow.ops.dataflow_runs import RunRequest
from aepflow.ops.explore import ExploreRequest
from aepflow.ops.plan import read as plan_read
from aepflow.spec.fields import NAME_PATTERN

app = APIGatewayRestResolver(enable_validation=True)


def _error(description: str, schema: str = "ErrorBody") -> OpenAPIResponse:
    return {"description": description, "content": {"application/json": {"schema": {
        "$ref": f"#/components/schemas/{schema}"}}}}


def _ok(status: int, description: str, schema: str, *, etag: bool = False) -> dict[int, OpenAPIResponse]:
    answer = _error(description, schema)
    if etag:
        answer["headers"] = {"ETag": {"description": "The flow's etag in AEP; send it back in If-Match to PATCH "
                                                     "only what you read", "schema": {"type": "string"}}}
    return {status: answer}


_COMMON_ERRORS: dict[int, OpenAPIResponse] = {
    400: _error("Invalid request; every problem by field path "
                "(code RequestInvalid, SpecInvalid, FieldNotChangeable, ...)"),
    403: _error("Not signed, badly signed or not allowed (IAM; answered by API Gateway)", "GatewayError"),
    405: _error("The path exists but not with this method (MethodNotAllowed); the Allow header lists the methods"),
    429: _error("AEP or API Gateway throttled the request (Throttled)"),
}
_AEP_ERRORS: dict[int, OpenAPIResponse] = {
    502: _error("AEP failed (AepServerError, AepAuthFailed)"),
    504: _error("AEP did not answer in time (AepTimeout)"),
}
_NOT_FOUND: dict[int, OpenAPIResponse] = {
    404: _error("No such dataflow (DataflowNotFound), or its flow is gone from AEP (FlowNotFound)")}
_CONFLICT: dict[int, OpenAPIResponse] = {409: _error(
    "Another spec holds the name (DataflowExists), provisioning still runs (ProvisioningInProgress), or a "
    "concurrent change (ConcurrentUpdate)")}
_BODY_ERRORS: dict[int, OpenAPIResponse] = {
    413: _error("The body is larger than 64 KiB (PayloadTooLarge)"),
    415: _error("The Content-Type is not one the API reads (UnsupportedMediaType)")}

NameParam = Annotated[str, Path(pattern=NAME_PATTERN, description="The dataflow's name (the spec's name)")]


# --- Errors -----------------------------------------------------------------------------------


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
        logger.warning("AEP error", extra={"error": exc.to_dict(), "dataflow": _dataflow_named()})
    return error_response(status, code, exc.message, exc.problems, exc.request_id)


def _dataflow_named() -> str | None:
    """The dataflow the request's path names (/dataflows/{name}...), for a log line about it."""
    event = getattr(app, "current_event", None)
    name = ((event.path_parameters if event is not None else None) or {}).get("name")
    return name if isinstance(name, str) else None


@app.exception_handler(RequestValidationError)
def _request_invalid(exc: RequestValidationError) -> Response:
    problems = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")]
        # A field validator's own message, without pydantic's "Value error, " in front (a filter that does not
        # compile says where and why, as the spec says it).
        message = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        problems.append({"path": ".".join(loc) or "(body)", "message": message})
    return error_response(400, "RequestInvalid", "the request is not valid", problems)


@app.exception_handler(RequestUnsupportedContentType)
def _unsupported_media(exc: RequestUnsupportedContentType) -> Response:
    """A body in a media type the route's model is not read from (YAML where a route reads JSON only)."""
    return error_response(415, "UnsupportedMediaType", "this route reads a JSON body (Content-Type: "
                                                       "application/json)")


@app.exception_handler(Exception)
def _unexpected(exc: Exception) -> Response:
    logger.exception("unexpected error", extra={"dataflow": _dataflow_named()})
    return error_response(500, "InternalError", "an internal error occurred; it has been logged",
                          request_id=(app.lambda_context.aws_request_id
                                      if getattr(app, "lambda_context", None) else None))


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
BODY_ROUTES = (("POST", r"/dataflows"), ("PATCH", r"/dataflows/[^/]+"), ("POST", r"/dataflows:adopt"),
               ("POST", r"/dataflows/[^/]+/promote"), ("POST", r"/explore"))
OPTIONAL_BODY_ROUTES = (("POST", r"/dataflows/[^/]+/runs"),)
# The API's own routes (method, path pattern), for the Allow header of a 405.
ROUTES = (("POST", r"/dataflows"), ("GET", r"/dataflows"), ("GET", r"/dataflows/[^/]+"),
          ("PATCH", r"/dataflows/[^/]+"), ("DELETE", r"/dataflows/[^/]+"), ("GET", r"/dataflows/[^/]+/runs"),
          ("POST", r"/dataflows/[^/]+/runs"), ("GET", r"/dataflows/[^/]+/runs/[^/]+/errors"),
          ("POST", r"/dataflows/[^/]+/publish"), ("POST", r"/dataflows/[^/]+/promote"),
          ("POST", r"/dataflows:adopt"), ("POST", r"/explore"))


# --- Routes -----------------------------------------------------------------------------------

@app.post("/dataflows", summary="Provision a dataflow from a spec, or plan it (dryRun=true)", tags=["dataflows"],
          operation_id="postDataflow",
          responses={**_ok(202, "Provisioning started (or already started by the same spec)", "Accepted"),
                     **_ok(200, "dryRun=true: the plan, and nothing changed", "PlanView"),
                     **_COMMON_ERRORS, **_CONFLICT, **_BODY_ERRORS, **_AEP_ERRORS})
def post_dataflow(spec: Annotated[dict[str, Any], Body(description="The dataflow spec v1, as JSON or YAML")],
                  dryRun: Annotated[bool, Query(description="true: answer the plan (what would be created, "
                                                                  "updated in place or replaced) and change "
                                                                  "nothing; GETs only")] = False,
                  draft: Annotated[bool, Query(description=(
                      "true: make the flow an AEP draft (POST /flows?mode=draft), which makes no run and is not "
                      "watched until POST /dataflows/{name}/publish; refused (DraftNotSupported) where the flow "
                      "spec does not allow drafts, and (AlreadyPublished) for a dataflow published already"))] = False,
                  ) -> Response[Accepted | PlanView]:
    if dryRun:
        return Response(status_code=200, content_type="application/json", body=PlanView(**plan_read.of(spec)))
    answer = start.start(spec, origin=start.API, draft=True) if draft else start.start(spec, origin=start.API)
    return Response(status_code=202, content_type="application/json", body=Accepted(**answer),
                    headers={"Location": f"/dataflows/{answer['name']}"})


@app.post("/dataflows:adopt", summary="Bring an existing AEP flow under management", tags=["dataflows"],
          operation_id="adoptDataflow",
          responses={**_ok(201, "Adopted: the spec that reproduces the flow, and its plan (no change)", "Adopted"),
                     **_COMMON_ERRORS, 404: _error("No such flow in the sandbox (FlowNotFound)"),
                     409: _error("The flow is managed already (AlreadyManaged), or the name is taken (DataflowExists)"),
                     **_BODY_ERRORS, **_AEP_ERRORS})
def adopt_dataflow(request: Annotated[AdoptRequest, Body(description="{flowId, name?, sandbox?}")],
                   ) -> Response[Adopted]:
    answer = adopt.adopt(request.flowId, name=request.name, sandbox=request.sandbox)
    return Response(status_code=201, content_type="application/json", body=Adopted(**answer),
                    headers={"Location": f"/dataflows/{answer['name']}"})


@app.post("/dataflows/<name>/promote", summary="Promote a dataflow to another sandbox, or plan it (dryRun=true)",
          tags=["dataflows"], operation_id="promoteDataflow",
          responses={**_ok(202, "Provisioning in the target sandbox started", "Promotion"),
                     **_ok(200, "dryRun=true, or nothing to change: the plan, and nothing changed", "Promotion"),
                     **_COMMON_ERRORS, 404: _error("No such dataflow (DataflowNotFound)"),
                     409: _error("The target sandbox holds a flow of that name aepflow does not manage "
                                 "(UnmanagedTarget), or a provisioning of it is under way"),
                     **_BODY_ERRORS, **_AEP_ERRORS})
def promote_dataflow(name: NameParam, request: Annotated[PromoteRequest, Body(description="{from, to}")],
                     dryRun: Annotated[bool, Query(description="true: answer the plan and change nothing")] = False,
                     ) -> Response[Promotion]:
    answer = promote.promote(name, request.source, request.target, dry_run=dryRun)
    return Response(status_code=202 if answer["started"] or answer.get("executionArn") else 200,
                    content_type="application/json", body=Promotion(**answer))


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


@app.get("/dataflows/<name>/runs/<runId>/errors", summary="A failed run's records, as the monitor kept them",
         tags=["dataflows"], operation_id="getRunErrors",
         responses={**_ok(200, "Error codes with counts, a few failed records, and where the files are", "RunErrors"),
                    **_COMMON_ERRORS,
                    404: _error("No such dataflow (DataflowNotFound), or no failed records kept for the run "
                                "(FailedRecordsNotKept)")})
def get_run_errors(name: NameParam, runId: Annotated[str, Path(pattern=run_errors.RUN_ID_PATTERN,
                                                               description="The run's id (aepflow runs NAME)")]
                   ) -> RunErrors:
    return RunErrors(**run_errors.errors(name, runId))


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


@app.post("/dataflows/<name>/publish", summary="Publish a draft dataflow (Flow Service op=publish)",
          tags=["dataflows"], operation_id="publishDataflow",
          responses={**_ok(200, "Published: the flow runs on its schedule; the monitor watches it from its next "
                                "registry sync", "Published"),
                     **_COMMON_ERRORS, **_NOT_FOUND,
                     409: _error("The dataflow is not a draft (NotADraft), or it is still provisioning "
                                 "(ProvisioningInProgress), or a concurrent change (ConcurrentUpdate)"),
                     **_AEP_ERRORS})
def publish_dataflow(name: NameParam) -> Published:
    return Published(**drafts.publish(name))


@app.post("/explore", summary="What a source holds: its tables, a table's columns and rows, a REST preview",
          tags=["sources"], operation_id="explore",
          responses={**_ok(200, "What Flow Service's explore sees (a transient base connection, if one was made, is "
                                "deleted before the answer)", "Explored"),
                     **_COMMON_ERRORS,
                     404: _error("No such dataflow (DataflowNotFound), or no such table (TableNotFound: the known "
                                 "tables listed, the closest first)"),
                     409: _error("The dataflow has no base connection yet (ProvisioningInProgress)"),
                     **_BODY_ERRORS, **_AEP_ERRORS})
def explore_source(request: Annotated[ExploreRequest, Body(description=(
        "{dataflow} or {connector, credentialsSecret, authSpec?, sandbox?, params?}, then table? and rows?"))],
                   ) -> Explored:
    # POST, not GET: exploring a connector through a secret makes (and deletes) a base connection.
    return Explored(**explore.explore(request))


def _etag(flow: dict[str, Any] | None) -> dict[str, str]:
    etag = (flow or {}).get("etag")
    return {"ETag": etag} if isinstance(etag, str) and etag else {}
