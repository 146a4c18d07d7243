"""The provisioning steps. Each Lambda of the state machine calls exactly one function
here with the execution state; each returns the small piece of state it adds.

Idempotency: the step "look up what already exists" finds, in one round of concurrent
GETs, every resource this spec would create (deterministic names, see naming.py). A
create step then POSTs only what was absent. When a POST's answer is lost (5xx, timeout)
or the step is retried by Step Functions, the step looks the resource up by name before
it POSTs again, so nothing is created twice and the happy path makes no extra call."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import jsonschema
from aws_lambda_powertools import Logger
from pydantic import BaseModel, Field

from . import auth_specs
from . import journal as journal_mod
from . import document, naming, resources, runtime, scrub, source_secrets
from .client import AepClient
from .connectors import DATA_LAKE_CONNECTION_SPEC_ID, AuthSpec, auth_specs_of
from .errors import (TRANSIENT_ERRORS, AepflowError, AepNotFound, AepValidationError, FlowSpecMismatch,
                     SourceMismatch, SpecInvalid)
from .mapping import flatten_properties, mapping_set_body
from .spec import DataflowSpec, ResolvedSource, parse_spec, resolve_source

logger = Logger(child=True)

ID_KEYS = ("baseConnectionId", "sourceConnectionId", "schemaId", "datasetId", "targetConnectionId",
           "mappingId", "flowId", "flowEtag")
# How many times a create is attempted inside one step when AEP's answer is ambiguous.
CREATE_ATTEMPTS = 3


class StepEvent(BaseModel):
    """What every step Lambda receives from the state machine."""

    state: dict[str, Any]
    execution: str = "local"
    retryCount: int = 0


class Context:
    def __init__(self, event: StepEvent, client: AepClient | None = None):
        self.event = event
        self.spec = DataflowSpec.model_validate(event.state["spec"])
        self.resolved = ResolvedSource.model_validate(event.state["resolved"])
        self.client = client or runtime.aep_client(self.spec.sandbox)
        self.ids: dict[str, Any] = dict(event.state.get("ids") or {})
        self._journal: journal_mod.Journal | None = None

    @property
    def journal(self) -> journal_mod.Journal:
        if self._journal is None:
            self._journal = journal_mod.Journal(self.event.execution, self.client.sandbox)
        return self._journal

    def ensure(self, kind: str, name: str, create: Callable[[], str],
               find: Callable[[], str | None] | None = None) -> str:
        """Create a resource at most once (see the module docstring)."""
        find = find or (lambda: resources.find_id_by_name(self.client, kind, name))
        if self.event.retryCount > 0:
            found = find()
            if found:
                self.journal.created(self.journal.intend(kind, name), found)
                return found
        sort_key = self.journal.intend(kind, name)
        last: Exception | None = None
        for attempt in range(CREATE_ATTEMPTS):
            if attempt:
                found = find()
                if found:
                    self.journal.created(sort_key, found)
                    return found
            try:
                resource_id = create()
            except TRANSIENT_ERRORS as exc:
                logger.warning("create answer lost, looking it up", extra={"kind": kind, "error": type(exc).__name__})
                last = exc
                continue
            self.journal.created(sort_key, resource_id)
            return resource_id
        assert last is not None
        raise last


def step(name: str):
    """Tag every aepflow error with the step it came from (shown in FAILED results)."""
    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except AepflowError as exc:
                exc.step = exc.step or name
                raise
        return wrapper
    return decorate


# --- Validate ---------------------------------------------------------------------------------

def _read_secret(name: str) -> tuple[dict[str, Any] | None, list[dict[str, str]]]:
    """The source secret's JSON object (through the credentials boundary), or the problem."""
    try:
        return source_secrets.read(name), []
    except source_secrets.SecretUnreadable as exc:
        return None, [{"path": "source.credentialsSecret", "message": str(exc)}]


