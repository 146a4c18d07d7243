"""A flow made the way a person in the AEP UI or a script makes one: AEP's own API calls (seed 000's
order: source connection, target connection, mapping set, flow), none of aepflow's provisioning,
names of its own. What `python -m local adopt --hand-made` and the adopt tests bring under management.

It reuses what the emulator holds already, as seed 000 does: the Salesforce account (base
connection 6990abad-…), the ACME profile schema and its dataset."""

from __future__ import annotations

from typing import Any

SALESFORCE_SPEC_ID = "cfc0fee1-7dc0-40ef-b73e-d8b134c436f5"
CRM_TO_AEP = "14518937-270c-4525-bdec-c2ba7cce3860"
ACCOUNT = "6990abad-977d-41b9-a85d-17ea8cf1c0e4"
SCHEMA = "https://ns.adobe.com/acme/schemas/719c4e19184402c27595e65b931a142b"
DATASET = "5c8c3c555033b814b69f947f"
DATA_LAKE = "c604ff05-7f1a-43c0-8e18-33bf874cb11c"


def make_flow(*, name: str = "Salesforce contacts (made in the UI)", schedule: dict[str, Any] | None = None,
              sandbox: str | None = None) -> dict[str, str]:
    """Create the flow in the (local) AEP; returns the ids it made."""
    from aepflow.aep import resources
    from aepflow.aep.client import aep_client
    from aepflow.aep.resources import TARGET_SCHEMA_VERSION

    client = aep_client(sandbox)
    source = resources.create_source_connection(client, {
        "name": f"{name}: source", "description": "Contacts, by hand", "baseConnectionId": ACCOUNT,
        "data": {"format": "tabular"}, "connectionSpec": {"id": SALESFORCE_SPEC_ID, "version": "1.0"},
        "params": {"tableName": "Contact", "columns": [
            {"name": "TestID", "type": "string", "xdm": {"type": "string"}},
            {"name": "Name", "type": "string", "xdm": {"type": "string"}},
            {"name": "Datefield", "type": "string", "meta:xdmType": "date-time",
             "xdm": {"type": "string", "format": "date-time"}}]}})["id"]
    target = resources.create_target_connection(client, {
        "name": f"{name}: target", "description": "Into the ACME dataset",
        "data": {"schema": {"id": SCHEMA, "version": TARGET_SCHEMA_VERSION}}, "params": {"dataSetId": DATASET},
        "connectionSpec": {"id": DATA_LAKE, "version": "1.0"}})["id"]
    mapping = resources.create_mapping_set(client, {
        "name": f"{name}: mapping", "version": 0, "xdmSchema": SCHEMA, "xdmVersion": "1.0",
        "outputSchema": {"schemaRef": {"id": SCHEMA, "contentType": TARGET_SCHEMA_VERSION}},
        "mappings": [{"destinationXdmPath": "_id", "sourceAttribute": "TestID", "identity": False, "version": 0},
                     {"destinationXdmPath": "person.name.fullName", "sourceAttribute": "Name", "identity": False,
                      "version": 0}]})["id"]
    flow = resources.create_flow(client, {
        "name": name, "description": "Made in the AEP UI, not by aepflow",
        "flowSpec": {"id": CRM_TO_AEP, "version": "1.0"}, "sourceConnectionIds": [source],
        "targetConnectionIds": [target],
        "transformations": [{"name": "Copy", "params": {"deltaColumn": {"name": "Datefield", "dateFormat": "YYYY-MM-DD",
                                                                       "timezone": "UTC"}}},
                            {"name": "Mapping", "params": {"mappingId": mapping, "mappingVersion": "0"}}],
        "scheduleParams": schedule or {"startTime": 1612310466, "frequency": "hour", "interval": "1"}})
    return {"flowId": flow["id"], "sourceConnectionId": source, "targetConnectionId": target, "mappingId": mapping}
