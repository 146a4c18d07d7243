"""What the emulated org already holds before a run: connection specs, flow
specs, global XDM classes/field groups, and the tenant schemas and datasets the
seed tutorials point at."""
from __future__ import annotations

import copy
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA_LAKE_SPEC_ID = "c604ff05-7f1a-43c0-8e18-33bf874cb11c"
CRM_FLOW_SPEC_ID = "14518937-270c-4525-bdec-c2ba7cce3860"
CLOUD_FLOW_SPEC_ID = "9753525b-82c7-4dce-8a9b-5ccfce2b9876"
REST_FLOW_SPEC_ID = "6499120c-0b15-42dc-936e-847ea3c24d72"
# FACTS §8: the docs use this flow spec for Zendesk/Mixpanel/Mailchimp/OneTrust
# but never print its name. This name is our guess; look flows up by id.
REST_FLOW_SPEC_NAME = "RestStorageToAEP"

SALESFORCE = "cfc0fee1-7dc0-40ef-b73e-d8b134c436f5"
DYNAMICS = "38ad80fe-8b06-4938-94f4-d4ee80266b07"
# Seed 002 creates the Zendesk base connection with spec 2526ee57-… and auth
# "OAuth generic-rest-connector"/host; FACTS §8 (the current Zendesk page) gives
# 0a27232b-… with "OAuth2 Refresh Code" subdomain+accessToken. We follow FACTS.
ZENDESK = "0a27232b-2c6e-4396-b8c6-c9fc24e37ba4"
MIXPANEL = "fd2c8ff3-1de0-4f6b-8fa8-4264784870eb"
S3 = "ecadc60c-7455-4d87-84dc-2a0e293d997b"

_DRAFT7 = "http://json-schema.org/draft-07/schema#"


def _auth(name: str, props: dict, required: list[str]) -> dict:
    return {"name": name, "type": name.split(" ")[0],
            "spec": {"$schema": _DRAFT7, "type": "object", "properties": props, "required": required}}


def _s(secret=False):
    return {"type": "string", "format": "password"} if secret else {"type": "string"}


_CONN_STRING = _auth("Connection String Based Authentication", {"connectionString": _s(True)}, ["connectionString"])

# (id, name, kind) ; kind drives explore and source-connection rules
DATABASES = [
    ("74a1c565-4e59-48d7-9d67-7c03b8a13137", "PostgreSQL"),
    ("26d738e0-8963-47ea-aadf-c60de735468a", "MySQL"),
    # the seed 004 appendix prints "000eb99-…" (a typo, FACTS §8)
    ("3000eb99-cd47-43f3-827c-43caf170f015", "MariaDB"),
    ("d6b52d86-f0f8-475f-89d4-ce54c8527328", "Oracle"),
    ("1f372ff9-38a4-4492-96f5-b9a4e4bd00ec", "SQL Server"),
    ("3416976c-a9ca-4bba-901a-1f08f66978ff", "Amazon Redshift"),
    ("3c9b37f8-13a6-43d8-bad3-b863b941fedd", "Google BigQuery"),
    ("a49bcc7d-8038-43af-b1e4-5a7a089a7d79", "Azure Synapse Analytics"),
    ("37b6bf40-d318-4655-90be-5cd6f65d334b", "Greenplum"),
    ("09182899-b429-40c9-a15a-bf3ddbc8ced7", "IBM DB2"),
    ("aac9bbd4-6c01-46ce-b47e-51c6f0f6db3f", "Apache Hive on Azure HDInsights"),
    ("6a8d82bc-1caf-45d1-908d-cadabc9d63a6", "Apache Spark on Azure HDInsights"),
    ("0479cc14-7651-4354-b233-7480606c2ac3", "Azure Data Explorer"),
    ("ecde33f2-c56f-46cc-bdea-ad151c16cd69", "Azure Table Storage"),
    ("1fe283f6-9bec-11ea-bb37-0242ac130002", "Couchbase"),
    ("102706fb-a5cd-42ee-afe0-bc42f017ff43", "Phoenix"),
]


