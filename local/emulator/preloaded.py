"""What the emulated org already holds before a run: connection specs, flow
specs, global XDM classes/field groups, and the tenant schemas, datasets and
account the seed tutorials point at. (What the source systems behind the
connections hold is source_tables.py's.)"""
from __future__ import annotations

import copy
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA_LAKE_SPEC_ID = "c604ff05-7f1a-43c0-8e18-33bf874cb11c"
CRM_FLOW_SPEC_ID = "14518937-270c-4525-bdec-c2ba7cce3860"
CLOUD_FLOW_SPEC_ID = "9753525b-82c7-4dce-8a9b-5ccfce2b9876"
# FACTS §8: RestStorageToAEP, verified on the Sources SDK flow-spec page.
REST_FLOW_SPEC_ID = "6499120c-0b15-42dc-936e-847ea3c24d72"

SALESFORCE = "cfc0fee1-7dc0-40ef-b73e-d8b134c436f5"
DYNAMICS = "38ad80fe-8b06-4938-94f4-d4ee80266b07"
ZENDESK = "0a27232b-2c6e-4396-b8c6-c9fc24e37ba4"
MIXPANEL = "fd2c8ff3-1de0-4f6b-8fa8-4264784870eb"
S3 = "ecadc60c-7455-4d87-84dc-2a0e293d997b"

# Adobe's documented connection specs of the seeds' 20 connectors, vendored from
# ../shared/reference/connection-specs (each entry cites its Adobe pages) by
# local/emulator/vendor_connection_specs.py. aepflow's catalog reads the same file: both sides
# take Adobe's documents, neither takes the other's word.
CONNECTION_SPECS_FILE = HERE.parents[1] / "layers" / "aepflow" / "aepflow" / "spec" / "connection_specs.json"


def _conn_spec(cid, name, kind, auth_specs, category):
    spec = {
        "id": cid, "name": name, "providerId": "0ed90a81-07f4-4586-8190-b40eccef1c5a", "version": "1.0",
        "attributes": {"category": category, "isSource": kind != "target", "isDestination": kind == "target"},
        "authSpec": auth_specs, "permissionsInfo": {},
    }
    spec["_kind"] = kind  # internal, stripped from responses
    return spec


def _documents() -> dict:
    return json.loads(CONNECTION_SPECS_FILE.read_text())


def catalog_connectors() -> dict[str, str]:
    """The catalog's connector names (a spec's `source.connector`), each with its family."""
    return {entry["name"]: entry["family"] for entry in _documents()["connectors"]}


def connection_specs() -> dict[str, dict]:
    specs = []
    for entry in _documents()["connectors"]:
        spec = copy.deepcopy(entry["connectionSpec"])
        spec["_kind"] = entry["family"]      # crm | database | rest | file: explore and source-connection rules
        spec["_connector"] = entry["name"]   # the catalog's name: which source system explore reads
        # Source params a page documents as required where no sourceSpec is published
        # (Mixpanel's projectId and timezone, create/analytics/mixpanel.md).
        spec["_sourceParams"] = list(entry.get("sourceParams") or [])
        specs.append(spec)
    # Amazon S3 (family file) is one of the catalog's like every source (s3.json: "Access Key",
    # "IAMRole Based"); the Data Lake is the target every flow spec names.
    specs.append(_conn_spec(DATA_LAKE_SPEC_ID, "Data Lake", "target", [], "dataLake"))
    return {s["id"]: s for s in specs}