def choose_auth(spec: DataflowSpec, specs: tuple[AuthSpec, ...], label: str,
                secret: dict[str, Any]) -> tuple[auth_specs.Choice, list[dict[str, str]], list[dict[str, str]]]:
    """(the choice, problems, warnings) for the spec's credentials secret against `specs`: the auth
    spec `authSpecName` names, else the first one the secret's keys satisfy."""
    choice = auth_specs.choose(specs, secret, spec.source.authSpecName, label)
    name = spec.source.credentialsSecret
    problems = [{"path": "source.authSpecName" if p.startswith("authSpecName") else "source.credentialsSecret",
                 "message": p if p.startswith("authSpecName") else f"secret {name!r} {p}"} for p in choice.problems]
    warnings = [{"path": "source.credentialsSecret",
                 "message": f"secret {name!r} keys {', '.join(choice.unsent)} are not params of "
                            f"{choice.spec.name!r} and are not sent"}] if choice.unsent and choice.spec else []
    return choice, problems, warnings


def _secret_problems(spec: DataflowSpec, resolved: ResolvedSource) -> list[dict[str, str]]:
    """Check the credentials secret against the catalog's auth specs; records the chosen auth spec
    and the params to send in `resolved`. A connection spec the catalog does not know is checked
    against its live document when provisioning starts (resolve_flow_spec)."""
    secret_name = spec.source.credentialsSecret
    if not secret_name:
        return []
    if spec.source.baseConnectionId:  # (the credentials boundary is parse_spec's)
        return []
    secret, problems = _read_secret(secret_name)
    if problems or secret is None:
        return problems
    connector = spec.connector
    if connector is None:
        return []
    choice, problems, warnings = choose_auth(spec, connector.auth_specs, connector.label, secret)
    if choice.spec is not None and not problems:
        resolved.authSpecName = choice.spec.name
        resolved.authParams = list(choice.params(secret))
        resolved.warnings.extend(warnings)
    return problems


@step("validate-spec")
def validate_spec(raw: Any) -> dict[str, Any]:
    spec = parse_spec(document.read(raw))
    resolved = resolve_source(spec)
    problems = _secret_problems(spec, resolved)
    if problems:
        raise SpecInvalid(f"the dataflow spec has {len(problems)} problem(s)", problems=problems)
    return {"spec": spec.model_dump(mode="json", by_alias=True, exclude_none=True),
            "resolved": resolved.model_dump(mode="json")}


# --- Look up ----------------------------------------------------------------------------------

