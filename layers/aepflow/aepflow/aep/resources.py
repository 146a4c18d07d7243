"""AEP resources one by one: find by name, create, delete. Request bodies follow Adobe's
OpenAPI specs (../shared/reference/aep-openapi); where a seed's curl example is looser
(numbers as strings, `"id": null`, nulls for absent fields), the spec's form is sent."""

from __future__ import annotations

import base64
import json
from typing import Any

from aepflow.aep.client import XED, AepClient, segment
from aepflow.core.errors import AepNotFound

# Descriptors answer with `xdm` media types, not `xed` (help/xdm/api/descriptors.md#list).
XDM_DESCRIPTORS = "application/vnd.adobe.xdm+json"

DATASET_SCHEMA_CONTENT_TYPE = "application/vnd.adobe.xed-full-notext+json; version=1"
TARGET_SCHEMA_VERSION = "application/vnd.adobe.xed-full+json;version=1"
FLOW_COLLECTIONS = {
    "baseConnection": "/connections",
    "sourceConnection": "/sourceConnections",
    "targetConnection": "/targetConnections",
    "flow": "/flows",
}


# --- Flow Service: base/source/target connections and flows -----------------------------

def find_flow_service(client: AepClient, kind: str, name: str) -> dict | None:
    for item in client.paginate("flowservice", FLOW_COLLECTIONS[kind], params=[("property", f"name=={name}")]):
        if item.get("name") == name:
            return item
    return None


def get_flow_service(client: AepClient, kind: str, resource_id: str) -> dict:
    body = client.get("flowservice", f"{FLOW_COLLECTIONS[kind]}/{segment(resource_id)}")
    items = body.get("items") if isinstance(body, dict) and "items" in body else [body]
    if not items or not items[0]:
        raise AepNotFound(f"{kind} {resource_id} not found", status=404)
    return items[0]


def create_base_connection(client: AepClient, body: dict) -> dict:
    return client.post("flowservice", "/connections", json=body)


def create_source_connection(client: AepClient, body: dict) -> dict:
    return client.post("flowservice", "/sourceConnections", json=body)


def create_target_connection(client: AepClient, body: dict) -> dict:
    return client.post("flowservice", "/targetConnections", json=body)


def create_flow(client: AepClient, body: dict) -> dict:
    return client.post("flowservice", "/flows", json=body)


def flow_action(client: AepClient, flow_id: str, op: str, etag: str | None = None) -> dict[str, Any]:
    """POST /flows/{id}/action?op=OP (ENABLE, DISABLE, publish), with If-Match when the etag is known: the
    flow's {id, etag} as AEP answers it ({} for an empty answer)."""
    return client.post("flowservice", f"/flows/{segment(flow_id)}/action", params={"op": op},
                       headers={"If-Match": etag} if etag else None) or {}


def delete_flow_service(client: AepClient, kind: str, resource_id: str) -> None:
    client.delete("flowservice", f"{FLOW_COLLECTIONS[kind]}/{segment(resource_id)}")


def explore_table(client: AepClient, connection_id: str, table: str, *, preview: bool = False,
                  filters: dict[str, Any] | None = None) -> dict:
    """A table's columns; with preview, a few of its rows as `data` (explore/tabular.md, filter.md), only those
    a PQL filter document matches when one is given (`filters`, its JSON in base64: filter.md "Preview your data")."""
    params = {"objectType": "table", "object": table, **({"preview": "true"} if preview else {})}
    if filters is not None:
        params["filters"] = base64.b64encode(json.dumps(filters, separators=(",", ":")).encode()).decode()
    return client.get("flowservice", f"/connections/{segment(connection_id)}/explore", params=params)


def explore_root(client: AepClient, connection_id: str) -> list[str]:
    """The tables (or objects) a base connection reaches: GET /connections/{id}/explore?objectType=root
    answers an array of {type, name, path, canPreview, canFetchSchema} (explore/tabular.md,
    explore/database-nosql.md); each one's `path` is what objectType=table&object= takes."""
    answer = client.get("flowservice", f"/connections/{segment(connection_id)}/explore",
                        params={"objectType": "root"})
    items = answer if isinstance(answer, list) else []
    names = [item.get("path") or item.get("name") for item in items if isinstance(item, dict)]
    return [str(name) for name in names if isinstance(name, str) and name]


def explore_rest(client: AepClient, connection_id: str, source_params: dict[str, Any]) -> dict:
    encoded = base64.b64encode(json.dumps(source_params, separators=(",", ":")).encode()).decode()
    return client.get("flowservice", f"/connections/{segment(connection_id)}/explore", params={
        "objectType": "rest", "object": "json", "fileType": "json", "preview": "true", "sourceParams": encoded})


def explore_folder(client: AepClient, connection_id: str, path: str) -> list[dict[str, Any]]:
    """A cloud-storage folder's files and folders: GET /connections/{id}/explore?objectType=folder&object=PATH
    answers [{type: file|folder, name, path, canPreview, canFetchSchema}] (explore/cloud-storage.md; an
    older version of the page prints `File`/`Folder`)."""
    answer = client.get("flowservice", f"/connections/{segment(connection_id)}/explore",
                        params={"objectType": "folder", "object": path})
    return [item for item in (answer if isinstance(answer, list) else []) if isinstance(item, dict)]


