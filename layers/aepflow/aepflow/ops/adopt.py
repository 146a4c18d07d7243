"""Adopt: bring a flow aepflow did not create under management.

`adopt(flow_id)` reads the flow and everything it points at (its source connection and that
connection's base connection, its target connection, the mapping set version it maps with, its
flow spec), writes the spec that reproduces it, records it as managed, and plans that spec at once:
the plan shows no change. GET calls only, then two DynamoDB writes.

The spec references what the flow uses by id (`source.baseConnectionId`, `target.schema.id`,
`target.dataset.id`), so aepflow never changes or deletes those; the flow, its source and target
connections keep their names and descriptions through the spec's `resources` section."""

from __future__ import annotations

import re
from typing import Any

from aepflow.aep import live as live_mod
from aepflow.aep import resources
from aepflow.aep.client import aep_client
from aepflow.core.errors import AepAuthError, DataflowNotFound, SpecInvalid
from aepflow.ops.plan import mapping as mapping_plan
from aepflow.ops.plan import read as plan_read
from aepflow.spec.connectors import CRM_FLOW_SPEC, FLOW_SPEC_IDS, REST_FLOW_SPEC, connector_for_spec_id
from aepflow.spec.fields import NAME_PATTERN, UUID_PATTERN
from aepflow.spec.parse import build_models, parse_spec
from aepflow.store import owners, records

build_models()  # parse_spec's validators, built at import (spec.build_models)

MAX_NAME = 64


def name_for(flow_name: str) -> str:
    """A dataflow name (the spec's pattern) made from an AEP flow name."""
    slug = re.sub(r"[^a-z0-9]+", "-", (flow_name or "").lower()).strip("-")[:MAX_NAME].strip("-")
    return slug if re.fullmatch(NAME_PATTERN, slug) else "adopted-flow"


def _mapping_rules(mapping_set: dict[str, Any]) -> list[dict[str, Any]]:
    rules = []
    for entry in mapping_set.get("mappings") or []:
        rule: dict[str, Any] = {"source": entry.get("source") or entry.get("sourceAttribute"),
                                "destination": entry.get("destination") or entry.get("destinationXdmPath")}
        if entry.get("sourceType") and entry["sourceType"] != "ATTRIBUTE":
            rule["sourceType"] = entry["sourceType"]
        if entry.get("identity"):
            rule["identity"] = True
            if entry.get("namespaceCode"):
                rule["namespaceCode"] = entry["namespaceCode"]
            if entry.get("primaryIdentity"):
                rule["primary"] = True
        for key in ("name", "description"):
            if entry.get(key):
                rule[key] = entry[key]
        rules.append(rule)
    return rules