@step("find-existing")
def find_existing(ctx: Context) -> dict[str, Any]:
    spec, client = ctx.spec, ctx.client
    client.tokens.token()  # one IMS request at most, before the lookups fan out

    def base_connection() -> str | None:
        if spec.source.baseConnectionId:
            found = resources.get_flow_service(client, "baseConnection", spec.source.baseConnectionId)
            spec_id = (found.get("connectionSpec") or {}).get("id")
            if spec_id and spec_id != ctx.resolved.connectionSpecId:
                raise AepValidationError(
                    f"base connection {spec.source.baseConnectionId} is a {spec_id} connection, "
                    f"not {ctx.resolved.label} ({ctx.resolved.connectionSpecId})", status=400)
            return spec.source.baseConnectionId
        item = resources.find_flow_service(client, "baseConnection", naming.base_connection(spec))
        return item["id"] if item else None

    def schema() -> str | None:
        if spec.target.schema_.id:
            found = resources.get_schema(client, spec.target.schema_.id)
            create = spec.target.dataset.create
            if create and create.profileEnabled and "union" not in (found.get("meta:immutableTags") or []):
                # help/catalog/datasets/enable-for-profile.md: a Profile-enabled dataset needs a
                # schema enabled for Profile; aepflow does not change a schema it did not create.
                raise AepValidationError(
                    f"schema {spec.target.schema_.id} is not enabled for Profile (its meta:immutableTags has no "
                    "'union'), so AEP refuses a Profile-enabled dataset on it", status=400, problems=[
                        {"path": "target.dataset.create.profileEnabled",
                         "message": "the target schema is not enabled for Profile"}])
            return found.get("$id") or spec.target.schema_.id
        item = resources.find_schema(client, naming.schema_title(spec))
        return item.get("$id") if item else None

    def dataset() -> str | None:
        if spec.target.dataset.id:
            resources.get_dataset(client, spec.target.dataset.id)  # AEP's 404 if it does not exist
            return spec.target.dataset.id
        return resources.find_dataset(client, naming.dataset(spec))

    def by_name(kind: str, name: str) -> Callable[[], dict | None]:
        return lambda: resources.find_flow_service(client, kind, name)

    jobs: dict[str, Callable[[], Any]] = {
        "baseConnectionId": base_connection,
        "sourceConnection": by_name("sourceConnection", naming.source_connection(spec)),
        "schemaId": schema,
        "datasetId": dataset,
        "targetConnection": by_name("targetConnection", naming.target_connection(spec)),
        "mappingSet": lambda: resources.find_mapping_set(client, naming.mapping_set(spec)),
        "flow": by_name("flow", naming.dataflow(spec)),
    }
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        futures = {key: pool.submit(job) for key, job in jobs.items()}
        results = {key: future.result() for key, future in futures.items()}
    if spec.source.baseConnectionId and ctx.resolved.inCatalog and not results["sourceConnection"]:
        # The account exists already: check the mapping against the source before anything is created.
        explore_and_check(ctx, spec.source.baseConnectionId)
    flow = results["flow"] or {}
    return {
        "baseConnectionId": results["baseConnectionId"],
        "sourceConnectionId": (results["sourceConnection"] or {}).get("id"),
        "schemaId": results["schemaId"],
        "datasetId": results["datasetId"],
        "targetConnectionId": (results["targetConnection"] or {}).get("id"),
        "mappingId": (results["mappingSet"] or {}).get("id"),
        "flowId": flow.get("id"),
        "flowEtag": flow.get("etag"),
        "flowSpecId": (flow.get("flowSpec") or {}).get("id"),
    }


# --- Source branch ----------------------------------------------------------------------------

@step("create-base-connection")
def create_base_connection(ctx: Context) -> dict[str, Any]:
    if ctx.ids.get("baseConnectionId"):
        return ctx.ids
    spec, client, resolved = ctx.spec, ctx.client, ctx.resolved
    secret = source_secrets.read(spec.source.credentialsSecret or "")
    # The live connection spec's choice (resolve_flow_spec) wins over the catalog's.
    auth = (ctx.event.state.get("flowSpec") or {}).get("auth") or {}
    auth_spec_name = auth.get("specName") or resolved.authSpecName or ""
    names = auth.get("params") if "params" in auth else resolved.authParams
    auth_params = {k: v for k, v in secret.items() if not names or k in names}
    name = naming.base_connection(spec)

    def create() -> str:
        return resources.create_base_connection(
            client, name=name, description=f"{resolved.label} account for aepflow dataflow {spec.name}",
            connection_spec_id=resolved.connectionSpecId, auth_spec_name=auth_spec_name,
            auth_params=auth_params)["id"]

    return {**ctx.ids, "baseConnectionId": ctx.ensure("baseConnection", name, create)}


