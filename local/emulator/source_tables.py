"""What the source systems behind the connections hold, as Flow Service's explore answers it.

By default, the seeds' tables (sample_sources/*.json): every database connector holds seed 004's
ADMIN.E2E (database.json), each CRM its standard objects (salesforce.json, dynamics.json: the fields
Adobe's mapping pages list, then the standard columns Salesforce's Object Reference and Microsoft's
Dynamics 365 table/entity reference document, crm_standard_columns.json, whose entries cite their
pages; both written by vendor_connection_specs.py) and each REST source the preview its page prints
(zendesk.json, mixpanel.json). A `--sources` file
(sources_file.py) adds the tables or objects of one's own systems, per connector: a table it
describes is answered as described (one of the seeds' of that name included); the others stay.

A described table is answered in the shapes Adobe's pages print:
- explore/tabular.md, explore/database-nosql.md: `{"format": "flat", "schema": {"columns": [...]}}`,
  a column `{"name", "type", "xdm": {"type"}}`, a date `"meta:xdmType"` with `xdm.format`;
- explore/advertising.md: a `long` column's `xdm` is an integer bounded by +/-2^53;
- filter.md: a `double` column's `xdm` is a number, and `preview=true` adds the rows as `data`;
- a REST source's preview (seed 002, zendesk.json): `{"format": "hierarchical", "schema":
  {"type": "object", "properties": ...}, "data": [...]}`, attribute paths nested, a date a string.
"""
from __future__ import annotations

import json
from pathlib import Path

from . import preloaded
from .sources_file import SourcesInvalid, check

SAMPLES_DIR = Path(__file__).resolve().parent / "sample_sources"
_LONG = {"type": "integer", "minimum": -9007199254740992, "maximum": 9007199254740991}


def sample_sources() -> dict[str, dict]:
    """sample file name (a connector's name, or `database`) -> table or object -> explore answer."""
    return {p.stem: json.loads(p.read_text()) for p in SAMPLES_DIR.glob("*.json")}


def sample_name(spec: dict) -> str:
    """Which sample file answers explore for a connection spec: every database shares one."""
    if spec.get("_kind") == "database":
        return "database"
    return spec.get("_connector") or "database"


def table_column(column: dict) -> dict:
    """A described column as a table's explore answer prints it."""
    kind, xdm = column["type"], column.get("xdmType")
    if xdm:
        return {"name": column["name"], "type": "string", "meta:xdmType": xdm,
                "xdm": {"type": "string", "format": xdm}}
    shape = {"string": {"type": "string"}, "boolean": {"type": "boolean"}, "long": dict(_LONG),
             "double": {"type": "number"}}[kind]
    return {"name": column["name"], "type": kind, "xdm": shape}


def table_answer(described: dict) -> dict:
    return {"format": "flat", "schema": {"columns": [table_column(c) for c in described["columns"]]},
            "data": [dict(row) for row in described.get("rows") or []]}


def rest_answer(described: dict) -> dict:
    """A described REST object as its preview prints it: attribute paths nested as objects."""
    properties: dict = {}
    for column in described["columns"]:
        *parents, leaf = column["name"].split(".")
        node = properties
        for parent in parents:
            node = node.setdefault(parent, {"type": "object", "properties": {}})["properties"]
        kind = "string" if column.get("xdmType") else column["type"]
        node[leaf] = {"string": {"type": "string"}, "boolean": {"type": "boolean"}, "long": dict(_LONG),
                      "double": {"type": "number"}}[kind]
    rows = []
    for row in described.get("rows") or []:
        nested: dict = {}
        for name, value in row.items():
            *parents, leaf = name.split(".")
            node = nested
            for parent in parents:
                node = node.setdefault(parent, {})
            node[leaf] = value
        rows.append(nested)
    return {"format": "hierarchical", "schema": {"type": "object", "properties": properties}, "data": rows}


class SourceTables:
    """The tables each connection's source holds: the seeds' samples, under what `described`
    (a sources object, checked here: SourcesInvalid) adds per connector."""

    def __init__(self, described: dict | None = None):
        if described is not None:
            problems = check(described)
            if problems:
                raise SourcesInvalid("sources", problems)
        self._samples = sample_sources()
        families = preloaded.catalog_connectors()
        self._own = {connector: {path: (rest_answer if families[connector] == "rest" else table_answer)(table)
                                 for path, table in tables.items()}
                     for connector, tables in (described or {}).items()}

    def tables(self, spec: dict) -> dict[str, dict]:
        """table or object path -> explore answer, for a connection of connection spec `spec`
        (the answers themselves: copy one before handing it out)."""
        own = self._own.get(spec.get("_connector"))
        samples = self._samples.get(sample_name(spec), {})
        return {**samples, **own} if own else samples

    def rest_preview(self, spec: dict) -> dict | None:
        """What a REST source's preview shows: the first object the sources file describes for its
        connector, else the seed's."""
        own = self._own.get(spec.get("_connector"))
        found = own or self._samples.get(sample_name(spec), {})
        return next(iter(found.values()), None)