def _schedule(params: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in ("frequency", "interval", "startTime", "backfill"):
        value = params.get(key)
        if value is None:
            continue
        if key in ("interval", "startTime") and isinstance(value, str) and value.isdigit():
            value = int(value)
        out[key] = value
    return out


def _flow_spec_name(client, flow_spec_id: str | None) -> str | None:
    for name, known in FLOW_SPEC_IDS.items():
        if known == flow_spec_id:
            return name
    found = resources.get_flow_spec(client, flow_spec_id) if flow_spec_id else None
    return (found or {}).get("name")


def describe(flow_id: str, *, name: str | None = None,
             sandbox: str | None = None) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(the spec that reproduces the flow, the ids, the etags), from GETs only."""
    if not re.fullmatch(UUID_PATTERN, flow_id or ""):
        raise SpecInvalid("flowId is not a flow id", code="RequestInvalid", status=400,
                          problems=[{"path": "flowId", "message": "expected a UUID"}])
    # AEP writes its ids in lower case (every id of flow-service.yaml's examples and of the seeds): an id
    # asked for in capitals is the same flow.
    flow_id = flow_id.lower()
    client = aep_client(sandbox)
    try:
        flow = live_mod.get_one(client, "flow", flow_id)
    except AepAuthError as exc:
        if exc.code != "403027":  # FACTS §4: the gateway's "Sandbox ... is not found or not accessible"
            raise
        raise DataflowNotFound(f"no sandbox {client.sandbox!r} in the AEP organization", code="SandboxNotFound",
                               status=404) from None
    if flow is None:
        raise DataflowNotFound(f"no flow {flow_id} in sandbox {client.sandbox}", code="FlowNotFound", status=404)
    flow_id = str(flow.get("id") or flow_id)  # AEP's own id, however it was asked for (one owner per flow)
    source_id = (flow.get("sourceConnectionIds") or [None])[0]
    target_id = (flow.get("targetConnectionIds") or [None])[0]
    source = live_mod.get_one(client, "sourceConnection", source_id) if source_id else None
    target = live_mod.get_one(client, "targetConnection", target_id) if target_id else None
    if source is None or target is None:
        raise SpecInvalid(f"flow {flow_id} has no source or target connection AEP still has", code="NotAdoptable",
                          status=400, problems=[{"path": "flowId", "message": "its connections are gone"}])
    mapping_id, mapping_version = live_mod.mapping_in_use(flow)
    version = mapping_plan.version_number(0 if mapping_version is None else mapping_version)
    mapping = live_mod.mapping_set(client, mapping_id, version) if mapping_id and version is not None else None
    if mapping is None:
        raise SpecInvalid(f"flow {flow_id} has no mapping set aepflow can read", code="NotAdoptable", status=400,
                          problems=[{"path": "flowId", "message": "no Mapping transformation, its set is gone, or "
                                                                  "its mappingVersion is not a version number"}])
    connection_spec_id = (source.get("connectionSpec") or {}).get("id") or ""
    connector = connector_for_spec_id(connection_spec_id)
    flow_spec_id = (flow.get("flowSpec") or {}).get("id")
    flow_spec_name = _flow_spec_name(client, flow_spec_id)
    params = dict(source.get("params") or {})
    source_part: dict[str, Any] = {"baseConnectionId": source.get("baseConnectionId")}
    if connector is not None:
        source_part["connector"] = connector.name
        family, default_flow_spec = connector.family, connector.flow_spec_name
    else:
        fmt = (source.get("data") or {}).get("format") or "tabular"
        source_part.update(connectionSpecId=connection_spec_id, format=fmt)
        family, default_flow_spec = ("crm" if fmt == "tabular" else "rest"), (
            CRM_FLOW_SPEC if fmt == "tabular" else REST_FLOW_SPEC)
    if family == "crm":
        source_part["table"] = params.get("tableName")
    elif family == "database":
        source_part["table"] = params.get("path")
    else:
        source_part["params"] = params
    if flow_spec_name and flow_spec_name != default_flow_spec:
        source_part["flowSpec"] = flow_spec_name
    copy = next((t for t in flow.get("transformations") or [] if t.get("name") == "Copy"), None)
    spec: dict[str, Any] = {
        "name": name or name_for(flow.get("name") or ""), "sandbox": client.sandbox,
        "enabled": flow.get("state") != "disabled", "source": source_part,
        "target": {"schema": {"id": ((target.get("data") or {}).get("schema") or {}).get("id")},
                   "dataset": {"id": (target.get("params") or {}).get("dataSetId")}},
        "mapping": _mapping_rules(mapping), "schedule": _schedule(flow.get("scheduleParams") or {}),
        "resources": {kind: {"name": item.get("name"), "description": item.get("description") or ""}
                      for kind, item in (("flow", flow), ("sourceConnection", source), ("targetConnection", target))},
    }
    if flow.get("description"):
        spec["description"] = flow["description"]
    if copy and (copy.get("params") or {}).get("deltaColumn"):
        spec["deltaColumn"] = copy["params"]["deltaColumn"]
    options = {k: v for k, v in (flow.get("options") or {}).items()
               if k in ("errorDiagnosticsEnabled", "partialIngestionPercent")}
    if options:
        spec["options"] = options
    try:
        parsed = parse_spec(spec)
    except SpecInvalid as exc:
        raise SpecInvalid(f"flow {flow_id} cannot be written as an aepflow spec", code="NotAdoptable", status=400,
                          problems=exc.problems) from None
    ids = {"baseConnectionId": source.get("baseConnectionId"), "sourceConnectionId": source_id,
           "schemaId": spec["target"]["schema"]["id"], "datasetId": spec["target"]["dataset"]["id"],
           "targetConnectionId": target_id, "mappingId": mapping_id, "mappingVersion": version,
           "flowId": flow_id, "flowEtag": flow.get("etag"), "flowSpecId": flow_spec_id}
    etags = {"flow": flow.get("etag"), "sourceConnection": source.get("etag"), "targetConnection": target.get("etag")}
    return parsed.model_dump(mode="json", by_alias=True, exclude_none=True), ids, etags


def as_yaml(spec: dict[str, Any]) -> str:
    """The spec as a person would write it: what differs from the defaults (it parses back to the same spec)."""
    import yaml  # here, not at the top: only an adoption writes YAML (see document._yaml)

    short = parse_spec(spec).model_dump(mode="json", by_alias=True, exclude_none=True, exclude_defaults=True)
    return yaml.safe_dump(short, sort_keys=False, allow_unicode=True)


def adopt(flow_id: str, *, name: str | None = None, sandbox: str | None = None) -> dict[str, Any]:
    """Record the flow as managed under `name` and answer its spec (JSON and YAML) and its plan."""
    spec, ids, etags = describe(flow_id, name=name, sandbox=sandbox)
    owner = owners.flow_owner(ids["flowId"])
    if owner is not None:
        raise owners.already_managed(ids["flowId"], owner)
    connector = spec["source"].get("connector") or "custom"
    records.create(spec["name"], spec, ids, connector=connector, etags=etags, origin="adopt")
    plan, _ = plan_read.make(spec)
    return {"name": spec["name"], "flowId": ids["flowId"], "status": "ACTIVE", "spec": spec,
            "yaml": as_yaml(spec), "plan": plan.to_dict()}