def explore_and_check(ctx: Context, connection_id: str) -> dict[str, Any]:
    """Explore the source and hold the spec against it. A table lists every column, so a mapped
    attribute, a given column or the delta column it lacks fails (SourceMismatch); a REST preview
    is a sample of records (seeds 002, 003), so an attribute it did not show is a warning."""
    spec, client, resolved = ctx.spec, ctx.client, ctx.resolved
    if not resolved.tabular:
        answer = resources.explore_rest(client, connection_id, spec.source.params)
        attributes = flatten_properties(answer.get("schema") or {})
        known = set(attributes)
        warnings = [{"path": f"mapping[{i}].source",
                     "message": f"{rule.source!r} is not in {resolved.label}'s preview (it shows "
                                f"{', '.join(attributes[:12])}{', ...' if len(attributes) > 12 else ''}); "
                                "the preview is a sample, so it is mapped anyway"}
                    for i, rule in enumerate(spec.mapping) if rule.sourceType == "ATTRIBUTE" and rule.source not in known]
        warnings += [{"path": f"source.columns[{i}].name",
                      "message": f"{column.name!r} is not in {resolved.label}'s preview"}
                     for i, column in enumerate(spec.source.columns or []) if column.name not in known]
        if warnings:
            ctx.journal.warn("explore-source", warnings)
        return {"attributes": attributes}
    table = spec.source.table or ""
    answer = resources.explore_table(client, connection_id, table)
    columns = (answer.get("schema") or {}).get("columns") or []
    if not columns:
        raise SourceMismatch(f"table {table!r} of {resolved.label} has no columns")
    names = [c.get("name") for c in columns]
    problems = [{"path": f"mapping[{i}].source", "message": f"{rule.source!r} is not a column of {table}"}
                for i, rule in enumerate(spec.mapping) if rule.sourceType == "ATTRIBUTE" and rule.source not in names]
    problems += [{"path": f"source.columns[{i}].name", "message": f"{column.name!r} is not a column of {table}"}
                 for i, column in enumerate(spec.source.columns or []) if column.name not in names]
    if spec.deltaColumn and spec.deltaColumn.name not in names:
        problems.append({"path": "deltaColumn.name", "message": f"{spec.deltaColumn.name!r} is not a column of {table}"})
    if problems:
        missing = ", ".join(p["message"].split("'")[1] for p in problems)
        raise SourceMismatch(f"table {table!r} of {resolved.label} has no column {missing}; it has "
                             f"{', '.join(map(str, names[:40]))}", problems=problems)
    return {"columns": columns}


@step("explore-source")
def explore_source(ctx: Context) -> dict[str, Any]:
    return explore_and_check(ctx, ctx.ids["baseConnectionId"])


def _column_body(column: dict[str, Any]) -> dict[str, Any]:
    if "xdm" in column:  # already in Flow Service's shape (from explore)
        return column
    body: dict[str, Any] = {"name": column["name"], "type": column.get("type", "string")}
    xdm_type = column.get("xdmType")
    if xdm_type in ("date-time", "date"):
        body["meta:xdmType"] = xdm_type
        body["xdm"] = {"type": "string", "format": xdm_type}
    else:
        body["xdm"] = {"type": xdm_type or body["type"]}
    return body


@step("create-source-connection")
def create_source_connection(ctx: Context) -> dict[str, Any]:
    if ctx.ids.get("sourceConnectionId"):
        return ctx.ids
    spec, client, resolved = ctx.spec, ctx.client, ctx.resolved
    explored = ctx.event.state.get("explored")
    if explored is None and resolved.inCatalog and not spec.source.baseConnectionId:
        # The state machine explores only when no columns are given; given ones are checked too.
        # (A spec naming an existing account was checked by find-existing.)
        explored = explore_and_check(ctx, ctx.ids["baseConnectionId"])
    name = naming.source_connection(spec)
    if resolved.family == "crm":
        columns = [c.model_dump(exclude_none=True) for c in spec.source.columns] if spec.source.columns \
            else (explored or {}).get("columns")
        params: dict[str, Any] = {"tableName": spec.source.table, "columns": [_column_body(c) for c in columns or []]}
    elif resolved.family == "database":
        params = {"path": spec.source.table}
    else:
        params = dict(spec.source.params)
    body = {
        "name": name, "description": spec.description or f"aepflow dataflow {spec.name}",
        "baseConnectionId": ctx.ids["baseConnectionId"],
        "data": {"format": resolved.format}, "params": params,
        "connectionSpec": {"id": resolved.connectionSpecId, "version": "1.0"},
    }
    return {**ctx.ids, "sourceConnectionId": ctx.ensure(
        "sourceConnection", name, lambda: resources.create_source_connection(client, body)["id"])}


# --- Target branch ----------------------------------------------------------------------------