def explore_file(client: AepClient, connection_id: str, path: str, file_type: str,
                 options: dict[str, str]) -> Any:
    """A file's structure and first records: objectType=file&object=PATH&fileType=...&preview=true, with the
    columnDelimiter, compressionType and encoding the source connection will use (explore/cloud-storage.md)."""
    return client.get("flowservice", f"/connections/{segment(connection_id)}/explore", params={
        "objectType": "file", "object": path, "fileType": file_type, "preview": "true", **options})


def connection_spec_config(client: AepClient, connection_spec_id: str, auth_type: str) -> Any:
    """GET /connectionSpecs/{id}/configs?authType=...: what Adobe's side of an auth type needs, e.g. the IAM
    role Amazon S3's "IAMRole Based" auth lets into a bucket (create/cloud-storage/s3.md, flow-service.yaml's
    configByConnectionSpecId): {"configParams": {"IAMRole": ...}}."""
    return client.get("flowservice", f"/connectionSpecs/{segment(connection_spec_id)}/configs",
                      params={"authType": auth_type})


def _first_item(client: AepClient, path: str) -> dict | None:
    try:
        body = client.get("flowservice", path) or {}
    except AepNotFound:
        return None
    items = body.get("items") if isinstance(body, dict) else None
    return items[0] if items else None


def get_flow_spec(client: AepClient, flow_spec_id: str) -> dict | None:
    """GET /flowSpecs/{id}, as the Sources SDK page reads RestStorageToAEP (FACTS §8)."""
    return _first_item(client, f"/flowSpecs/{segment(flow_spec_id)}")


def get_connection_spec(client: AepClient, connection_spec_id: str) -> dict | None:
    """GET /connectionSpecs/{id}: the live document whose auth specs a base connection must satisfy."""
    return _first_item(client, f"/connectionSpecs/{segment(connection_spec_id)}")


def find_flow_spec(client: AepClient, name: str) -> dict | None:
    for item in client.paginate("flowservice", "/flowSpecs", params=[("property", f"name=={name}")]):
        if item.get("name") == name:
            return item
    return None


# --- Schema Registry ----------------------------------------------------------------------

def find_schema(client: AepClient, title: str) -> dict | None:
    start = None
    for _ in range(100):
        params: list[tuple[str, str]] = [("property", f"title=={title}")]
        if start:
            params.append(("start", start))
        page = client.get("schemaregistry", "/tenant/schemas", params=params) or {}
        for item in page.get("results", []):
            if item.get("title") == title:
                return item
        nxt = (page.get("_page") or {}).get("next")
        if not nxt:
            return None
        start = nxt
    return None


def get_schema(client: AepClient, schema_id: str) -> dict:
    container = "tenant" if "/schemas/" in schema_id and "/xdm/" not in schema_id else "global"
    return client.get("schemaregistry", f"/{container}/schemas/{segment(schema_id)}", headers={"Accept": XED})


# The resolved view: a schema's, class's or field group's fields with $ref and allOf resolved
# (help/xdm/api/schemas.md#lookup, the Accept header's table).
XED_FULL = "application/vnd.adobe.xed-full+json; version=1"


def _container(ref: str) -> str:
    return "global" if ref.startswith("https://ns.adobe.com/xdm/") else "tenant"


def schema_fields(client: AepClient, schema_id: str) -> dict[str, Any]:
    """A schema's fields, as the Schema Registry resolves them (its class's and field groups')."""
    body = client.get("schemaregistry", f"/tenant/schemas/{segment(schema_id)}", headers={"Accept": XED_FULL}) or {}
    return body.get("properties") or {}


def part_fields(client: AepClient, ref: str, kind: str) -> dict[str, Any]:
    """A class's or field group's fields (kind: classes or fieldgroups), resolved."""
    body = client.get("schemaregistry", f"/{_container(ref)}/{kind}/{segment(ref)}",
                      headers={"Accept": XED_FULL}) or {}
    return body.get("properties") or {}


def create_schema(client: AepClient, *, title: str, description: str, class_id: str,
                  field_groups: list[str]) -> dict:
    # Shape of seed 004 (POST /tenant/schemas).
    return client.post("schemaregistry", "/tenant/schemas", json={
        "type": "object", "title": title, "description": description,
        "allOf": [{"$ref": class_id}] + [{"$ref": group} for group in field_groups],
        "meta:containerId": "tenant", "meta:resourceType": "schemas", "meta:xdmType": "object",
        "meta:class": class_id,
    })