def _conn_spec(cid, name, kind, auth_specs, source_spec=None, category="database"):
    spec = {
        "id": cid, "name": name, "providerId": "0ed90a81-07f4-4586-8190-b40eccef1c5a", "version": "1.0",
        "attributes": {"category": category, "isSource": kind != "target", "isDestination": kind == "target"},
        "authSpec": auth_specs, "permissionsInfo": {},
    }
    if source_spec:
        spec["sourceSpec"] = source_spec
    spec["_kind"] = kind  # internal, stripped from responses
    return spec


def connection_specs() -> dict[str, dict]:
    specs = [
        _conn_spec(SALESFORCE, "Salesforce", "crm", [
            _auth("Basic Authentication", {"environmentUrl": _s(), "username": _s(), "password": _s(True),
                                           "securityToken": _s(True)}, ["username", "password", "securityToken"])],
            {"attributes": {"uiAttributes": {"isSource": True}}}, "crm"),
        _conn_spec(DYNAMICS, "Dynamics", "crm", [
            _auth("Basic Authentication", {"serviceUri": _s(), "username": _s(), "password": _s(True)},
                  ["serviceUri", "username", "password"])], None, "crm"),
        _conn_spec(ZENDESK, "Zendesk", "rest", [
            _auth("OAuth2 Refresh Code", {"subdomain": _s(), "accessToken": _s(True)}, ["subdomain", "accessToken"])],
            {"spec": {"$schema": _DRAFT7, "type": "object", "properties": {}}}, "customerSuccess"),
        _conn_spec(MIXPANEL, "Mixpanel", "rest", [
            _auth("Basic Authentication", {"username": _s(), "password": _s(True)}, ["username", "password"])],
            {"spec": {"$schema": _DRAFT7, "type": "object",
                      "properties": {"projectId": _s(), "timezone": _s()}, "required": ["projectId", "timezone"]}},
            "analytics"),
        _conn_spec(S3, "Amazon S3", "file", [
            _auth("Basic Authentication for S3", {"s3AccessKey": _s(), "s3SecretKey": _s(True)},
                  ["s3AccessKey", "s3SecretKey"])], None, "cloudStorage"),
        _conn_spec(DATA_LAKE_SPEC_ID, "Data Lake", "target", [], None, "dataLake"),
    ]
    for cid, name in DATABASES:
        auth = [_CONN_STRING]
        if name == "Google BigQuery":
            auth = [_auth("Basic Authentication", {"project": _s(), "clientId": _s(), "clientSecret": _s(True),
                                                   "refreshToken": _s(True)},
                          ["project", "clientId", "clientSecret", "refreshToken"])]
        specs.append(_conn_spec(cid, name, "database", auth))
    return {s["id"]: s for s in specs}


def _schedule_spec():
    crm = json.loads((HERE / "specs" / "CRMToAEP.json").read_text())
    return copy.deepcopy(crm["scheduleSpec"])


def flow_specs() -> dict[str, dict]:
    # CRMToAEP exactly as seed 000 prints it
    crm = json.loads((HERE / "specs" / "CRMToAEP.json").read_text())
    mapping = next(t for t in crm["transformationSpecs"] if t["name"] == "Mapping")
    cloud = {
        "id": CLOUD_FLOW_SPEC_ID, "name": "CloudStorageToAEP", "providerId": crm["providerId"], "version": "1.0",
        "sourceConnectionSpecIds": [S3], "targetConnectionSpecIds": [DATA_LAKE_SPEC_ID],
        "transformationSpecs": [copy.deepcopy(mapping)], "scheduleSpec": _schedule_spec(),
        "attributes": {"isSourceFlow": True, "frequency": "batch"},
    }
    rest = {
        "id": REST_FLOW_SPEC_ID, "name": REST_FLOW_SPEC_NAME, "providerId": crm["providerId"], "version": "1.0",
        "sourceConnectionSpecIds": [ZENDESK, MIXPANEL], "targetConnectionSpecIds": [DATA_LAKE_SPEC_ID],
        "transformationSpecs": [copy.deepcopy(mapping)], "scheduleSpec": _schedule_spec(),
        "attributes": {"isSourceFlow": True, "frequency": "batch"},
    }
    return {s["id"]: s for s in (crm, cloud, rest)}