def _descriptor_path(destination: str) -> str:
    """xdm:sourceProperty of a mapping destination: "personalEmail.address" -> "/personalEmail/address"."""
    return "/" + destination.strip(".").replace(".", "/")


def _enable_for_profile(ctx: Context, schema_id: str) -> None:
    """Identity descriptors for the identity mappings, then the union tag (help/xdm/api/descriptors.md,
    help/xdm/api/schemas.md#union). The order is AEP's: a schema joins the union only with a
    primary identity (XDM-1528-400, help/xdm/troubleshooting-guide.md). Each part is looked up
    first, so a retried step adds only what is missing."""
    spec, client = ctx.spec, ctx.client
    wanted = [rule for rule in spec.mapping if rule.identity and rule.namespaceCode]
    create = spec.target.dataset.create
    profile = bool(create and create.profileEnabled)
    if not wanted and not profile:
        return
    existing = {d.get("xdm:sourceProperty") for d in resources.list_identity_descriptors(client, schema_id)}
    for rule in sorted(wanted, key=lambda r: not r.primary):  # the primary identity first
        path = _descriptor_path(rule.destination)
        if path not in existing:
            resources.create_identity_descriptor(client, schema_id=schema_id, path=path,
                                                 namespace=rule.namespaceCode or "", primary=rule.primary)
    if profile and "union" not in (resources.get_schema(client, schema_id).get("meta:immutableTags") or []):
        resources.enable_schema_for_profile(client, schema_id)


@step("create-target-schema")
def create_target_schema(ctx: Context) -> dict[str, Any]:
    if ctx.ids.get("schemaId"):
        return ctx.ids
    spec, client = ctx.spec, ctx.client
    create = spec.target.schema_.create
    assert create is not None
    title = naming.schema_title(spec)

    def make() -> str:
        return resources.create_schema(client, title=title, description=create.description or
                                       f"Target schema of aepflow dataflow {spec.name}",
                                       class_id=create.class_, field_groups=create.fieldGroups)["$id"]

    schema_id = ctx.ensure("schema", title, make)
    _enable_for_profile(ctx, schema_id)
    return {**ctx.ids, "schemaId": schema_id}


@step("create-dataset")
def create_dataset(ctx: Context) -> dict[str, Any]:
    if ctx.ids.get("datasetId"):
        return ctx.ids
    spec, client = ctx.spec, ctx.client
    create = spec.target.dataset.create
    assert create is not None
    name = naming.dataset(spec)
    return {**ctx.ids, "datasetId": ctx.ensure("dataset", name, lambda: resources.create_dataset(
                                                   client, name=name, schema_id=ctx.ids["schemaId"],
                                                   description=create.description or f"aepflow dataflow {spec.name}",
                                                   profile_enabled=create.profileEnabled))}


@step("create-target-connection")
def create_target_connection(ctx: Context) -> dict[str, Any]:
    if ctx.ids.get("targetConnectionId"):
        return ctx.ids
    spec, client = ctx.spec, ctx.client
    name = naming.target_connection(spec)
    return {**ctx.ids, "targetConnectionId": ctx.ensure("targetConnection", name, lambda: (
        resources.create_target_connection(client, name=name, description=f"Data Lake target of {spec.name}",
                                           schema_id=ctx.ids["schemaId"], dataset_id=ctx.ids["datasetId"])["id"]))}


@step("create-mapping-set")
def create_mapping_set(ctx: Context) -> dict[str, Any]:
    if ctx.ids.get("mappingId"):
        return ctx.ids
    spec, client = ctx.spec, ctx.client
    name = naming.mapping_set(spec)
    body = mapping_set_body(name=name, schema_id=ctx.ids["schemaId"], rules=spec.mapping,
                            dialect=ctx.resolved.mappingDialect)
    return {**ctx.ids, "mappingId": ctx.ensure("mappingSet", name,
                                               lambda: resources.create_mapping_set(client, body)["id"])}


# --- Flow spec and dataflow -------------------------------------------------------------------

