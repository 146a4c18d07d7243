"""What aepflow sends AEP for each resource it makes, built in one place, and the fields of a
resource a plan compares, read the same way from what aepflow sends and from what AEP answers.

Idempotence by construction: provisioning POSTs these bodies, and the plan and the drift check expect
exactly them (`fields(kind, body)`), compared with `fields(kind, what AEP answers)`. AEP echoes what it
was sent, so a spec applied and planned again is `none`, whatever the spec's shape: a field that
provisioning does not send (a database's `columns`, which only the explore checks) is not expected
either, and a name or description the spec's `resources` gives is both sent and expected.

Every function takes the spec as the steps read it (spec_view) or as the doors parse it (spec): both
answer the same attributes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aepflow.aep import naming, schedule
from aepflow.aep.mapping import mapping_set_body
from aepflow.aep.resources import TARGET_SCHEMA_VERSION
from aepflow.spec import files, filters
from aepflow.spec.connectors import DATA_LAKE_CONNECTION_SPEC_ID

if TYPE_CHECKING:
    from aepflow.spec.model import DataflowSpec, ResolvedSource

FLOW_SPEC_VERSION = "1.0"


def creates_base_connection(spec: DataflowSpec) -> bool:
    return not spec.source.baseConnectionId


# --- Bodies ---------------------------------------------------------------------------------------

def iam_role_auth_params(spec: DataflowSpec) -> dict[str, Any]:
    """Amazon S3's "IAMRole Based" auth: its one param, the bucket Adobe's role may read (s3.json)."""
    return {"bucketName": spec.source.bucket}


def base_connection(spec: DataflowSpec, resolved: ResolvedSource, *, auth_spec_name: str | None,
                    auth_params: dict[str, Any]) -> dict[str, Any]:
    """POST /connections (seed 002's body; auth.params only the chosen auth spec's)."""
    return connection(naming.base_connection(spec), naming.base_connection_description(spec, resolved.label),
                      resolved.connectionSpecId, auth_spec_name, auth_params)


def connection(name: str, description: str, connection_spec_id: str, auth_spec_name: str | None,
               auth_params: dict[str, Any]) -> dict[str, Any]:
    """A base connection's body: its name, the auth spec and its params, the connection spec."""
    return {"name": name, "description": description, "auth": {"specName": auth_spec_name, "params": auth_params},
            "connectionSpec": {"id": connection_spec_id, "version": "1.0"}}


def column(column: dict[str, Any]) -> dict[str, Any]:
    """A spec's column (name, type, xdmType) as Flow Service takes it; an explored one as it is."""
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


