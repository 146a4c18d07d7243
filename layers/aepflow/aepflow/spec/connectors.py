"""The connector catalog: what aepflow knows about each source of the seeds, read from
connection_specs.json (Adobe's documented connection specs, vendored with the page each value
comes from; `python -m local.emulator.vendor_connection_specs` regenerates it from
../shared/reference/connection-specs). The local emulator serves the same documents from
GET /connectionSpecs.

Where a seed and Adobe's pages disagree, the pages win:
- Salesforce is cfc0fee1-… (seed 001 has the typo "ccfc0fee1-…"), and it flows through
  CRMToAEP (seed 001 names CloudStorageToAEP's id, which does not list Salesforce).
- Zendesk is 0a27232b-… with the "OAuth2 Refresh Code" auth spec; seed 002 uses the ids and
  the auth spec name of its beta (`RETIRED_SPEC_IDS`), which validation refuses, naming the
  documented id.
- MariaDB is 3000eb99-… (seed 004's appendix drops the leading 3).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aepflow.spec import suggest

DATA_LAKE_CONNECTION_SPEC_ID = "c604ff05-7f1a-43c0-8e18-33bf874cb11c"
CRM_FLOW_SPEC = "CRMToAEP"
# The file-based sources' flow spec (collect/cloud-storage.md; flowspec-CloudStorageToAEP.json): a Mapping
# transformation and no Copy, so no deltaColumn (its runSpec has none either).
FILE_FLOW_SPEC = "CloudStorageToAEP"
# The self-serve (generic REST) flow spec of the Zendesk and Mixpanel tutorials. FACTS §8: the
# Sources SDK flow-spec page names it RestStorageToAEP and reads it by this fixed id, as seeds 002
# and 003 do; aepflow reads it by id too.
REST_FLOW_SPEC = "RestStorageToAEP"
REST_FLOW_SPEC_ID = "6499120c-0b15-42dc-936e-847ea3c24d72"
FLOW_SPEC_IDS = {REST_FLOW_SPEC: REST_FLOW_SPEC_ID}

_DATA = json.loads((Path(__file__).resolve().parent / "connection_specs.json").read_text())


@dataclass(frozen=True)
class AuthSpec:
    """One auth spec of a connection spec: its JSON schema, as GET /connectionSpecs returns it."""

    name: str
    schema: dict[str, Any]
    published: bool = False
    documented_in: tuple[str, ...] = ()

    @property
    def params(self) -> list[str]:
        return list((self.schema.get("properties") or {}).keys())

    @property
    def required(self) -> list[str]:
        return list(self.schema.get("required") or [])


def auth_specs_of(connection_spec: dict[str, Any]) -> tuple[AuthSpec, ...]:
    """The auth specs of a connection spec document (the catalog's or a live one), in its order."""
    return tuple(AuthSpec(a["name"], a.get("spec") or {}) for a in connection_spec.get("authSpec") or []
                 if isinstance(a, dict) and isinstance(a.get("name"), str))


@dataclass(frozen=True)
class Connector:
    name: str
    label: str
    connection_spec_id: str
    family: str  # crm | database | rest | file
    auth_specs: tuple[AuthSpec, ...]
    # Source connection params the spec must provide (beyond table/path which the family implies).
    source_params: tuple[str, ...] = ()
    deprecated: str | None = None
    documented_in: tuple[str, ...] = ()
    # The connection spec's attributes.filterAtSource (filter.md): {enabled, queryLanguage, logicalOperators,
    # comparisonOperators, columnNameEscapeChar, valueEscapeChar}, or None for a source that takes no filter.
    filter_at_source: dict[str, Any] | None = None

    @property
    def takes_filters(self) -> bool:
        """Whether the source filters rows at the source: its filterAtSource is enabled (filter.md)."""
        return bool((self.filter_at_source or {}).get("enabled")) and self.family in ("crm", "database")

    @property
    def data_format(self) -> str:
        """The source connection's data.format: a file source's is its spec's (delimited by default)."""
        return {"rest": "json", "file": "delimited"}.get(self.family, "tabular")

    @property
    def tabular(self) -> bool:
        """Tables (and delimited files) have columns explore lists in full; a REST preview is a sample of
        records (and so is a JSON file's: the spec's format decides, parse.resolve_source)."""
        return self.family != "rest"

    @property
    def flow_spec_name(self) -> str:
        return {"rest": REST_FLOW_SPEC, "file": FILE_FLOW_SPEC}.get(self.family, CRM_FLOW_SPEC)

    @property
    def needs_delta_column(self) -> bool:
        return self.family in ("crm", "database")

    @property
    def mapping_dialect(self) -> str:
        """Seeds 000/001/004 write destinationXdmPath/sourceAttribute; the REST sources
        (002, 003) write sourceType/source/destination."""
        return "source" if self.family == "rest" else "attribute"

    def auth_spec(self, name: str) -> AuthSpec | None:
        return next((a for a in self.auth_specs if a.name == name), None)

    def unknown_auth_spec(self, name: str) -> str:
        """What a refusal of an auth spec name the connector lacks says: the closest, and them all."""
        names = [a.name for a in self.auth_specs]
        return (f"{name!r} is not an auth spec of {self.label}{suggest.did_you_mean(name, names)} "
                f"(Adobe documents {', '.join(map(repr, names))})")


def _connector(entry: dict[str, Any]) -> Connector:
    pages = {a["name"]: a for a in entry["authSpecs"]}
    auth = tuple(AuthSpec(a["name"], a["spec"], pages[a["name"]]["published"],
                          tuple(pages[a["name"]]["documentedIn"])) for a in entry["connectionSpec"]["authSpec"])
    deprecated = entry.get("deprecated")
    filter_at_source = (entry["connectionSpec"].get("attributes") or {}).get("filterAtSource")
    return Connector(entry["name"], entry["label"], entry["connectionSpecId"], entry["family"], auth,
                     tuple(entry.get("sourceParams") or ()), deprecated["message"] if deprecated else None,
                     tuple(entry.get("documentedIn") or ()),
                     filter_at_source if isinstance(filter_at_source, dict) else None)


CONNECTORS: dict[str, Connector] = {e["name"]: _connector(e) for e in _DATA["connectors"]}
_BY_SPEC_ID = {c.connection_spec_id: c for c in CONNECTORS.values()}
RETIRED_SPEC_IDS: dict[str, dict[str, Any]] = _DATA["retiredConnectionSpecIds"]


def connector_named(name: str) -> Connector | None:
    """The connector by its name, in any case (`PostgreSQL` is postgresql), as specs and commands name it."""
    return CONNECTORS.get(name.strip().lower())


find = connector_named  # the name the commands look a connector up by


def closest(name: str) -> list[str]:
    """The names of the connectors closest to `name` (by name or label: `Microsoft SQL Server` finds
    sqlserver), best first; [] when none is close."""
    by_label = {c.label: c.name for c in CONNECTORS.values()}
    found = suggest.closest(name, [*CONNECTORS, *by_label])
    return list(dict.fromkeys(by_label.get(n, n) for n in found))


def unknown_connector(name: str) -> str:
    """What a refusal of an unknown connector name says: the closest ones, else them all."""
    near = closest(name)
    if near:
        return f"unknown connector {name!r}; did you mean {suggest.quoted(near)}?"
    return f"unknown connector {name!r}; the connectors are {suggest.listing(sorted(CONNECTORS), len(CONNECTORS))}"


def connector_for_spec_id(connection_spec_id: str) -> Connector | None:
    return _BY_SPEC_ID.get(connection_spec_id.strip().lower())


def connector_of_source(source: Any) -> Connector | None:
    """The connector a spec's source names (by `connector`, else by `connectionSpecId`): the
    DataflowSpec model's and the steps' spec_view's `connector`, which read the same source."""
    if source.connector:
        return connector_named(source.connector)
    return connector_for_spec_id(source.connectionSpecId or "")


def retired_spec_id(connection_spec_id: str) -> tuple[dict[str, Any], Connector] | None:
    """(why, the connector that replaced it) for a spec id from a connector's beta, else None."""
    retired = RETIRED_SPEC_IDS.get(connection_spec_id.strip().lower())
    return (retired, CONNECTORS[retired["connector"]]) if retired else None


def connection_spec_documents() -> list[dict[str, Any]]:
    """Every catalog connection spec as GET /connectionSpecs returns it (what the emulator serves)."""
    return [json.loads(json.dumps(e["connectionSpec"])) for e in _DATA["connectors"]]


def crm_to_aep_source_connection_spec_ids() -> list[str]:
    """The union of the documented versions of CRMToAEP's sourceConnectionSpecIds."""
    return list(_DATA["crmToAepSourceConnectionSpecIds"])