def _live_auth(ctx: Context, connection_spec: dict[str, Any]) -> dict[str, Any] | None:
    """The auth spec the credentials secret satisfies in the live connection spec (it wins over the
    catalog), as {specName, params}; SpecInvalid when the secret fits none."""
    spec, resolved = ctx.spec, ctx.resolved
    if not spec.source.credentialsSecret or spec.source.baseConnectionId:
        return None
    live = auth_specs_of(connection_spec)
    if not live:
        return None  # the document lists no auth specs: keep what validation chose
    secret, problems = _read_secret(spec.source.credentialsSecret)
    if secret is None:
        raise SpecInvalid(f"the dataflow spec has {len(problems)} problem(s)", problems=problems)
    choice, problems, warnings = choose_auth(spec, live, resolved.label, secret)
    if problems or choice.spec is None:
        raise SpecInvalid(f"the credentials secret fits no auth spec of the live {resolved.label} connection spec",
                          problems=problems)
    if resolved.inCatalog and choice.spec.name != resolved.authSpecName:
        warnings.append({"path": "source.authSpecName", "message": (
            f"the live connection spec {resolved.connectionSpecId} differs from the catalog: using its auth spec "
            f"{choice.spec.name!r} (the catalog chose {resolved.authSpecName!r})")})
    if warnings:
        ctx.journal.warn("resolve-flow-spec", warnings)
    return {"specName": choice.spec.name, "params": list(choice.params(secret))}


@step("resolve-flow-spec")
def resolve_flow_spec(ctx: Context) -> dict[str, Any]:
    """The flow spec (by its fixed id where it has one, else by name) and the live connection spec,
    read together before anything is created."""
    resolved, client = ctx.resolved, ctx.client
    name = resolved.flowSpecName
    if resolved.warnings:
        ctx.journal.warn("validate-spec", resolved.warnings)
    with ThreadPoolExecutor(max_workers=2) as pool:
        flow_future = pool.submit(lambda: resources.get_flow_spec(client, resolved.flowSpecId)
                                  if resolved.flowSpecId else resources.find_flow_spec(client, name))
        spec_future = pool.submit(resources.get_connection_spec, client, resolved.connectionSpecId)
        flow_spec, connection_spec = flow_future.result(), spec_future.result()
    if flow_spec is None:
        raise AepNotFound(f"flow spec {name!r} not found in sandbox {client.sandbox}", status=404)
    if connection_spec is None:
        raise AepNotFound(f"connection spec {resolved.connectionSpecId} ({resolved.label}) not found", status=404)
    name = flow_spec.get("name", name)
    if resolved.connectionSpecId not in (flow_spec.get("sourceConnectionSpecIds") or []):
        raise FlowSpecMismatch(f"flow spec {name} ({flow_spec['id']}) does not accept {resolved.label} "
                               f"(connection spec {resolved.connectionSpecId} is not in sourceConnectionSpecIds)")
    if DATA_LAKE_CONNECTION_SPEC_ID not in (flow_spec.get("targetConnectionSpecIds") or [DATA_LAKE_CONNECTION_SPEC_ID]):
        raise FlowSpecMismatch(f"flow spec {name} does not write to the Data Lake")
    transformations = {t.get("name"): t.get("spec") or {} for t in flow_spec.get("transformationSpecs") or []}
    copy_spec = transformations.get("Copy")
    found = {
        "id": flow_spec["id"], "name": name, "version": flow_spec.get("version", "1.0"),
        "scheduleSpec": ((flow_spec.get("scheduleSpec") or {}).get("spec")) or {},
        "optionSpec": ((flow_spec.get("optionSpec") or {}).get("spec")) or {},
        "hasCopy": copy_spec is not None,
        "copyNeedsDeltaColumn": bool(copy_spec and "deltaColumn" in (copy_spec.get("required") or [])),
    }
    auth = _live_auth(ctx, connection_spec)
    if auth:
        found["auth"] = auth
    return found


