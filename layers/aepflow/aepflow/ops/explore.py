"""Explore a source before writing its spec: what Flow Service's explore (GET /connections/{id}/explore)
sees through a base connection, bounded.

- objectType=root: the tables or objects the connection reaches (explore/tabular.md,
  explore/database-nosql.md; flow-service.yaml's ExploreConnectionResponse);
- objectType=table&object=T: a table's columns with their XDM types, and with preview=true a few of
  its rows (`data`, filter.md "Preview your data"), only those a filter matches (`filter`, written as a
  spec's source.filter, sent as `filters`, its PQL in base64) where the source takes filters;
- objectType=rest with the source's sourceParams (seeds 002, 003): a REST source's preview, its leaf
  attribute paths and a few sample records;
- a file source's (Amazon S3, explore/cloud-storage.md) root (its buckets), a folder (`table` ending
  with /) or a file's columns and rows (params fileType, columnDelimiter, compressionType, encoding).

The base connection is a managed dataflow's (the store's record of it), or, for a connector and a
credentials secret, a transient one made for this explore (named `aepflow-explore-...`) and deleted
before the answer, whatever happened. Every AEP answer is parsed bounded and typed before use."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError, field_validator

from aepflow.aep import bodies, resources
from aepflow.aep.client import AepClient, aep_client
from aepflow.aep.mapping import flatten_properties
from aepflow.core.errors import (
    AepError,
    AepNotFound,
    AepServerError,
    AepTimeout,
    DataflowConflict,
    DataflowNotFound,
    SpecInvalid,
)
from aepflow.core.observability import logger
from aepflow.spec import filters, source_secrets, suggest
from aepflow.spec.auth import choose
from aepflow.spec.connectors import Connector, connector_named, unknown_connector
from aepflow.spec.fields import NAME_PATTERN, SANDBOX_PATTERN, UUID_PATTERN, ShortText
from aepflow.spec.filters import MAX_TEXT as MAX_FILTER
from aepflow.spec.filters import compile_filter, connector_problems
from aepflow.spec.parse import build_models, parse_spec, resolve_source
from aepflow.store import records

build_models()  # parse_spec's validators, built at import (spec.build_models)
_UUID = re.compile(UUID_PATTERN)

TRANSIENT_PREFIX = "aepflow-explore"
MAX_TABLES, MAX_COLUMNS, MAX_ROWS, DEFAULT_ROWS = 1000, 2000, 20, 5
# How much of one preview row (or a REST record) is answered: its depth, keys, items and text.
MAX_DEPTH, MAX_KEYS, MAX_ITEMS, MAX_TEXT = 6, 200, 50, 1000
_Param = Annotated[str, StringConstraints(min_length=1, max_length=64)]
_ParamValue = Annotated[str, StringConstraints(max_length=1000)] | int | float | bool


class ExploreRequest(BaseModel):
    """POST /explore: a managed dataflow's source ({dataflow}), or a connector's through a credentials
    secret ({connector, credentialsSecret, authSpec?, sandbox?, params?}); then table? and rows?."""

    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)
    dataflow: str | None = Field(default=None, pattern=NAME_PATTERN, description="A managed dataflow: explore "
                                 "through its base connection")
    connector: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_ -]*$",
                                  description="A catalog connector (`aepflow connectors`), any case")
    credentialsSecret: str | None = Field(default=None, min_length=1, max_length=2048, description=(
        "A source secret under the stack's source-secrets prefix; a transient base connection is made from it "
        "and deleted before the answer"))
    authSpec: ShortText | None = Field(default=None, description="The connector's auth spec the secret holds; by "
                                                                 "default the first its keys satisfy")
    sandbox: str | None = Field(default=None, pattern=SANDBOX_PATTERN, description="The AEP sandbox (default: the "
                                                                                   "AEP credentials')")
    params: dict[_Param, _ParamValue] | None = Field(default=None, max_length=50, description=(
        "A REST source's params (its sourceParams), e.g. Mixpanel's projectId and timezone"))
    table: ShortText | None = Field(default=None, description="A table (its path as the root lists it): its "
                                                              "columns, and rows")
    rows: int = Field(default=DEFAULT_ROWS, ge=0, le=MAX_ROWS, description="How many rows to preview (0: none)")
    filter: str | None = Field(default=None, min_length=1, max_length=MAX_FILTER, description=(
        "Preview only a table's rows that match, written as a spec's source.filter (city = \"DDN\" and age > 30), "
        "for a source that filters rows at the source"), examples=['NAME like "K%"'])

    @field_validator("filter")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        return filters.checked(value)


# --- What AEP answers, parsed bounded and typed -------------------------------------------------

class _Aep(BaseModel):
    model_config = ConfigDict(extra="ignore", defer_build=True, populate_by_name=True)


_Word = Annotated[str, StringConstraints(max_length=64)]


class _Xdm(_Aep):
    type: _Word | None = None
    format: _Word | None = None


class _Column(_Aep):
    name: Annotated[str, StringConstraints(min_length=1, max_length=1024)]
    type: _Word | None = None
    xdm: _Xdm | None = None
    metaXdmType: _Word | None = Field(default=None, alias="meta:xdmType")


class _TableSchema(_Aep):
    columns: list[_Column] = Field(default=[], max_length=MAX_COLUMNS)


class _Table(_Aep):
    schema_: _TableSchema | None = Field(default=None, alias="schema")
    data: list[Any] | None = Field(default=None, max_length=MAX_ROWS)


class _Rest(_Aep):
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    data: list[Any] | None = Field(default=None, max_length=MAX_ROWS)


_NAMES: TypeAdapter[list[str]] = TypeAdapter(list[Annotated[str, StringConstraints(min_length=1, max_length=1024)]])


def _parsed(model: Any, raw: Any, what: str) -> Any:
    try:
        return model.validate_python(raw) if isinstance(model, TypeAdapter) else model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "(answer)"
        raise AepServerError(f"AEP's explore answer for {what} is not what Flow Service documents ({where}: "
                             f"{first['msg']})", status=502) from None


def _head(raw: Any, *path: str, limit: int) -> Any:
    """The answer with the list at `path` cut to `limit` items, before it is parsed."""
    if not path:
        return raw[:limit] if isinstance(raw, list) else raw
    if not isinstance(raw, dict):
        return raw
    return {**raw, path[0]: _head(raw.get(path[0]), *path[1:], limit=limit)}


def bounded(value: Any, depth: int = 0) -> Any:
    """A preview value cut to MAX_DEPTH levels, MAX_KEYS keys, MAX_ITEMS items and MAX_TEXT characters."""
    if isinstance(value, str):
        return value[:MAX_TEXT]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if depth >= MAX_DEPTH:
        return "..."
    if isinstance(value, dict):
        return {str(k)[:256]: bounded(v, depth + 1) for k, v in list(value.items())[:MAX_KEYS]}
    if isinstance(value, list):
        return [bounded(v, depth + 1) for v in value[:MAX_ITEMS]]
    return str(value)[:MAX_TEXT]


def _xdm_type(column: _Column) -> str | None:
    xdm = column.xdm or _Xdm()
    return column.metaXdmType or (xdm.format if xdm.format in ("date", "date-time") else None) or xdm.type


def _leaf_type(schema: dict[str, Any], path: str) -> str | None:
    node: Any = schema
    for part in path.split("."):
        node = ((node or {}).get("properties") or {}).get(part) if isinstance(node, dict) else None
    kind = node.get("type") if isinstance(node, dict) else None
    return kind[:64] if isinstance(kind, str) else None


def _pruned(schema: Any, depth: int = 0) -> dict[str, Any]:
    """A JSON schema cut to MAX_DEPTH levels and MAX_COLUMNS properties a level (flatten_properties
    recurses as deep as it is given)."""
    if not isinstance(schema, dict):
        return {}
    out = {k: v for k, v in schema.items() if k != "properties"}
    properties = schema.get("properties")
    if isinstance(properties, dict) and depth < MAX_DEPTH:
        out["properties"] = {str(k)[:256]: _pruned(v, depth + 1) for k, v in list(properties.items())[:MAX_COLUMNS]}
    return out


# --- Exploring ----------------------------------------------------------------------------------

def _tables(client: AepClient, connection_id: str) -> list[str]:
    return _parsed(_NAMES, resources.explore_root(client, connection_id)[:MAX_TABLES], "objectType=root")


def _table(client: AepClient, connection_id: str, table: str, rows: int, label: str,
           text: str | None = None) -> dict[str, Any]:
    try:
        raw = resources.explore_table(client, connection_id, table, preview=rows > 0,
                                      filters=compile_filter(text) if text else None)
    except AepNotFound:
        tables = _tables(client, connection_id)
        if table in tables:
            raise
        seen = f"it has {suggest.ranked(table, tables)}" if tables else "explore lists no table"
        message = f"{label} has no table {table!r}{suggest.did_you_mean(table, tables)} ({seen})"
        raise DataflowNotFound(message, code="TableNotFound", status=404,
                               problems=[{"path": "table", "message": message}]) from None
    return _flat("table", table, raw, rows)


def _flat(kind: str, name: str, raw: Any, rows: int) -> dict[str, Any]:
    """A table's or a file's explore answer ({format: flat, schema: {columns}, data}), parsed bounded, as
    this module answers it: its columns with their XDM types, and `rows` of its rows."""
    answer = _parsed(_Table, _head(_head(raw, "schema", "columns", limit=MAX_COLUMNS), "data", limit=rows),
                     f"{kind} {name!r}")
    columns = (answer.schema_ or _TableSchema()).columns
    return {"objectType": kind, "table": name,
            "columns": [{"name": c.name, "type": c.type, "xdmType": _xdm_type(c)} for c in columns],
            "rows": [bounded(row) for row in (answer.data or [])[:rows]]}


def _rest(client: AepClient, connection_id: str, params: dict[str, Any], rows: int) -> dict[str, Any]:
    answer = _parsed(_Rest, _head(resources.explore_rest(client, connection_id, params), "data", limit=MAX_ROWS),
                     "objectType=rest")
    schema = _pruned(answer.schema_ or {})
    paths = flatten_properties(schema)[:MAX_COLUMNS]
    return {"objectType": "rest", "table": None,
            "columns": [{"name": p, "type": _leaf_type(schema, p), "xdmType": _leaf_type(schema, p)} for p in paths],
            "rows": [bounded(row) for row in (answer.data or [])[:rows]]}


FILE_OPTIONS = ("columnDelimiter", "compressionType", "encoding")


def _files(client: AepClient, connection_id: str, path: str, rows: int, params: dict[str, Any]) -> dict[str, Any]:
    """A file source (explore/cloud-storage.md): a folder's files and folders (a path ending with /), or a
    file's columns and first rows, read as params.fileType (delimited by default) with its columnDelimiter,
    compressionType and encoding."""
    if path.endswith("/"):
        items = resources.explore_folder(client, connection_id, path)[:MAX_TABLES]
        return {"objectType": "folder", "table": path,
                "tables": _parsed(_NAMES, [i.get("path") for i in items], f"folder {path!r}")}
    options = {k: str(params[k]) for k in FILE_OPTIONS if params.get(k) is not None}
    raw = resources.explore_file(client, connection_id, path, str(params.get("fileType") or "delimited"), options)
    if isinstance(raw, list):  # the bare [{name, type}] an older page prints
        raw = {"schema": {"columns": raw}}
    return _flat("file", path, raw, rows)


def _through(client: AepClient, connection_id: str, connector: Connector | None, label: str, tabular: bool,
             request: ExploreRequest, params: dict[str, Any]) -> dict[str, Any]:
    if connector is not None and connector.family == "file" and request.table:
        return _files(client, connection_id, request.table, request.rows, params)
    if not tabular:
        return _rest(client, connection_id, params, request.rows)
    if request.table:
        return _table(client, connection_id, request.table, request.rows, label, request.filter)
    return {"objectType": "root", "tables": _tables(client, connection_id)}


def _filter_problems(request: ExploreRequest, connector: Connector | None, label: str) -> list[dict[str, str]]:
    """A filter previews a table's rows, of a source whose connection spec takes it (spec/filters.py)."""
    if request.filter is None:
        return []
    problems = connector_problems(connector, request.filter, path="filter", label=label)
    if not problems and not request.table:
        problems.append({"path": "filter", "message": "a filter previews a table's rows: give table"})
    return problems


