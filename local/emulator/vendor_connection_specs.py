"""Vendor Adobe's documented connection specs into the repo: one data file that the layer's
connector catalog (aepflow.connectors) and the emulator's GET /connectionSpecs both read.

    python -m local.emulator.vendor_connection_specs          # rewrite the data files
    python -m local.emulator.vendor_connection_specs --check  # exit 1 when one is stale

It also writes what the emulator's explore answers for the CRMs and REST sources
(local/emulator/sample_sources: the standard objects and columns of Adobe's mapping pages, the
seeds' own tables, and the documented REST previews), and the CloudStorageToAEP flow spec the
emulator serves (local/emulator/specs/CloudStorageToAEP.json). Database tables stay hand-written.

The input is ../shared/reference/connection-specs (Adobe's own pages, each file citing them);
CI has no ../shared, so the output is committed: layers/aepflow/aepflow/spec/connection_specs.json.

What this adds to the reference, and why:
- Where Adobe publishes an auth spec's JSON schema (GET /connectionSpecs on a page), it is
  copied as is, and marked `published`.
- Where Adobe shows only POST /connections examples, the schema is built from them, as the
  reference's README defines "required": properties are every param a documented request of
  that auth spec sends, `required` the params every one of them sends. Secret-looking params
  get `format: password`, as every published schema marks them (our choice for the rest).
- Where several pages show params for one auth spec (older versions, other platforms), the
  union is accepted ("an auth spec name or param that one page documents is one a user may
  hold", README): Redshift's `port`/`schema` beside its published schema, Zendesk's `host`.
- Auth specs are listed newest documented first: without `authSpecName`, aepflow takes the
  first one a secret satisfies.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
OUTPUT = REPO / "layers" / "aepflow" / "aepflow" / "spec" / "connection_specs.json"
DRAFT7 = "http://json-schema.org/draft-07/schema#"
PROVIDER = "0ed90a81-07f4-4586-8190-b40eccef1c5a"
SECRET_PARAMS = {"password", "clientSecret", "refreshToken", "securityToken", "accessToken", "servicePrincipalKey",
                 "keyFileContent", "connectionString", "jwtToken", "s3SecretKey", "s3SessionToken"}

EN = "AdobeDocs/experience-platform.en:help/sources/tutorials/api/create"
KIRBY = "AdobeAtAdobe/kirby_docs:acpdr/api-specification/markdown/narrative/tutorials/sources_tutorial/api"


def _reference_dir() -> Path:
    """../shared from /work/main resolves; a worktree /work/wt/X has a symlink /work/wt/shared."""
    for candidate in (REPO.parent / "shared", REPO.parents[1] / "shared", Path("/work/shared")):
        path = candidate / "reference" / "connection-specs"
        if path.is_dir():
            return path
    raise SystemExit("../shared/reference/connection-specs not found")


# name, label, reference file, family, deprecated (with the page that says so), source params.
# Families: crm (CRMToAEP, tabular, tableName+columns), database (CRMToAEP, tabular, path),
# rest (RestStorageToAEP, json, the connector's own params), file (CloudStorageToAEP, delimited, json or
# parquet files under params.path).
CONNECTORS = [
    ("salesforce", "Salesforce", "salesforce", "crm", None, []),
    ("dynamics", "Microsoft Dynamics", "dynamics", "crm", None, []),
    ("zendesk", "Zendesk", "zendesk", "rest", None, []),
    ("mixpanel", "Mixpanel", "mixpanel", "rest", None, ["projectId", "timezone"]),
    ("postgresql", "PostgreSQL", "postgresql", "database", None, []),
    ("mysql", "MySQL", "mysql", "database", None, []),
    ("mariadb", "MariaDB", "mariadb", "database", None, []),
    ("oracle", "Oracle", "oracle", "database", None, []),
    ("sqlserver", "Microsoft SQL Server", "sqlserver", "database", None, []),
    ("redshift", "Amazon Redshift", "redshift", "database", None, []),
    ("bigquery", "Google BigQuery", "bigquery", "database", None, []),
    ("azure-synapse", "Azure Synapse Analytics", "azure-synapse", "database", None, []),
    ("greenplum", "Greenplum", "greenplum", "database", None, []),
    ("db2", "IBM DB2", "db2", "database", None, []),
    ("azure-table-storage", "Azure Table Storage", "azure-table-storage", "database", None, []),
    ("azure-data-explorer", "Azure Data Explorer", "azure-data-explorer", "database", None, []),
    ("hive", "Apache Hive on Azure HDInsights", "hive", "database", None, []),
    ("spark", "Apache Spark on Azure HDInsights", "spark", "database", None, []),
    ("couchbase", "Couchbase", "couchbase", "database",
     {"message": "Adobe deprecated the Couchbase source in 2025 (end of May or June, pages disagree); "
                 "the newest CRMToAEP list no longer names it",
      "documentedIn": ["https://experienceleague.adobe.com/en/docs/experience-platform/sources/api-tutorials/"
                       "create/databases/couchbase",
                       "AdobeDocs/experience-platform.en:help/sources/tutorials/api/collect/crm.md"]}, []),
    ("phoenix", "Phoenix", "phoenix", "database",
     {"message": "Adobe deprecated the Phoenix source in 2025 (end of May or June, pages disagree) and points to "
                 "the Data Landing Zone; the newest CRMToAEP list no longer names it",
      "documentedIn": [f"{EN}/databases/phoenix.md",
                       "AdobeDocs/experience-platform.en:help/sources/tutorials/api/collect/crm.md"]}, []),
    ("s3", "Amazon S3", "s3", "file", None, []),
]

# Where each auth spec is documented: (connector, auth spec) -> pages, newest first. The pages are
# the ones the reference file names for that auth spec (its `sources` and `notes`).
AUTH_PAGES = {
    ("salesforce", "Basic Authentication"): [
        f"{EN}/crm/salesforce.md",
        "AdobeDocs/experience-platform.sv-SE:help/sources/tutorials/api/create/crm/salesforce.md",
        f"{KIRBY}/dynamics-salesforce-api-tutorial.md"],
    ("salesforce", "OAuth2 Client Credential"): [f"{EN}/crm/salesforce.md"],
    ("salesforce", "OAuth2 JWT Token Credential"): [f"{EN}/crm/salesforce.md"],
    ("dynamics", "Basic Authentication for Dynamics-Online"): [
        f"{EN}/crm/ms-dynamics.md",
        "AdobeDocs/experience-platform.de-DE:help/sources/tutorials/api/create/crm/ms-dynamics.md",
        f"{KIRBY}/crm/dynamics-api-tutorial.md"],
    ("dynamics", "Service Principal Key Based Authentication"): [f"{EN}/crm/ms-dynamics.md"],
    ("zendesk", "OAuth2 Refresh Code"): [
        f"{EN}/customer-success/zendesk.md",
        "AdobeDocs/experience-platform.sv-SE:help/sources/tutorials/api/create/customer-success/zendesk.md"],
    ("mixpanel", "Basic Authentication"): [
        f"{EN}/analytics/mixpanel.md",
        "AdobeDocs/experience-platform.fr-FR:help/sources/tutorials/api/create/analytics/mixpanel.md"],
    ("postgresql", "Connection String Based Authentication"): [f"{EN}/databases/postgres.md"],
    ("postgresql", "Basic Authentication"): [
        f"{EN}/databases/postgres.md",
        "AdobeDocs/experience-platform.sv-SE:help/sources/tutorials/api/create/databases/postgres.md"],
    ("postgresql", "Basic Authentication for PostgreSQL"): [
        "AdobeDocs/experience-platform.zh-Hans:help/sources/tutorials/api/create/databases/postgres.md"],
    ("mysql", "Connection String Based Authentication"): [
        f"{EN}/databases/mysql.md",
        "AdobeDocs/experience-platform.ja-JP:help/sources/tutorials/api/create/databases/mysql.md"],
    ("mysql", "Basic Authentication"): [f"{EN}/databases/mysql.md"],
    ("mariadb", "Connection String Based Authentication"): [f"{EN}/databases/mariadb.md"],
    ("mariadb", "Basic Authentication"): [f"{EN}/databases/mariadb.md"],
    ("oracle", "ConnectionString"): [f"{EN}/databases/oracle.md"],
    ("sqlserver", "Connection String Based Authentication"): [
        f"{EN}/databases/sql-server.md",
        "AdobeDocs/experience-platform.ja-JP:help/sources/tutorials/api/create/databases/sql-server.md"],
    ("redshift", "Basic Authentication"): [
        f"{EN}/databases/redshift.md",
        "AdobeDocs/experience-platform.fr-FR:help/sources/tutorials/api/create/databases/redshift.md"],
    ("bigquery", "Basic Authentication"): [
        f"{EN}/databases/bigquery.md",
        "AdobeDocs/experience-platform.zh-Hans:help/sources/tutorials/api/create/databases/bigquery.md"],
    ("bigquery", "Service Authentication"): [f"{EN}/databases/bigquery.md"],
    ("azure-synapse", "Connection String Based Authentication"): [f"{EN}/databases/synapse-analytics.md"],
    ("azure-synapse", "Service Principal Key Based Authentication"): [f"{EN}/databases/synapse-analytics.md"],
    ("greenplum", "Basic Authentication"): [f"{EN}/databases/greenplum.md"],
    ("greenplum", "Connection String Based Authentication"): [
        f"{KIRBY}/database-nosql/greenplum-api-tutorial.md"],
    ("db2", "Basic Authentication"): [f"{EN}/databases/ibm-db2.md"],
    ("azure-table-storage", "Connection String Based Authentication"): [f"{EN}/databases/ats.md"],
    ("azure-data-explorer", "Service Principal Based Authentication"): [f"{EN}/databases/data-explorer.md"],
    ("hive", "HDInsights Basic Authentication"): [f"{EN}/databases/hive.md"],
    ("spark", "HDInsights Basic Authentication"): [f"{EN}/databases/spark.md"],
    ("couchbase", "Connection String Based Authentication"): [f"{EN}/databases/couchbase.md"],
    ("phoenix", "Basic Authentication"): [f"{EN}/databases/phoenix.md"],
    ("s3", "Access Key"): [
        f"{EN}/cloud-storage/s3.md",
        "AdobeDocs/experience-platform.ja-JP:help/sources/tutorials/api/create/cloud-storage/s3.md",
        f"{KIRBY}/cloud-storages/s3-api-tutorial.md"],
    # Experience Platform on AWS only; the newest page (ja-JP copy, Experience League) alone documents it.
    ("s3", "IAMRole Based"): [
        "AdobeDocs/experience-platform.ja-JP:help/sources/tutorials/api/create/cloud-storage/s3.md",
        "https://experienceleague.adobe.com/en/docs/experience-platform/sources/api-tutorials/create/cloud-storage/s3"],
}

# Preference among auth specs a secret may satisfy alike: newest documented first.
AUTH_ORDER = {
    # All later PostgreSQL pages use "Connection String Based Authentication"; the published
    # schema's "Basic Authentication for PostgreSQL" is the oldest page's (postgresql.json notes).
    "postgresql": ["Connection String Based Authentication", "Basic Authentication",
                   "Basic Authentication for PostgreSQL"],
    # Current AdobeDocs pages show only "Basic Authentication" for Greenplum; the other name is
    # from the unmaintained kirby docs (greenplum.json notes).
    "greenplum": ["Basic Authentication", "Connection String Based Authentication"],
}

# Param types where a documented example is not a string: Phoenix prints `"port": {PORT}` and
# `"enableSsl": {SSL}` unquoted (phoenix.json notes: a number and a boolean are meant).
PARAM_TYPES = {("phoenix", "port"): "integer", ("phoenix", "enableSsl"): "boolean"}

# Params one documented version shows beside a published schema that lacks them (README).
EXTRA_PROPERTIES = {
    # Newest Redshift page adds port (Azure) and port + schema (AWS) to the published schema.
    ("redshift", "Basic Authentication"): {"port": "Port of the Amazon Redshift server (newest page)",
                                           "schema": "Schema of the database (newest page, AWS)"},
    # The newer S3 pages' "Gather required credentials" table lists these beside the keys, though no
    # documented body sends them (s3.json authSpecNamesDocumented["Access Key"].credentialTableAlsoLists):
    # optional params a secret may hold.
    ("s3", "Access Key"): {"serviceUrl": "The endpoint of the Amazon S3 instance (optional; newer pages' table)",
                           "bucketName": "The bucket to narrow the connection to (newer pages' table)",
                           "folderPath": "The folder to narrow the connection to, when access is restricted "
                                         "(newer pages' table)"},
}

# A documented auth spec may need one of two names for the same value: Zendesk's instance is
# `subdomain` on the newest page and `host` on the intermediate version (zendesk.json notes); every
# documented request names it, so one of them is required (our reading; no schema is published).
ANY_OF = {("zendesk", "OAuth2 Refresh Code"): [["subdomain"], ["host"]]}

# Row filters at the source (help/sources/tutorials/api/filter.md): a source that takes them says so in its
# connection spec's attributes.filterAtSource. The page prints Google BigQuery's (GET /connectionSpecs?property=
# name=="google-big-query"), copied as printed; it lists Microsoft Dynamics and Salesforce among the sources that
# support filtering (with Snowflake, which the catalog does not carry) without printing their attributes, so
# theirs say `enabled` alone: no operators are printed for them (aepflow then allows the page's operator table).
FILTER_PAGE = "AdobeDocs/experience-platform.en:help/sources/tutorials/api/filter.md"
FILTER_AT_SOURCE = {
    "bigquery": {"enabled": True, "queryLanguage": "SQL", "logicalOperators": ["and", "or", "not"],
                 "comparisonOperators": ["=", "!=", "<", "<=", ">", ">=", "like", "in"],
                 "columnNameEscapeChar": "`", "valueEscapeChar": "'"},
    "dynamics": {"enabled": True},
    "salesforce": {"enabled": True},
}

# Spec ids from a connector's beta that its current documents replaced (validation names the
# current one): seed 002 uses 2526ee57-… for the base connection and 6360f136-… for the source
# connection, both from the oldest Zendesk page (zendesk.json connectionSpecIdsSeenInDocs).
RETIRED = {
    "2526ee57-0af4-46ea-a477-720a53108145": {
        "connector": "zendesk",
        "documentedIn": [f"{EN}/customer-success/zendesk.md (an older, beta version)"],
        "why": "the Zendesk beta's connection spec (seed 002); Adobe's current Zendesk page uses the documented id"},
    "6360f136-5980-4111-8bdf-15d29eab3b5a": {
        "connector": "zendesk",
        "documentedIn": [f"{EN}/customer-success/zendesk.md (an older, beta version)"],
        "why": "the Zendesk beta's source connection spec (seed 002); Adobe's current Zendesk page uses the "
               "documented id"},
}


def _requests(doc: dict) -> list[dict]:
    bodies = []
    for key in ("connectionRequest", "connectionRequestVariants"):
        value = doc.get(key) or []
        if isinstance(value, dict):
            value = list(value.values()) if key.endswith("Variants") else [value]
        bodies += [b for b in value if isinstance(b, dict)]
    return [b for b in bodies if (b.get("connectionSpec") or {}).get("id") == doc["connectionSpecId"]]


def _property(connector: str, param: str, description: str | None = None) -> dict:
    prop: dict = {"type": PARAM_TYPES.get((connector, param), "string")}
    if description:
        prop["description"] = description
    if param in SECRET_PARAMS:
        prop["format"] = "password"
    return prop


def _auth_specs(connector: str, doc: dict) -> tuple[list[dict], list[dict]]:
    """(authSpec objects as GET /connectionSpecs returns them, catalog annotations)."""
    published = {a["name"]: a for a in (doc.get("connectionSpec") or {}).get("authSpec") or []}
    documented: dict[str, list[set[str]]] = {}
    for body in _requests(doc):
        auth = body.get("auth") or {}
        if auth.get("specName"):
            documented.setdefault(auth["specName"], []).append(set((auth.get("params") or {}).keys()))
    names = list(dict.fromkeys([*published, *documented]))
    order = AUTH_ORDER.get(connector)
    if order:
        assert set(order) == set(names), (connector, names)
        names = order
    specs, notes = [], []
    for name in names:
        if name in published:
            spec = json.loads(json.dumps(published[name]))
            for param, description in EXTRA_PROPERTIES.get((connector, name), {}).items():
                spec["spec"]["properties"].setdefault(param, _property(connector, param, description))
        else:
            param_sets = documented[name]
            seen = list(dict.fromkeys(p for body in _requests(doc) if (body.get("auth") or {}).get("specName") == name
                                      for p in (body["auth"].get("params") or {})))
            every = [p for p in seen if all(p in params for params in param_sets)]
            schema: dict = {"$schema": DRAFT7, "type": "object",
                            "description": f"defines auth params required for connecting to {connector}",
                            "properties": {p: _property(connector, p) for p in seen}, "required": every}
            for param, description in EXTRA_PROPERTIES.get((connector, name), {}).items():
                schema["properties"].setdefault(param, _property(connector, param, description))
            if (connector, name) in ANY_OF:
                schema["anyOf"] = [{"required": r} for r in ANY_OF[(connector, name)]]
            spec = {"name": name, "spec": schema}
            for body in _requests(doc):
                auth = body.get("auth") or {}
                if auth.get("specName") == name and auth.get("type"):
                    spec["type"] = auth["type"]  # e.g. BigQuery's newer POST examples: "OAuth2.0"
        specs.append(spec)
        pages = AUTH_PAGES[(connector, name)]
        notes.append({"name": name, "published": name in published, "documentedIn": pages})
    return specs, notes


def build(reference: Path) -> dict:
    flow = json.loads((reference / "flowspec-CRMToAEP.json").read_text())
    connectors = []
    for name, label, file, family, deprecated, source_params in CONNECTORS:
        doc = json.loads((reference / f"{file}.json").read_text())
        auth_specs, auth_notes = _auth_specs(name, doc)
        published = doc.get("connectionSpec") or {}
        # S3's only printed spec is kept out of `connectionSpec` (its `required` names params no request
        # sends, s3.json notes): its name, provider and version stand, its authSpec does not.
        printed = published or {k: v for k, v in ((doc.get("connectionSpecAsPrinted") or {}).get("value") or {}).items()
                                if k in ("name", "providerId", "version")}
        published = published or {}
        connection_spec = {"id": doc["connectionSpecId"], "name": printed.get("name") or name,
                           "providerId": printed.get("providerId") or PROVIDER,
                           "version": printed.get("version") or "1.0", "authSpec": auth_specs}
        for key in ("sourceSpec", "exploreSpec", "attributes"):
            if key in published:
                connection_spec[key] = published[key]
        if name in FILTER_AT_SOURCE:
            connection_spec["attributes"] = {**connection_spec.get("attributes", {}),
                                             "filterAtSource": FILTER_AT_SOURCE[name]}
        entry = {
            "name": name, "label": label, "family": family, "connectionSpecId": doc["connectionSpecId"],
            # The AEP spec name where a page prints GET /connectionSpecs; otherwise undocumented
            # and the catalog's own name stands in (the reference file's notes say what was searched).
            "specNameDocumented": bool(printed.get("name")),
            "sourceParams": source_params,
            "deprecated": deprecated,
            "documentedIn": doc["sources"],
            "authSpecs": auth_notes,
            # Where attributes.filterAtSource comes from, and whether the page prints it or only lists the source.
            **({"filterAtSource": {"documentedIn": [FILTER_PAGE], "printed": "comparisonOperators" in
                                   FILTER_AT_SOURCE[name]}} if name in FILTER_AT_SOURCE else {}),
            "connectionSpec": connection_spec,
        }
        connectors.append(entry)
    return {
        "about": "Adobe's documented connection specs of every connector aepflow carries. Generated by "
                 "`python -m local.emulator.vendor_connection_specs` from ../shared/reference/connection-specs "
                 "(each value cites its Adobe page there); do not edit by hand. Read by aepflow.connectors "
                 "(validation) and by the local emulator (GET /connectionSpecs).",
        "crmToAepSourceConnectionSpecIds": flow["sourceConnectionSpecIdsUnion"],
        "connectors": connectors,
        "retiredConnectionSpecIds": RETIRED,
    }


# --- What the emulator's explore answers (local/emulator/sample_sources) ----------------------

SAMPLES = REPO / "local" / "emulator" / "sample_sources"
# Salesforce API names of the objects Adobe's mapping page documents by heading
# (mapping/salesforce.md); Adobe never prints them, Salesforce's object reference does.
SALESFORCE_OBJECTS = {"Contact": "Contact", "Lead": "Lead", "Account": "Account", "Opportunity": "Opportunity",
                      "Opportunity contact role": "OpportunityContactRole", "Campaign": "Campaign",
                      "Campaign member": "CampaignMember", "Account contact relation": "AccountContactRelation"}
# Dynamics (Dataverse) logical names of the sections of mapping/dynamics.md; Adobe prints only
# `contact` and `lead` (ms-dynamics.md); Opportunity contact roles are `connection` records
# (record1id/record2id/connectionrole1), marketing lists `list` and `listmember`.
DYNAMICS_OBJECTS = {"Contacts": "contact", "Leads": "lead", "Accounts": "account", "Opportunities": "opportunity",
                    "Opportunity contact roles": "connection", "Campaigns": "campaign", "Marketing list": "list",
                    "Marketing list members": "listmember"}
# The tables the seeds explore or name beside the standard objects: seed 000's Contact columns
# (table-dataflow-template.md: TestID, Name, Datefield) and seed 001's `Accounts` table
# (collect/crm.md: first_name, last_name, email), whose delta column is `updatedAt`.
SEED_TABLES = {
    "salesforce": {"Contact": [("TestID", "string"), ("Name", "string"), ("Datefield", "date-time")],
                   "Accounts": [("first_name", "string"), ("last_name", "string"), ("email", "string"),
                                ("updatedAt", "date-time")]},
}
_DATE_FIELDS = {"birthdate", "actualend", "actualstart", "estimatedclosedate", "actualclosedate"}
# The standard columns the vendors' own references document beside those Adobe's mapping pages list
# (Dynamics' account has emailaddress1; Salesforce's Lead has Phone): crm_standard_columns.json, each
# object citing its page, Salesforce's Object Reference (developer.salesforce.com/docs/atlas.en-us.
# object_reference.meta/object_reference/sforce_api_objects_{account,contact,lead}.htm) and the
# Dynamics 365 table/entity reference (learn.microsoft.com/en-us/dynamics365/sales/developer/entities/
# {account,contact,lead}), with the type each gives. Appended after the columns above.
STANDARD_COLUMNS = Path(__file__).resolve().parent / "crm_standard_columns.json"


def _column(name: str, kind: str | None = None) -> dict:
    """A column as explore answers it (explore/tabular.md: name, type, xdm, meta:xdmType for dates).
    Adobe lists only field names; their types are our reading of the names (…Date, …on, Is…)."""
    lowered = name.lower()
    if kind is None:
        if lowered.endswith("date") or lowered in ("createdon", "modifiedon") or lowered in _DATE_FIELDS:
            kind = "date-time"
        elif name[:2] in ("Is", "is") and name[2:3].isupper() or name.startswith("Has"):
            kind = "boolean"
        else:
            kind = "string"
    if kind in ("date-time", "date"):
        return {"name": name, "type": "string", "meta:xdmType": kind, "xdm": {"type": "string", "format": kind}}
    return {"name": name, "type": kind, "xdm": {"type": kind}}


def _tables(connector: str, doc: dict, names: dict[str, str]) -> dict:
    tables: dict[str, dict] = {}
    for section, table in names.items():
        fields = list(dict.fromkeys(doc["standardObjectSourceFields"][section]))
        tables[table] = {"format": "flat", "schema": {"columns": [_column(f) for f in fields]}}
    standard = json.loads(STANDARD_COLUMNS.read_text()).get(connector, {})
    for table, columns in [*SEED_TABLES.get(connector, {}).items(),
                           *((t, d["columns"]) for t, d in standard.items())]:
        existing = tables.setdefault(table, {"format": "flat", "schema": {"columns": []}})["schema"]["columns"]
        known = {c["name"] for c in existing}
        existing.extend(_column(n, k) for n, k in columns if n not in known)
    return tables


def samples(reference: Path) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for connector, names in (("salesforce", SALESFORCE_OBJECTS), ("dynamics", DYNAMICS_OBJECTS)):
        out[connector] = _tables(connector, json.loads((reference / f"{connector}.json").read_text()), names)
    # REST previews as the pages print them: Zendesk's current page (`result`, zendesk.json
    # explore.preview) and seed 003's Mixpanel response (`event`, `properties.*`).
    out["zendesk"] = {"users": json.loads((reference / "zendesk.json").read_text())["explore"]["preview"]}
    out["mixpanel"] = {"events": json.loads((reference / "mixpanel.json").read_text())["explore"]["preview"]}
    return out


FLOW_SPECS = REPO / "local" / "emulator" / "specs"


def cloud_storage_flow_spec(reference: Path) -> dict:
    """CloudStorageToAEP as draft.md's GET /flowSpecs prints it (flowspec-CloudStorageToAEP.json
    `flowSpec`: Mapping and Encryption transformations, no Copy), with the union of the documented
    sourceConnectionSpecIds lists (9 and 12 ids): an org may still hold what an older page lists."""
    doc = json.loads((reference / "flowspec-CloudStorageToAEP.json").read_text())
    return {**doc["flowSpec"], "sourceConnectionSpecIds": doc["sourceConnectionSpecIdsUnion"]}


def render(reference: Path) -> str:
    return json.dumps(build(reference), indent=1, ensure_ascii=False) + "\n"


def rendered_files(reference: Path) -> dict[Path, str]:
    files = {OUTPUT: render(reference)}
    for name, body in samples(reference).items():
        files[SAMPLES / f"{name}.json"] = json.dumps(body, indent=1, ensure_ascii=False) + "\n"
    files[FLOW_SPECS / "CloudStorageToAEP.json"] = json.dumps(cloud_storage_flow_spec(reference), indent=1,
                                                               ensure_ascii=False) + "\n"
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when the committed file is stale")
    args = parser.parse_args(argv)
    files = rendered_files(_reference_dir())
    stale = [path for path, text in files.items() if not path.exists() or path.read_text() != text]
    if args.check:
        for path in stale:
            print(f"{path.relative_to(REPO)} is stale")
        return 1 if stale else 0
    for path in stale:
        path.write_text(files[path])
        print(f"wrote {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
