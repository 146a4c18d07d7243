"""What the API takes and answers: its pydantic models (each built when a request first needs it, not at
import: a cold start answers one route), and the error shape every refusal has."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from aepflow.spec.fields import NAME_PATTERN, SANDBOX_PATTERN


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
    action: str | None = Field(default=None, description=(
        "What the last provisioning did once ACTIVE: create, update (in place), replace or none"))
    changed: list[str] | None = Field(default=None, description="The fields the last provisioning changed "
                                                                "(resource.field)")
    replacedBecause: list[str] | None = Field(default=None, description=(
        "Why it replaced rather than updated: the fields AEP cannot change in place"))
    rolledBack: list[dict[str, Any]] | None = Field(default=None, description=(
        "Once FAILED: what the roll-back deleted ({kind, id})"))
    leftBehind: list[dict[str, Any]] | None = Field(default=None, description=(
        "Once FAILED: what the roll-back could not delete ({kind, id, reason})"))
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
    warnings: list[str] = Field(default=[], description="What the apply leaves as it is but a person should know "
                                                        "(the spec's rules differ from the mapping version it pins)")


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


class PromoteRequest(_Model):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    source: str = Field(alias="from", pattern=SANDBOX_PATTERN, description="The sandbox the dataflow runs in")
    target: str = Field(alias="to", pattern=SANDBOX_PATTERN, description="The sandbox to promote it to")


class Promotion(_Model):
    name: str = Field(description="The dataflow promoted")
    source: str = Field(alias="from")
    target_sandbox: str = Field(alias="to")
    target: str = Field(description="The promoted dataflow (the source's name for the target sandbox)")
    plan: PlanView = Field(description="What the promotion changes in the target sandbox")
    started: bool = Field(description="Whether a provisioning was started (not for dryRun=true or a plan of none)")
    executionArn: str | None = None
    status: str | None = None


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
    filter: str | None = Field(default=None, min_length=1, max_length=2000, description=(
        "Another row filter at the source (as a spec's source.filter; null removes it): params.filters changes in "
        "place (PATCH /sourceConnections)"))


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
    onFailure: dict[str, Any] | None = Field(default=None, description=(
        "The re-trigger policy of failed runs (aepflow's record only)"))
    resources: dict[str, Any] | None = Field(default=None, description="AEP names and descriptions of the flow and "
                                                                       "its connections (renamed in place)")
    source: SourcePatch | None = None


class Published(_Model):
    name: str
    flowId: str
    published: bool = Field(description="false when AEP held the flow published already (the record caught up)")
    state: str | None = Field(description="The flow's state in AEP now: enabled, or disabled when the spec says so")
    etag: str | None


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
    attempt: int | None = Field(default=None, ge=1, le=5, description=(
        "A run AEP made re-triggering a failed one (the spec's onFailure.retry): which re-run it is, 1 for the first"))
    retryOf: str | None = Field(default=None, description="The failed run whose re-run this is (its chain's first)")


class Runs(_Model):
    name: str
    flowId: str | None
    runs: list[RunSummary]


class RunErrors(_Model):
    name: str
    runId: str
    location: str = Field(description="s3://bucket/dataflows/<name>/runs/<runId>/: every file kept")
    errorCodes: dict[str, int] = Field(description="AEP's error codes with the records each failed")
    samples: list[dict[str, Any]] = Field(description="A few failed records (secrets masked)")
    batches: list[dict[str, Any]] = Field(description="Each batch: {id, status, files, problems}")


class ExploredColumn(_Model):
    name: str = Field(description="The column (a REST source's attribute path)")
    type: str | None = Field(default=None, description="Its type in the source")
    xdmType: str | None = Field(default=None, description="The XDM type explore gives it (date-time, string, ...)")


class ExploredConnection(_Model):
    id: str
    name: str | None = None
    transient: bool = Field(description="true: made for this explore from the credentials secret, then deleted")
    deleted: bool | None = Field(default=None, description="A transient one: whether it was deleted")


class Explored(_Model):
    dataflow: str | None = Field(default=None, description="The managed dataflow explored through, if any")
    connector: str
    sandbox: str
    baseConnection: ExploredConnection
    objectType: str = Field(description="root (the tables), table (a table's columns and rows) or rest (a REST "
                                        "source's preview)")
    tables: list[str] = Field(default=[], description="objectType root: the tables or objects, as table= takes them")
    table: str | None = None
    columns: list[ExploredColumn] = Field(default=[], description="The table's columns, or the REST preview's leaf "
                                                                  "attribute paths")
    rows: list[Any] = Field(default=[], description="A few rows (preview), at most `rows` of the request")
    leftBehind: list[dict[str, Any]] = Field(default=[], description="A transient base connection AEP would not "
                                                                     "delete ({kind, id, reason})")


class GatewayError(_Model):
    """What API Gateway itself answers (IAM authorization, an unknown route), through the
    template's DEFAULT_4XX/5XX gateway responses."""

    code: str = Field(description="API Gateway's response type, e.g. MISSING_AUTHENTICATION_TOKEN, INVALID_SIGNATURE")
    message: str


def error_response(status: int, code: str, message: str, problems: list[dict[str, str]] | None = None,
                   request_id: str | None = None) -> Response:
    body = ErrorBody(code=code, message=message, problems=[Problem(**p) for p in problems or []],
                     requestId=request_id)
    return Response(status_code=status, content_type="application/json",
                    body=body.model_dump_json(exclude_none=True))