def _refused(problems: list[dict[str, str]]) -> SpecInvalid:
    return SpecInvalid("the explore request is not valid", code="RequestInvalid", status=400, problems=problems)


def _of_dataflow(request: ExploreRequest) -> dict[str, Any]:
    others = [f for f in ("connector", "credentialsSecret", "authSpec", "sandbox") if getattr(request, f)]
    if others:
        raise _refused([{"path": f, "message": "give dataflow, or connector and credentialsSecret, not both"}
                        for f in others])
    rec = records.record(request.dataflow or "")
    if rec is None:
        raise DataflowNotFound(f"no dataflow named {request.dataflow!r}", code="DataflowNotFound", status=404)
    spec = parse_spec(rec.spec)
    resolved = resolve_source(spec)
    connection_id = rec.ids.get("baseConnectionId") or spec.source.baseConnectionId
    if not connection_id:
        raise DataflowConflict(f"dataflow {rec.name!r} has no base connection yet", code="ProvisioningInProgress",
                               status=409)
    if not resolved.tabular and request.table:
        raise _refused([{"path": "table", "message": f"{resolved.label} is a REST source: it has no tables"}])
    problems = _filter_problems(request, spec.connector, resolved.label)
    if problems:
        raise _refused(problems)
    client = aep_client(spec.sandbox)
    params = {**spec.source.params, **(request.params or {})}
    answer = _through(client, str(connection_id), spec.connector, resolved.label, resolved.tabular, request, params)
    return {"dataflow": rec.name, "connector": resolved.connector, "sandbox": client.sandbox,
            "baseConnection": {"id": str(connection_id), "transient": False}, **answer}