def flow_specs() -> dict[str, dict]:
    # CRMToAEP as the newest template prints it (seed 000; table-dataflow-template.md), with the
    # union of the three documented sourceConnectionSpecIds lists (27, 36 and 31 entries,
    # crmtoaep-source-lists.json): an org may still hold what an older page lists, so Couchbase,
    # Phoenix and the generic CRM 221c7626-… of seeds 001/004 are accepted.
    crm = json.loads((HERE / "specs" / "CRMToAEP.json").read_text())
    crm["sourceConnectionSpecIds"] = _documents()["crmToAepSourceConnectionSpecIds"]
    # RestStorageToAEP as GET /flowSpecs/6499120c-… prints it (sources-sdk/api/update-flow-specs.md).
    # No page lists Zendesk's or Mixpanel's id in it, yet both tutorials (seeds 002, 003) create
    # their flows with it; the emulator adds the two to the documented list.
    rest = json.loads((HERE / "specs" / "RestStorageToAEP.json").read_text())
    rest["sourceConnectionSpecIds"] = list(dict.fromkeys(rest["sourceConnectionSpecIds"] + [ZENDESK, MIXPANEL]))
    # CloudStorageToAEP as draft.md prints it (Mapping and Encryption, no Copy: a file source has
    # no delta column), its sourceConnectionSpecIds the union of the documented lists (9 and 12
    # ids, Amazon S3 in both), vendored by vendor_connection_specs.py from
    # flowspec-CloudStorageToAEP.json.
    cloud = json.loads((HERE / "specs" / "CloudStorageToAEP.json").read_text())
    return {s["id"]: s for s in (crm, cloud, rest)}


XDM = "https://ns.adobe.com/xdm"
# XDM's published classes and field groups, as the Schema Registry renders them (Compatibility
# Mode: `person.name.fullName`, `_id`, `_repo.createDate`), vendored from github.com/adobe/xdm by
# local/emulator/vendor_xdm.py; the file's "source" names the commit and how keys were converted.
XDM_DEFINITIONS_FILE = HERE.parents[1] / "layers" / "aepflow" / "aepflow" / "spec" / "xdm_definitions.json"


def xdm_definitions() -> dict:
    return json.loads(XDM_DEFINITIONS_FILE.read_text())


def _global(id_, title, rtype, extends=None, props=None):
    alt = "_" + id_.replace("https://ns.adobe.com/", "").replace("/", ".")
    r = {"$id": id_, "meta:altId": alt, "meta:resourceType": rtype, "version": "1.0", "title": title,
         "type": "object", "description": title, "meta:containerId": "global", "meta:xdmType": "object",
         "definitions": {}, "properties": copy.deepcopy(props or {})}
    if extends is not None:
        # adobe/xdm's own meta:intendedToExtend; identitymap's is [] (any class).
        r["meta:intendedToExtend"] = list(extends)
    return r


def global_classes() -> dict[str, dict]:
    return {cid: _global(cid, c["title"], "classes", props=c["properties"])
            for cid, c in xdm_definitions()["classes"].items()}


def global_fieldgroups() -> dict[str, dict]:
    return {fid: _global(fid, f["title"], "mixins", f.get("intendedToExtend") or [], f["properties"])
            for fid, f in xdm_definitions()["fieldGroups"].items()}


def _string(xdm_type="string"):
    return {"type": "string", "meta:xdmType": xdm_type}


# field-constraints.md: an integer bounded by +/-2^53 is a Long, as the seeds' explore answers
# bound every integer they print.
_LONG = {"type": "integer", "minimum": -9007199254740992, "maximum": 9007199254740991, "meta:xdmType": "long"}
_BOOLEAN = {"type": "boolean", "meta:xdmType": "boolean"}