def source_params(spec: DataflowSpec, resolved: ResolvedSource,
                  explored: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The source connection's params. A CRM's object is params.tableName with its columns (the spec's,
    or the explored ones when the spec gives none); a database's table is params.path alone (seed 004:
    a database's columns are read by explore, never sent); either one's filter is params.filters (filter.md);
    a REST source sends the spec's params."""
    if resolved.family == "crm":
        given = [c.model_dump(exclude_none=True) for c in spec.source.columns] if spec.source.columns else None
        columns = given if given is not None else explored
        params: dict[str, Any] = {"tableName": spec.source.table}
        if columns is not None:
            params["columns"] = [column(c) for c in columns]
        return {**params, **_filters(spec)}
    if resolved.family == "database":
        return {"path": spec.source.table, **_filters(spec)}
    if resolved.family == "file":
        # collect/cloud-storage.md: params.path names a file or, a folder (or a wildcard in place of the file
        # name), with type folder; recursive: true reads its subfolders.
        path = spec.source.path or ""
        params = {"path": files.aep_path(spec.source.bucket or "", path),
                  "type": "folder" if files.is_folder(path) else "file"}
        if spec.source.recursive:
            params["recursive"] = True
        return params
    return dict(spec.source.params)


def _filters(spec: DataflowSpec) -> dict[str, Any]:
    """A table's rows filtered at the source: params.filters, the spec's filter as PQL (filter.md)."""
    return {"filters": filters.compile_filter(spec.source.filter)} if spec.source.filter else {}


def source_data(spec: DataflowSpec, resolved: ResolvedSource) -> dict[str, Any]:
    """The source connection's `data`: its format, and a file source's data.properties (columnDelimiter,
    compressionType, encoding; collect/cloud-storage.md) when its spec gives any."""
    if resolved.family != "file":
        return {"format": resolved.format}
    fmt, properties = files.file_format(spec.source.format)
    return {"format": fmt, **({"properties": properties} if properties else {})}


def source_connection(spec: DataflowSpec, resolved: ResolvedSource, *, base_connection_id: str | None,
                      explored: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """POST /sourceConnections. `explored`: a CRM table's columns as explore answered them, when the
    spec gives none (a plan does not explore: it expects no columns then, and compares none)."""
    return {"name": naming.source_connection(spec), "description": naming.source_connection_description(spec),
            "baseConnectionId": base_connection_id, "data": source_data(spec, resolved),
            "params": source_params(spec, resolved, explored),
            "connectionSpec": {"id": resolved.connectionSpecId, "version": "1.0"}}


def target_connection(spec: DataflowSpec, *, schema_id: str | None, dataset_id: str | None) -> dict[str, Any]:
    """POST /targetConnections: the Data Lake, into the dataset, with the schema."""
    return {"name": naming.target_connection(spec), "description": naming.target_connection_description(spec),
            "data": {"schema": {"id": schema_id, "version": TARGET_SCHEMA_VERSION}},
            "params": {"dataSetId": dataset_id},
            "connectionSpec": {"id": DATA_LAKE_CONNECTION_SPEC_ID, "version": "1.0"}}


def mapping_set(spec: DataflowSpec, resolved: ResolvedSource, *, schema_id: str,
                name: str | None = None) -> dict[str, Any]:
    """POST /mappingSets (a new version: PUT /mappingSets/{id}, under the set's own name)."""
    return mapping_set_body(name=name or naming.mapping_set(spec), schema_id=schema_id, rules=spec.mapping,
                            dialect=resolved.mappingDialect)


def flow(spec: DataflowSpec, *, flow_spec_id: str | None, ids: dict[str, Any], with_copy: bool) -> dict[str, Any]:
    """POST /flows. `with_copy`: the flow spec has a Copy transformation, which carries the delta column.
    scheduleParams as flow-service.yaml types them in a request (interval a string); mappingVersion a
    string (seeds 000/001 send a number, the OpenAPI spec a string)."""
    transformations: list[dict[str, Any]] = []
    if with_copy and spec.deltaColumn:
        transformations.append({"name": "Copy", "params": {"deltaColumn": spec.deltaColumn.model_dump(
            exclude_none=True)}})
    transformations.append({"name": "Mapping", "params": {"mappingId": ids.get("mappingId"),
                                                          "mappingVersion": str(ids.get("mappingVersion") or 0)}})
    body: dict[str, Any] = {
        "name": naming.dataflow(spec), "description": naming.flow_description(spec),
        "flowSpec": {"id": flow_spec_id, "version": FLOW_SPEC_VERSION},
        "sourceConnectionIds": [ids.get("sourceConnectionId")], "targetConnectionIds": [ids.get("targetConnectionId")],
        "transformations": transformations,
        "scheduleParams": schedule.schedule_params_for_request(schedule.schedule_params(spec)),
    }
    options = spec.options.model_dump(exclude_none=True) if spec.options else {}
    if options:
        # Our decision: the flow's `options` object, named after the flow spec's optionSpec (the
        # OpenAPI's CreateFlowRequest lists no field for them; GET /flows answers `options`).
        body["options"] = options
    return body


def flow_state(spec: DataflowSpec) -> str:
    """AEP creates a flow enabled; provisioning disables one the spec says is not to run."""
    return "enabled" if spec.enabled else "disabled"


# --- The fields a plan compares -------------------------------------------------------------------

def _schedule(params: dict[str, Any]) -> dict[str, Any]:
    """scheduleParams in one form, as sent or as answered (interval a string, startTime an int)."""
    out = {}
    for key, value in (params or {}).items():
        if value is None:
            continue
        if key == "interval":
            value = str(value)
        elif key == "startTime":
            try:
                value = int(value)
            except (TypeError, ValueError):
                value = str(value)
        out[f"scheduleParams.{key}"] = value
    return out


def mapping_in_use(flow: dict[str, Any] | None) -> tuple[str | None, str | None]:
    """(mappingId, mappingVersion) of a flow's Mapping transformation."""
    for transformation in (flow or {}).get("transformations") or []:
        if isinstance(transformation, dict) and transformation.get("name") == "Mapping":
            params = transformation.get("params") or {}
            version = params.get("mappingVersion")
            return params.get("mappingId"), None if version is None else str(version)
    return None, None


def _first(values: Any) -> Any:
    return values[0] if isinstance(values, list) and values else None


def fields(kind: str, resource: dict[str, Any]) -> dict[str, Any]:
    """kind's comparable fields of `resource`: a body above, or AEP's answer for the resource. Keys
    starting with `_` say something about the resource without being compared."""
    def of(*path: str) -> Any:
        value: Any = resource
        for part in path:
            value = value.get(part) if isinstance(value, dict) else None
        return value

    if kind == "flow":
        mapping_id, version = mapping_in_use(resource)
        copy = next((t for t in resource.get("transformations") or []
                     if isinstance(t, dict) and t.get("name") == "Copy"), None)
        out: dict[str, Any] = {
            "name": resource.get("name"), "description": resource.get("description"),
            "state": resource.get("state"),  # not in a body: AEP answers it (bodies.flow_state)
            "options": resource.get("options") or {}, "mappingId": mapping_id, "mappingVersion": version,
            "sourceConnectionId": _first(resource.get("sourceConnectionIds")),
            "targetConnectionId": _first(resource.get("targetConnectionIds")), "flowSpec": of("flowSpec", "id"),
            "deltaColumn": ((copy or {}).get("params") or {}).get("deltaColumn"), "_hasCopy": copy is not None,
            **_schedule(resource.get("scheduleParams") or {})}
        return out
    if kind == "sourceConnection":
        out = {"name": resource.get("name"), "description": resource.get("description"),
               "baseConnectionId": resource.get("baseConnectionId"), "connectionSpec": of("connectionSpec", "id"),
               "format": of("data", "format")}
        for key, value in (of("data", "properties") or {}).items():
            out[f"data.properties.{key}"] = value
        for key, value in (resource.get("params") or {}).items():
            out[f"params.{key}"] = value
        return out
    if kind == "baseConnection":
        # No auth param: AEP answers them masked. A bucket that Adobe's role reads (the IAM-role connection's
        # one param) is compared with what was applied (plan.compare).
        return {"name": resource.get("name"), "description": resource.get("description"),
                "connectionSpec": of("connectionSpec", "id"), "authSpecName": of("auth", "specName")}
    if kind == "targetConnection":
        return {"name": resource.get("name"), "description": resource.get("description"),
                "params.dataSetId": of("params", "dataSetId"), "data.schema.id": of("data", "schema", "id")}
    raise ValueError(kind)