def _connector(request: ExploreRequest) -> tuple[Connector, dict[str, Any], str]:
    """(the connector, the secret, its auth spec's name), or every problem of the request by field."""
    problems: list[dict[str, str]] = []
    connector = connector_named(request.connector or "")
    if not request.connector:
        problems.append({"path": "connector", "message": "give dataflow, or connector and credentialsSecret"})
    elif connector is None:
        problems.append({"path": "connector",
                         "message": f"{unknown_connector(request.connector)} (`aepflow connectors` lists them)"})
    if not request.credentialsSecret:
        problems.append({"path": "credentialsSecret", "message": "a connector is explored through a credentials "
                                                                 "secret: give its name"})
    if connector is not None and connector.family == "rest":
        if request.table:
            problems.append({"path": "table", "message": f"{connector.label} is a REST source: it has no tables"})
        problems += [{"path": f"params.{key}", "message": f"{connector.label} needs {key}"}
                     for key in connector.source_params if not (request.params or {}).get(key)]
    if connector is not None:
        problems += _filter_problems(request, connector, connector.label)
    if problems or connector is None:
        raise _refused(problems)
    try:
        secret = source_secrets.read(request.credentialsSecret or "")
    except source_secrets.SecretUnreadable as exc:
        raise _refused([{"path": "credentialsSecret", "message": str(exc)}]) from None
    choice = choose(connector.auth_specs, secret, request.authSpec, connector.label)
    if choice.problems or choice.spec is None:
        path = "authSpec" if request.authSpec and choice.spec is None else "credentialsSecret"
        raise _refused([{"path": path, "message": p} for p in choice.problems])
    return connector, choice.params(secret), choice.spec.name