def delete_schema(client: AepClient, schema: dict | str) -> None:
    """Delete a schema aepflow created, its identity descriptors first (descriptors are
    tenant-level objects of their own, help/xdm/api/descriptors.md)."""
    alt = schema.get("meta:altId") or schema.get("$id") if isinstance(schema, dict) else schema
    schema_id = schema.get("$id") if isinstance(schema, dict) else schema
    for descriptor in list_identity_descriptors(client, str(schema_id)):
        try:
            client.delete("schemaregistry", f"/tenant/descriptors/{segment(str(descriptor['@id']))}")
        except AepNotFound:
            pass
    client.delete("schemaregistry", f"/tenant/schemas/{segment(str(alt))}")


def list_identity_descriptors(client: AepClient, schema_id: str) -> list[dict]:
    """The identity descriptors of one schema (GET /tenant/descriptors, expanded objects by type)."""
    body = client.get("schemaregistry", "/tenant/descriptors", headers={"Accept": XDM_DESCRIPTORS},
                      params={"property": f"xdm:sourceSchema=={schema_id}"}) or {}
    return [d for d in body.get("xdm:descriptorIdentity") or []
            if isinstance(d, dict) and d.get("xdm:sourceSchema") == schema_id]


def create_identity_descriptor(client: AepClient, *, schema_id: str, path: str, namespace: str,
                               primary: bool) -> dict:
    # The identity descriptor of help/xdm/api/descriptors.md (#create, #identity-descriptor).
    return client.post("schemaregistry", "/tenant/descriptors", json={
        "@type": "xdm:descriptorIdentity", "xdm:sourceSchema": schema_id, "xdm:sourceVersion": 1,
        "xdm:sourceProperty": path, "xdm:namespace": namespace, "xdm:property": "xdm:code",
        "xdm:isPrimary": primary})


def enable_schema_for_profile(client: AepClient, schema_id: str) -> dict:
    """Add the union tag (help/xdm/api/schemas.md#union); immutable once set."""
    return client.patch("schemaregistry", f"/tenant/schemas/{segment(schema_id)}",
                        json=[{"op": "add", "path": "/meta:immutableTags", "value": ["union"]}])


# --- Catalog --------------------------------------------------------------------------------

def find_dataset(client: AepClient, name: str) -> str | None:
    body = client.get("catalog", "/dataSets", params={"name": name, "limit": "10", "properties": "name"}) or {}
    for dataset_id, dataset in body.items():
        if isinstance(dataset, dict) and dataset.get("name") == name:
            return dataset_id
    return None


def get_dataset(client: AepClient, dataset_id: str) -> dict:
    body = client.get("catalog", f"/dataSets/{segment(dataset_id)}") or {}
    return body.get(dataset_id) or next(iter(body.values()), {})


def create_dataset(client: AepClient, *, name: str, description: str, schema_id: str,
                   profile_enabled: bool) -> str:
    body: dict[str, Any] = {"name": name, "description": description,
                            "schemaRef": {"id": schema_id, "contentType": DATASET_SCHEMA_CONTENT_TYPE}}
    if profile_enabled:
        body["tags"] = {"unifiedProfile": ["enabled:true"]}
    answer = client.post("catalog", "/dataSets", json=body)
    # Catalog answers ["@/dataSets/{id}"].
    return str(answer[0]).rsplit("/", 1)[-1]


def delete_dataset(client: AepClient, dataset_id: str) -> None:
    client.delete("catalog", f"/dataSets/{segment(dataset_id)}")


# --- Data Prep --------------------------------------------------------------------------------

def find_mapping_set(client: AepClient, name: str) -> dict | None:
    start = 0
    for _ in range(100):
        page = client.get("conversion", "/mappingSets", params={"name": name, "limit": 50, "start": start}) or {}
        data = page.get("data") or []
        for item in data:
            if item.get("name") == name:
                return item
        if len(data) < 50:
            return None
        start += len(data)
    return None


def create_mapping_set(client: AepClient, body: dict) -> dict:
    return client.post("conversion", "/mappingSets", json=body)


# --- By kind (the journal's kinds: baseConnection, sourceConnection, targetConnection, flow,
# schema, dataset, mappingSet) -----------------------------------------------------------------

def find_id_by_name(client: AepClient, kind: str, name: str) -> str | None:
    """The id of the resource of `kind` named `name` (a schema by its title), or None."""
    if kind in FLOW_COLLECTIONS:
        item = find_flow_service(client, kind, name)
        return item["id"] if item else None
    if kind == "dataset":
        return find_dataset(client, name)
    if kind == "schema":
        item = find_schema(client, name)
        return item.get("$id") if item else None
    if kind == "mappingSet":
        item = find_mapping_set(client, name)
        return item["id"] if item else None
    raise ValueError(kind)


def delete_by_kind(client: AepClient, kind: str, resource_id: str) -> None:
    """Delete one resource. Mapping sets cannot be deleted: Data Prep defines no DELETE."""
    if kind in FLOW_COLLECTIONS:
        delete_flow_service(client, kind, resource_id)
    elif kind == "dataset":
        delete_dataset(client, resource_id)
    elif kind == "schema":
        delete_schema(client, resource_id)
    else:
        raise ValueError(kind)
