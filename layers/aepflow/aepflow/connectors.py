"""The connector catalog: what aepflow knows about each source of the seeds.

Ids come from ../shared/reference/aep-openapi/FACTS.md §8 and the seeds' appendices.
Where a seed and the reference disagree the reference wins:
- Salesforce is cfc0fee1-… (seed 001 has the typo "ccfc0fee1-…"), and it flows through
  CRMToAEP (seed 001 names CloudStorageToAEP's id, which does not list Salesforce).
- Zendesk is 0a27232b-… with the "OAuth2 Refresh Code" auth spec (subdomain, accessToken);
  seed 002 uses ids and a spec name from its beta period.
- MariaDB is 3000eb99-… (seed 004's appendix drops the leading 3).
"""

from __future__ import annotations

from dataclasses import dataclass, field

DATA_LAKE_CONNECTION_SPEC_ID = "c604ff05-7f1a-43c0-8e18-33bf874cb11c"
CRM_FLOW_SPEC = "CRMToAEP"
# The REST/self-serve flow spec 6499120c-0b15-42dc-936e-847ea3c24d72 of the Zendesk and
# Mixpanel tutorials; its name is not in Adobe's documents we hold (FACTS §8).
REST_FLOW_SPEC = "RestStorageToAEP"


@dataclass(frozen=True)
class Connector:
    name: str
    label: str
    connection_spec_id: str
    auth_spec_name: str
    auth_params: tuple[str, ...]
    family: str  # crm | database | rest
    data_format: str
    flow_spec_name: str
    needs_delta_column: bool
    # Source connection params the spec must provide (beyond table/path which the family implies).
    source_params: tuple[str, ...] = ()
    optional_auth_params: tuple[str, ...] = field(default=())

    @property
    def mapping_dialect(self) -> str:
        """Seeds 000/001/004 write destinationXdmPath/sourceAttribute; the REST sources
        (002, 003) write sourceType/source/destination."""
        return "source" if self.family == "rest" else "attribute"

    @property
    def explores_columns(self) -> bool:
        """CRMs put the discovered columns in the source connection; REST sources use the
        explored schema to check the mapping. Database source connections name only a path."""
        return self.family in ("crm", "rest")


def _db(name: str, label: str, spec_id: str) -> Connector:
    return Connector(name, label, spec_id, "Connection String Based Authentication", ("connectionString",),
                     "database", "tabular", CRM_FLOW_SPEC, True)


CONNECTORS: dict[str, Connector] = {c.name: c for c in [
    Connector("salesforce", "Salesforce", "cfc0fee1-7dc0-40ef-b73e-d8b134c436f5", "Basic Authentication",
              ("username", "password", "securityToken"), "crm", "tabular", CRM_FLOW_SPEC, True,
              optional_auth_params=("environmentUrl",)),
    Connector("dynamics", "Microsoft Dynamics", "38ad80fe-8b06-4938-94f4-d4ee80266b07", "Basic Authentication",
              ("serviceUri", "username", "password"), "crm", "tabular", CRM_FLOW_SPEC, True),
    Connector("zendesk", "Zendesk", "0a27232b-2c6e-4396-b8c6-c9fc24e37ba4", "OAuth2 Refresh Code",
              ("subdomain", "accessToken"), "rest", "json", REST_FLOW_SPEC, False),
    Connector("mixpanel", "Mixpanel", "fd2c8ff3-1de0-4f6b-8fa8-4264784870eb", "Basic Authentication",
              ("username", "password"), "rest", "json", REST_FLOW_SPEC, False,
              source_params=("projectId", "timezone")),
    _db("postgresql", "PostgreSQL", "74a1c565-4e59-48d7-9d67-7c03b8a13137"),
    _db("mysql", "MySQL", "26d738e0-8963-47ea-aadf-c60de735468a"),
    _db("mariadb", "MariaDB", "3000eb99-cd47-43f3-827c-43caf170f015"),
    _db("oracle", "Oracle", "d6b52d86-f0f8-475f-89d4-ce54c8527328"),
    _db("sqlserver", "Microsoft SQL Server", "1f372ff9-38a4-4492-96f5-b9a4e4bd00ec"),
    _db("redshift", "Amazon Redshift", "3416976c-a9ca-4bba-901a-1f08f66978ff"),
    _db("bigquery", "Google BigQuery", "3c9b37f8-13a6-43d8-bad3-b863b941fedd"),
    _db("azure-synapse", "Azure Synapse Analytics", "a49bcc7d-8038-43af-b1e4-5a7a089a7d79"),
    _db("greenplum", "Greenplum", "37b6bf40-d318-4655-90be-5cd6f65d334b"),
    _db("db2", "IBM DB2", "09182899-b429-40c9-a15a-bf3ddbc8ced7"),
    _db("azure-table-storage", "Azure Table Storage", "ecde33f2-c56f-46cc-bdea-ad151c16cd69"),
    _db("azure-data-explorer", "Azure Data Explorer", "0479cc14-7651-4354-b233-7480606c2ac3"),
    _db("hive", "Apache Hive on Azure HDInsights", "aac9bbd4-6c01-46ce-b47e-51c6f0f6db3f"),
    _db("spark", "Apache Spark on Azure HDInsights", "6a8d82bc-1caf-45d1-908d-cadabc9d63a6"),
    _db("couchbase", "Couchbase", "1fe283f6-9bec-11ea-bb37-0242ac130002"),
    _db("phoenix", "Phoenix", "102706fb-a5cd-42ee-afe0-bc42f017ff43"),
]}

_BY_SPEC_ID = {c.connection_spec_id: c for c in CONNECTORS.values()}


def connector_named(name: str) -> Connector | None:
    return CONNECTORS.get(name.strip().lower())


def connector_for_spec_id(connection_spec_id: str) -> Connector | None:
    return _BY_SPEC_ID.get(connection_spec_id.strip().lower())