def _delete_transient(client: AepClient, connection_id: str) -> dict[str, str] | None:
    """Delete the transient base connection; what is left behind when AEP would not (logged too)."""
    try:
        resources.delete_flow_service(client, "baseConnection", connection_id)
    except AepNotFound:
        return None
    except AepError as exc:
        logger.warning("transient base connection left behind", extra={"baseConnectionId": connection_id,
                                                                       "error": exc.to_dict()})
        return {"kind": "baseConnection", "id": connection_id, "reason": exc.message}
    return None


def with_transient_connection(client: AepClient, connector: Connector, auth_spec: str, auth_params: dict[str, Any],
                              work: Callable[[str], dict[str, Any]]) -> dict[str, Any]:
    """`work(connection id)` through a base connection made for it, deleted in a finally."""
    name = f"{TRANSIENT_PREFIX}-{connector.name}-{uuid.uuid4().hex[:12]}"
    body = bodies.connection(name, f"Transient: aepflow explore of {connector.label}; deleted when it ends",
                             connector.connection_spec_id, auth_spec, auth_params)
    try:
        created = resources.create_base_connection(client, body)
    except (AepServerError, AepTimeout):  # the POST may have been applied: find it to delete it
        found = resources.find_flow_service(client, "baseConnection", name)
        if found and isinstance(found.get("id"), str):
            _delete_transient(client, found["id"])
        raise
    connection_id = created.get("id") if isinstance(created, dict) else None
    if not isinstance(connection_id, str) or not _UUID.fullmatch(connection_id):
        raise AepServerError(f"AEP answered POST /connections without a connection id ({name})", status=502)
    try:
        answer = work(connection_id)
    finally:
        left = _delete_transient(client, connection_id)
    return {**answer, "baseConnection": {"id": connection_id, "name": name, "transient": True, "deleted": not left},
            "leftBehind": [left] if left else []}


def explore(body: ExploreRequest | dict[str, Any] | None) -> dict[str, Any]:
    """What explore sees of a dataflow's source, or of a connector's through a secret (see the module)."""
    try:
        request = body if isinstance(body, ExploreRequest) else ExploreRequest.model_validate(body or {})
    except ValidationError as exc:
        raise _refused([{"path": ".".join(str(p) for p in e["loc"]) or "(body)",
                         "message": e["msg"].removeprefix("Value error, ")}
                        for e in exc.errors(include_url=False)]) from None
    if request.dataflow:
        return _of_dataflow(request)
    connector, auth_params, auth_spec = _connector(request)
    client = aep_client(request.sandbox)

    def work(connection_id: str) -> dict[str, Any]:
        return _through(client, connection_id, connector, connector.label, connector.tabular, request,
                        dict(request.params or {}))

    answer = with_transient_connection(client, connector, auth_spec, auth_params, work)
    return {"dataflow": None, "connector": connector.name, "sandbox": client.sandbox, **answer}