def schedule_params(spec: DataflowSpec) -> dict[str, Any]:
    """scheduleParams as the flow spec's scheduleSpec defines them (integers, boolean)."""
    return spec.schedule.model_dump(exclude_none=True)


def schedule_params_for_request(params: dict[str, Any]) -> dict[str, Any]:
    """flow-service.yaml types scheduleParams.interval as a string while every flow spec's
    scheduleSpec types it as an integer; the request follows the OpenAPI spec."""
    body = dict(params)
    if "interval" in body:
        body["interval"] = str(body["interval"])
    return body


def _fits(schema: dict[str, Any], value: dict[str, Any], what: str, flow_spec: dict[str, Any]) -> None:
    try:
        jsonschema.validate(value, schema or {})
    except jsonschema.ValidationError as exc:
        field = ".".join(str(p) for p in exc.absolute_path)
        raise FlowSpecMismatch(f"{what} does not fit flow spec {flow_spec['name']}: {exc.message}",
                               problems=[{"path": f"{what}.{field}".rstrip("."), "message": exc.message}]) from None


@step("create-dataflow")
def create_dataflow(ctx: Context) -> dict[str, Any]:
    spec, client, ids = ctx.spec, ctx.client, ctx.ids
    flow_spec = ctx.event.state["flowSpec"]
    if ids.get("flowId"):
        return ids
    params = schedule_params(spec)
    _fits(flow_spec.get("scheduleSpec") or {}, params, "schedule", flow_spec)
    options = spec.options.model_dump(exclude_none=True) if spec.options else {}
    if options:
        # The flow spec's optionSpec (seeds 000, 001, 004) defines the flow's options.
        _fits(flow_spec.get("optionSpec") or {}, options, "options", flow_spec)
    transformations: list[dict[str, Any]] = []
    if flow_spec.get("hasCopy") and spec.deltaColumn:
        transformations.append({"name": "Copy", "params": {"deltaColumn": spec.deltaColumn.model_dump(exclude_none=True)}})
    elif flow_spec.get("copyNeedsDeltaColumn"):
        raise FlowSpecMismatch(f"flow spec {flow_spec['name']} needs a deltaColumn",
                               problems=[{"path": "deltaColumn", "message": "required by the flow spec"}])
    # mappingVersion is a string in flow-service.yaml (seeds 000/001 send a number).
    transformations.append({"name": "Mapping", "params": {"mappingId": ids["mappingId"], "mappingVersion": "0"}})
    name = naming.dataflow(spec)
    body = {
        "name": name, "description": spec.description or f"aepflow dataflow {spec.name}",
        "flowSpec": {"id": flow_spec["id"], "version": flow_spec.get("version", "1.0")},
        "sourceConnectionIds": [ids["sourceConnectionId"]],
        "targetConnectionIds": [ids["targetConnectionId"]],
        "transformations": transformations,
        "scheduleParams": schedule_params_for_request(params),
    }
    if options:
        # Our decision: the flow's `options` object, named after the flow spec's optionSpec (the
        # OpenAPI's CreateFlowRequest lists no field for them; GET /flows answers `options`).
        body["options"] = options
    etags: dict[str, str] = {}

    def find() -> str | None:
        item = resources.find_flow_service(client, "flow", name)
        if item:
            etags[item["id"]] = item.get("etag")
        return item["id"] if item else None

    def create() -> str:
        answer = resources.create_flow(client, body)
        etags[answer["id"]] = answer.get("etag")
        return answer["id"]

    flow_id = ctx.ensure("flow", name, create, find)
    return {**ids, "flowId": flow_id, "flowEtag": etags.get(flow_id), "flowSpecId": flow_spec["id"]}


# --- Roll back --------------------------------------------------------------------------------