XDM = "https://ns.adobe.com/xdm"


def _global(id_, title, rtype, cls=None, props=None):
    alt = "_" + id_.replace("https://ns.adobe.com/", "").replace("/", ".")
    r = {"$id": id_, "meta:altId": alt, "meta:resourceType": rtype, "version": "1.0", "title": title,
         "type": "object", "description": title, "meta:containerId": "global", "meta:xdmType": "object",
         "definitions": {}, "properties": props or {}}
    if cls:
        r["meta:intendedToExtend"] = [cls]
    return r


def global_classes() -> dict[str, dict]:
    return {c["$id"]: c for c in [
        _global(f"{XDM}/context/profile", "XDM Individual Profile", "classes"),
        _global(f"{XDM}/context/experienceevent", "XDM ExperienceEvent", "classes"),
    ]}


def global_fieldgroups() -> dict[str, dict]:
    p, e = f"{XDM}/context/profile", f"{XDM}/context/experienceevent"
    return {f["$id"]: f for f in [
        _global(f"{XDM}/context/profile-person-details", "Demographic Details", "mixins", p),
        _global(f"{XDM}/context/profile-personal-details", "Personal Contact Details", "mixins", p),
        _global(f"{XDM}/context/profile-work-details", "Business Contact Details", "mixins", p),
        _global(f"{XDM}/context/identitymap", "IdentityMap", "mixins", p),
        _global(f"{XDM}/context/experienceevent-environment-details", "Environment Details", "mixins", e),
    ]}


# tenant schemas the seeds reference: (hex, title, class, profile-enabled)
PRELOADED_SCHEMAS = [
    ("719c4e19184402c27595e65b931a142b", "ACME Profile Schema", f"{XDM}/context/profile", True),
    ("52b59140414aa6a370ef5e21155fd7a686744b8739ecc168", "ACME Contact Schema", f"{XDM}/context/profile", True),
    ("417a33eg81a221bd10495920574gfa2d", "Salesforce Accounts Schema", f"{XDM}/context/profile", True),
    ("995dabbea86d58e346ff91bd8aa741a9f36f29b1019138d4", "REST Source Schema", f"{XDM}/context/profile", False),
]
# datasets the seeds reference: (id, name, schema hex)
# Seed 000 creates its "ACME Target Dataset" (6889f4f8…), so it is not preloaded here.
PRELOADED_DATASETS = [
    ("5c8c3c555033b814b69f947f", "Salesforce Accounts Dataset", "417a33eg81a221bd10495920574gfa2d"),
    ("624bf42e16519d19496e3f67", "Zendesk Users Dataset", "995dabbea86d58e346ff91bd8aa741a9f36f29b1019138d4"),
    ("5ef4551c52e054191a61a99f", "Mixpanel Events Dataset", "995dabbea86d58e346ff91bd8aa741a9f36f29b1019138d4"),
]


def sample_sources() -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in (HERE / "sample_sources").glob("*.json")}


def source_family(spec: dict) -> str:
    """Which sample file serves a connection spec."""
    if spec["id"] == SALESFORCE:
        return "salesforce"
    if spec["id"] == DYNAMICS:
        return "dynamics"
    if spec["id"] == ZENDESK:
        return "zendesk"
    if spec["id"] == MIXPANEL:
        return "mixpanel"
    return "database"

# The Salesforce account (base connection) seed 000 reuses: an org already connected to
# Salesforce, so an example spec can name it by id instead of creating one.
PRELOADED_CONNECTIONS = [
    ("6990abad-977d-41b9-a85d-17ea8cf1c0e4", "ACME Salesforce account", SALESFORCE, "Basic Authentication",
     {"username": "preloaded@acme.example", "password": "preloaded-not-a-secret", "securityToken": "preloaded"}),
]