# The tenant field group of the "REST Source Schema" (995dab...): the fields seeds 002 (Zendesk)
# and 003 (Mixpanel) map into, `_extconndev.<name>`. Those tutorials were written in an org whose
# tenant id is `extconndev` (tenant fields nest under `_<TENANT_ID>`, help/xdm/schema/namespaces.md),
# so the preloaded schema keeps their paths for the seeds' mappings to apply as written. A field is
# typed as the seed's own explore answer types the source field it maps (seed 002 `results.*`, seed
# 003 `properties.*`: integer -> Long, boolean -> Boolean); a string where it says no other type.
_ZENDESK_FIELDS = {  # seed 002, "Create a mapping": 34 distinct destinations (`verified` is listed twice)
    "id": _LONG, "external_id": _LONG, "role_type": _LONG, "custom_role_id": _LONG, "default_group_id": _LONG,
    "phone": _string(), "shared_phone_number": _BOOLEAN, "verified": _BOOLEAN, "alias": _string(),
    "last_login_at": _string(), "signature": _string(), "details": _string(), "notes": _string(),
    "active": _BOOLEAN, "created_at": _string(), "email": _string(), "iana_time_zone": _string(),
    "organization_id": _LONG, "locale": _string(), "locale_id": _LONG, "moderator": _BOOLEAN, "name": _string(),
    "only_private_comments": _BOOLEAN, "report_csv": _BOOLEAN, "restricted_agent": _BOOLEAN,
    "result_type": _string(), "role": _LONG, "shared": _BOOLEAN, "shared_agent": _BOOLEAN, "time_zone": _string(),
    "two_factor_auth_enabled": _BOOLEAN, "suspended": _BOOLEAN, "updated_at": _string(), "url": _string(),
}
_MIXPANEL_FIELDS = {  # seed 003, "Create a mapping": 11 destinations
    "distinct_id": _string(), "event_name": _string(), "import": _BOOLEAN, "insert_id": _string(),
    "item_id": _string(), "item_name": _string(), "item_price": _string(), "mp_api_endpoint": _string(),
    "mp_api_timestamp_ms": _LONG, "mp_processing_time_ms": _LONG, "time": _LONG,
}
REST_SOURCE_FIELD_GROUP = "d3c3d9a5fd1e4f0a9e3c5a40c2b3e5d1e1f6c8a7b2d40e95"
# tenant field groups the preloaded schemas use: (hex, title, intendedToExtend, properties)
PRELOADED_FIELD_GROUPS = [
    (REST_SOURCE_FIELD_GROUP, "REST Source Fields", [f"{XDM}/context/profile"],
     {"_extconndev": {"type": "object", "meta:xdmType": "object",
                      "properties": dict(sorted({**_ZENDESK_FIELDS, **_MIXPANEL_FIELDS}.items()))}}),
]

_PROFILE_DETAILS = [f"{XDM}/context/profile-person-details", f"{XDM}/context/profile-personal-details"]
# tenant schemas the seeds reference: (hex, title, class, profile-enabled, global field groups,
# tenant field groups). The three ACME profile schemas carry Demographic Details (`person.*`,
# seeds 000, 001) and Personal Contact Details (`personalEmail.address`: seed 001's mapping and
# their preloaded primary identity descriptor).
PRELOADED_SCHEMAS = [
    ("719c4e19184402c27595e65b931a142b", "ACME Profile Schema", f"{XDM}/context/profile", True, _PROFILE_DETAILS, []),
    ("52b59140414aa6a370ef5e21155fd7a686744b8739ecc168", "ACME Contact Schema", f"{XDM}/context/profile", True,
     _PROFILE_DETAILS, []),
    ("417a33eg81a221bd10495920574gfa2d", "Salesforce Accounts Schema", f"{XDM}/context/profile", True,
     _PROFILE_DETAILS, []),
    ("995dabbea86d58e346ff91bd8aa741a9f36f29b1019138d4", "REST Source Schema", f"{XDM}/context/profile", False,
     [], [REST_SOURCE_FIELD_GROUP]),
]
# datasets the seeds reference: (id, name, schema hex)
# Seed 000 creates its "ACME Target Dataset" (6889f4f8…), so it is not preloaded here.
PRELOADED_DATASETS = [
    ("5c8c3c555033b814b69f947f", "Salesforce Accounts Dataset", "417a33eg81a221bd10495920574gfa2d"),
    ("624bf42e16519d19496e3f67", "Zendesk Users Dataset", "995dabbea86d58e346ff91bd8aa741a9f36f29b1019138d4"),
    ("5ef4551c52e054191a61a99f", "Mixpanel Events Dataset", "995dabbea86d58e346ff91bd8aa741a9f36f29b1019138d4"),
]


# The Salesforce account (base connection) seed 000 reuses: an org already connected to
# Salesforce, so an example spec can name it by id instead of creating one.
PRELOADED_CONNECTIONS = [
    ("6990abad-977d-41b9-a85d-17ea8cf1c0e4", "ACME Salesforce account", SALESFORCE, "Basic Authentication",
     {"username": "preloaded@acme.example", "password": "preloaded-not-a-secret", "securityToken": "preloaded"}),
]