def describe_failure(error: dict[str, Any] | None) -> dict[str, Any]:
    """The Catch's {Error, Cause} as aepflow's error dict (type, code, message, step, ...)."""
    error = error or {}
    cause: Any = error.get("Cause") or ""
    try:
        cause = json.loads(cause)
    except (TypeError, ValueError):
        pass
    message = cause.get("errorMessage") if isinstance(cause, dict) else cause
    try:
        parsed = json.loads(message) if isinstance(message, str) else None
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and "message" in parsed:
        return parsed
    return {"type": error.get("Error") or "Error", "message": str(message or error.get("Error") or "unknown")[:1000]}


class RollBackResult(BaseModel):
    status: str
    name: str | None = None
    errors: list[dict[str, Any]] = Field(default_factory=list)
    rolledBack: list[dict[str, str]] = Field(default_factory=list)
    leftBehind: list[dict[str, str]] = Field(default_factory=list)


@step("roll-back")
def roll_back(state: dict[str, Any], execution: str) -> RollBackResult:
    failure = describe_failure(state.get("error"))
    spec_raw = state.get("spec") or {}
    name = spec_raw.get("name") if isinstance(spec_raw, dict) else None
    status = "INVALID" if failure.get("type") == "SpecInvalid" else "FAILED"
    result = RollBackResult(status=status, name=name if isinstance(name, str) else None, errors=[failure])
    if status == "FAILED" and "resolved" in state:
        client = runtime.aep_client((spec_raw or {}).get("sandbox"))
        journal = journal_mod.Journal(execution, client.sandbox)
        for entry in journal.entries_newest_first():
            kind, resource_id = entry["kind"], entry.get("resourceId")
            if entry.get("state") in ("deleted", "left-behind"):
                continue
            try:
                resource_id = resource_id or resources.find_id_by_name(client, kind, entry["name"])
                if not resource_id:
                    journal.mark(entry["sk"], "deleted")
                    continue
                if kind == "mappingSet":
                    # Data Prep's API has no DELETE for mapping sets (data-prep.yaml); a re-run finds
                    # and reuses this one by name, so it is never duplicated.
                    result.leftBehind.append({"kind": kind, "id": resource_id,
                                              "reason": "Data Prep offers no way to delete a mapping set"})
                    journal.mark(entry["sk"], "left-behind")
                    continue
                try:
                    resources.delete_by_kind(client, kind, resource_id)
                except AepNotFound:
                    pass  # already gone: what roll-back wants
                journal.mark(entry["sk"], "deleted")
                result.rolledBack.append({"kind": kind, "id": resource_id})
            except AepflowError as exc:
                logger.error("roll-back could not delete", extra={"kind": kind, "id": resource_id, "error": exc.to_dict()})
                result.leftBehind.append({"kind": kind, "id": str(resource_id), "reason": exc.message})
    journal_mod.put_outcome(execution, {"status": result.status, "name": result.name or "",
                                        "errors": json.dumps(result.errors), "rolledBack": json.dumps(result.rolledBack),
                                        "leftBehind": json.dumps(result.leftBehind)})
    return result


def failure_notification(result: RollBackResult, sandbox: str | None) -> dict[str, str]:
    error = result.errors[0] if result.errors else {}
    what = "invalid" if result.status == "INVALID" else "failed"
    subject = f"aepflow: dataflow {result.name or '(unnamed)'} {what}"
    if sandbox:
        subject += f" in {sandbox}"
    lines = [f"Dataflow: {result.name or '(unnamed)'}", f"Status: {result.status}",
             f"Step: {error.get('step', '-')}", f"Error: {error.get('code') or error.get('type', '-')}",
             f"Message: {error.get('message', '-')}"]
    for problem in error.get("problems") or []:
        lines.append(f"  - {problem.get('path')}: {problem.get('message')}")
    if result.rolledBack:
        lines.append("Rolled back: " + ", ".join(f"{r['kind']} {r['id']}" for r in result.rolledBack))
    if result.leftBehind:
        lines.append("Left behind: " + ", ".join(f"{r['kind']} {r['id']} ({r['reason']})" for r in result.leftBehind))
    return {"subject": scrub.scrub(subject[:99]), "message": scrub.scrub("\n".join(lines))}
