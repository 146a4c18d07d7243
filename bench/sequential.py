"""The plain sequential script bench/provision.py holds aepflow against: Adobe's community client
aepp (0.6.0) making the seed tutorials' requests for an example spec, one after another, in the
tutorial's order, as a data engineer following the tutorial would.

Each example follows its seed (../shared/seeds/00N): the requests and their order are the
tutorial's; the values come from the example spec (the same connection spec, auth spec, table,
mapping and schedule aepflow sends). Seeds 001 and 004 start from an existing account (base
connection) that their examples create from a secret, so the script creates it first, as seeds 002
and 003 do. Only the seeds' explore (002, 003: the REST preview) is made: aepflow's other explores
are checks the tutorials do not make.

aepp asks IMS for a token once per API object it builds (FlowService, Catalog, ...). A script could
share one, so the objects other than FlowService are built before the clock starts: the script
pays one IMS token per run, as aepflow does."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from typing import Any

from aepflow.aep.mapping import mapping_set_body
from aepflow.spec.auth import choose
from aepflow.spec.connectors import DATA_LAKE_CONNECTION_SPEC_ID
from aepflow.spec.parse import parse_spec, resolve_source

# The requests of each seed tutorial, in its order (see the module docstring).
SEED_ORDER = {
    "acme-salesforce-contacts": ("dataset", "source", "target", "mapping", "flowSpec", "flow"),        # seed 000
    "acme-salesforce-accounts": ("base", "source", "target", "mapping", "flowSpec", "flow"),           # seed 001
    "acme-zendesk-users": ("base", "explore", "source", "target", "mapping", "flow"),                  # seed 002
    "acme-mixpanel-events": ("base", "explore", "source", "target", "mapping", "flow"),                # seed 003
    "acme-oracle-e2e": ("base", "source", "schema", "dataset", "target", "mapping", "flowSpec", "flow"),  # seed 004
}
DATASET_SCHEMA_CONTENT_TYPE = "application/vnd.adobe.xed-full-notext+json; version=1"
TARGET_SCHEMA_VERSION = "application/vnd.adobe.xed-full+json;version=1"
# The fixed id of RestStorageToAEP that seeds 002 and 003 put in their flow, with no lookup.
REST_FLOW_SPEC_ID = "6499120c-0b15-42dc-936e-847ea3c24d72"


def _column(column: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {"name": column["name"], "type": column.get("type", "string")}
    if column.get("xdmType") in ("date-time", "date"):
        body["meta:xdmType"] = column["xdmType"]
        body["xdm"] = {"type": "string", "format": column["xdmType"]}
    else:
        body["xdm"] = {"type": column.get("xdmType") or body["type"]}
    return body


class Script:
    """aepp configured against one emulator; `run(specs)` provisions them one after another."""

    def __init__(self, emulator: Any, secrets: dict[str, Any]):
        import aepp
        from aepp import catalog, dataprep, schema

        self.emulator, self.secrets = emulator, secrets
        aepp.configure(org_id=emulator.org_id, client_id=emulator.client_id, secret=emulator.client_secret,
                       scopes="openid,AdobeID,read_organizations", sandbox="prod", environment="prod")
        # aepp talks to platform.adobe.io and ims-na1.adobelogin.com; point both at the emulator.
        aepp.config.endpoints["global"] = emulator.base_url
        aepp.config.config_object["oauthTokenEndpointV2"] = emulator.base_url + "/ims/token/v3"
        self.catalog, self.prep, self.schemas = catalog.Catalog(), dataprep.DataPrep(), schema.Schema()
        self.flows: Any = None

    def run(self, specs: list[dict[str, Any]]) -> float:
        """Provision `specs` in order; the seconds it took, from the first request to the last answer."""
        from aepp import flowservice

        started = time.perf_counter()
        self.flows = flowservice.FlowService()  # its IMS token: the one the run pays
        for spec in specs:
            self._provision(spec)
        return time.perf_counter() - started

    def _provision(self, raw: dict[str, Any]) -> None:
        spec = parse_spec(raw)
        resolved = resolve_source(spec)
        name = f"sequential:{spec.name}"
        ids: dict[str, Any] = {"base": spec.source.baseConnectionId, "schema": spec.target.schema_.id,
                               "dataset": spec.target.dataset.id}
        flows, conn = self.flows, self.flows.connector

        def base() -> None:
            secret = self.secrets[spec.source.credentialsSecret]
            connector = spec.connector
            choice = choose(connector.auth_specs, secret, spec.source.authSpecName, connector.label)
            ids["base"] = flows.createConnection(data={
                "name": f"{name}:base", "description": "sequential script",
                "auth": {"specName": choice.spec.name, "params": choice.params(secret)},
                "connectionSpec": {"id": resolved.connectionSpecId, "version": "1.0"}})["id"]

        def explore() -> None:
            encoded = base64.b64encode(json.dumps(spec.source.params, separators=(",", ":")).encode()).decode()
            conn.getData(f"{flows.endpoint}/connections/{ids['base']}/explore", params={
                "objectType": "rest", "object": "json", "fileType": "json", "preview": "true",
                "sourceParams": encoded})

        def source() -> None:
            if resolved.family == "crm":
                params: dict[str, Any] = {"tableName": spec.source.table, "columns": [
                    _column(c.model_dump(exclude_none=True)) for c in spec.source.columns or []]}
            elif resolved.family == "database":
                params = {"path": spec.source.table}
            else:
                params = dict(spec.source.params)
            ids["source"] = flows.createSourceConnection(data={
                "name": f"{name}:source", "description": "sequential script", "baseConnectionId": ids["base"],
                "data": {"format": resolved.format}, "params": params,
                "connectionSpec": {"id": resolved.connectionSpecId, "version": "1.0"}})["id"]

        def schema() -> None:
            create = spec.target.schema_.create
            answer = conn.postData(f"{self.schemas.endpoint}/tenant/schemas", data={
                "type": "object", "title": create.title, "description": "sequential script",
                "allOf": [{"$ref": create.class_}] + [{"$ref": g} for g in create.fieldGroups],
                "meta:containerId": "tenant", "meta:resourceType": "schemas", "meta:xdmType": "object",
                "meta:class": create.class_})
            ids["schema"] = answer["$id"]

        def dataset() -> None:
            create = spec.target.dataset.create
            body: dict[str, Any] = {"name": create.name or f"{name}:dataset", "description": "sequential script",
                                    "schemaRef": {"id": ids["schema"], "contentType": DATASET_SCHEMA_CONTENT_TYPE}}
            if create.profileEnabled:
                body["tags"] = {"unifiedProfile": ["enabled:true"]}
            ids["dataset"] = str(self.catalog.createDataSet(data=body)[0]).rsplit("/", 1)[-1]

        def target() -> None:
            ids["target"] = flows.createTargetConnection(data={
                "name": f"{name}:target", "description": "sequential script",
                "data": {"schema": {"id": ids["schema"], "version": TARGET_SCHEMA_VERSION}},
                "params": {"dataSetId": ids["dataset"]},
                "connectionSpec": {"id": DATA_LAKE_CONNECTION_SPEC_ID, "version": "1.0"}})["id"]

        def mapping() -> None:
            ids["mapping"] = self.prep.createMappingSet(mappingSet=mapping_set_body(
                name=f"{name}:mapping", schema_id=ids["schema"], rules=spec.mapping,
                dialect=resolved.mappingDialect))["id"]

        def flow_spec() -> None:
            [found] = flows.getFlowSpecs(prop=f"name=={resolved.flowSpecName}")
            ids["flowSpec"] = found["id"]

        def flow() -> None:
            transformations: list[dict[str, Any]] = []
            if spec.deltaColumn and resolved.family != "rest":
                transformations.append({"name": "Copy", "params": {
                    "deltaColumn": spec.deltaColumn.model_dump(exclude_none=True)}})
            transformations.append({"name": "Mapping", "params": {"mappingId": ids["mapping"], "mappingVersion": "0"}})
            schedule = spec.schedule.model_dump(exclude_none=True)
            schedule["interval"] = str(schedule["interval"])
            flows.createFlow(flow_spec_id=ids.get("flowSpec") or REST_FLOW_SPEC_ID, obj={
                "name": f"{name}:flow", "description": "sequential script",
                "flowSpec": {"id": ids.get("flowSpec") or REST_FLOW_SPEC_ID, "version": "1.0"},
                "sourceConnectionIds": [ids["source"]], "targetConnectionIds": [ids["target"]],
                "transformations": transformations, "scheduleParams": schedule})

        steps: dict[str, Callable[[], None]] = {"base": base, "explore": explore, "source": source, "schema": schema,
                                                "dataset": dataset, "target": target, "mapping": mapping,
                                                "flowSpec": flow_spec, "flow": flow}
        for what in SEED_ORDER[spec.name]:
            steps[what]()
