"""A first spec from what explore saw (`aepflow init`): pure, an explore answer in, the spec's YAML out.

What it writes, for one table (or a REST source's preview):
- the source: the connector, the credentials secret, the table; a CRM's columns (its source connection
  sends them, bodies.source_params), never a database's (explore reads those, seed 004); a REST
  source's params;
- a target that validation can hold the mapping against offline: a schema made of XDM's Individual
  Profile class with its Demographic Details and Personal Contact Details field groups (as example 004)
  and a dataset, both created;
- a mapping skeleton: each column whose name says what it is (email, first/last/full name, id, birth
  date, phones, address parts, created/modified timestamps) mapped to that field of the schema, and a
  `# TODO` comment for every other column;
- a deltaColumn guess where the connector's flow spec needs one (CRMToAEP): a modified/updated
  timestamp column first;
- an hourly schedule from `now` (the flow specs' scheduleSpec takes hour with interval 1).

The destinations are the standard fields' (xdm.standard_fields); tests hold every guess to them."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from aepflow.spec.connectors import Connector
from aepflow.spec.fields import NAME_PATTERN, SHORT, _printable

SCHEMA_REF = "schemas/dataflow-spec-v1.schema.json"
PROFILE_CLASS = "https://ns.adobe.com/xdm/context/profile"
FIELD_GROUPS = ("https://ns.adobe.com/xdm/context/profile-person-details",
                "https://ns.adobe.com/xdm/context/profile-personal-details")
MODIFIED = "_repo.modifyDate"
CREATED = "_repo.createDate"
_DATES = ("date", "date-time")

# (destination, what a column's name is, lower-cased with everything but letters and digits taken out);
# `{t}` is the table's own name (Dynamics' contactid of contact). The first column that matches takes the
# destination, in the order of the columns; a column takes at most one destination.
GUESSES: tuple[tuple[str, str], ...] = (
    ("personID", r"id|{t}id|personid|customerid|userid|distinctid|uid"),
    ("personalEmail.address", r"e?mail|emailaddress1?|personalemail|customeremail|useremail|contactemail"),
    ("person.name.firstName", r"(first|given)name|fname"),
    ("person.name.lastName", r"(last|family|sur)name|lname|surname"),
    ("person.name.middleName", r"middlename"),
    ("person.name.fullName", r"(full|customer|contact|person|user|display)?name"),
    ("person.birthDate", r"birthdate|birthday|dob|dateofbirth"),
    ("person.gender", r"gender(code)?|sex"),
    ("mobilePhone.number", r"mobile(phone|number)?|cell(phone)?"),
    ("homePhone.number", r"(home)?phone(number)?|telephone1?"),
    ("faxPhone.number", r"fax"),
    ("homeAddress.street1", r"(mailing|home)?street1?|address1line1|(home)?address"),
    ("homeAddress.city", r"(mailing|home|address1)?city"),
    ("homeAddress.postalCode", r"(mailing|home|address1)?(postalcode|postcode|zip(code)?)"),
    ("homeAddress.stateProvince", r"(mailing|home|address1)?(state|stateorprovince|province)"),
    ("homeAddress.country", r"(mailing|home|address1)?country"),
    (CREATED, r"created(date|at|on|time)?|creationdate|createtime"),
    (MODIFIED, r"(last)?(modified|updated)(date|at|on|time)?|lastupdated|updatetime|systemmodstamp"),
)
_MODIFIED_HINT = re.compile(r"modif|updat|stamp", re.IGNORECASE)


@dataclass(frozen=True)
class Column:
    """A column (or a REST preview's attribute path) as explore shows it."""

    name: str
    type: str = "string"
    xdmType: str | None = None


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _usable(name: str) -> bool:
    """A name a spec can carry (bounded printable text, as the spec's fields are, on one line)."""
    if any(c in name for c in "\r\n\t"):
        return False
    try:
        _printable(name)
    except ValueError:
        return False
    return 0 < len(name) <= SHORT


def guess_mapping(columns: list[Column], table: str | None) -> list[tuple[Column, str]]:
    """(column, destination) for every column whose name says what it is, in the columns' order."""
    own = _key((table or "").rsplit(".", 1)[-1])
    taken: dict[str, str] = {}
    for destination, pattern in GUESSES:
        expression = re.compile("(" + pattern.replace("{t}", re.escape(own) if own else "id") + ")")
        for column in columns:
            leaf = _key(column.name.rsplit(".", 1)[-1])
            if column.name not in taken and _usable(column.name) and expression.fullmatch(leaf):
                taken[column.name] = destination
                break
    return [(c, taken[c.name]) for c in columns if c.name in taken]


def guess_delta_column(columns: list[Column], mapped: list[tuple[Column, str]]) -> Column | None:
    """The column that marks changed rows: the modified timestamp the mapping found, else a date column
    whose name says modified or updated, else the created timestamp, else any date column."""
    by_destination = {destination: column for column, destination in mapped}
    dated = [c for c in columns if c.xdmType in _DATES and _usable(c.name)]
    return (by_destination.get(MODIFIED)
            or next((c for c in dated if _MODIFIED_HINT.search(c.name)), None)
            or by_destination.get(CREATED)
            or next(iter(dated), None))


def default_name(connector: str, table: str | None) -> str:
    """A dataflow name (the spec's pattern) from the connector and the table."""
    slug = re.sub(r"[^a-z0-9]+", "-", f"{connector} {table or ''}".lower()).strip("-")[:64].strip("-")
    return slug if re.fullmatch(NAME_PATTERN, slug) else f"{_key(connector)[:50] or 'source'}-dataflow"


def _flow(value: Any) -> str:
    """One value in YAML's flow style (quoted where YAML needs it), on one line."""
    import yaml  # the layer's YAML library; imported by the one writer of YAML here

    return str(yaml.safe_dump(value, default_flow_style=True, width=1 << 20, sort_keys=False,
                              allow_unicode=False)).strip().removesuffix("...").strip()


def _shown(name: str) -> str:
    """A column's name in a comment: quoted, escaped, on one line whatever it holds."""
    return json.dumps(name[:SHORT])


def _column(column: Column) -> dict[str, Any]:
    body: dict[str, Any] = {"name": column.name, "type": column.type}
    if column.xdmType and (column.xdmType in _DATES or column.xdmType != column.type):
        body["xdmType"] = column.xdmType
    return body


def _delta(name: str) -> dict[str, str]:
    return {"name": name, "dateFormat": "YYYY-MM-DD", "timezone": "UTC"}  # as the examples give it


def scaffold(connector: Connector, *, table: str | None, columns: list[Column], secret: str, now: int,
             name: str | None = None, params: dict[str, Any] | None = None, auth_spec: str | None = None,
             sandbox: str | None = None, schema_ref: str = SCHEMA_REF) -> str:
    """The spec's YAML text, comments included."""
    name = name or default_name(connector.name, table)
    what = f"{connector.label} {table}" if table else f"{connector.label}'s preview"
    mapped = guess_mapping(columns, table)
    inferred = {c.name for c, _ in mapped}
    lines = [f"# yaml-language-server: $schema={schema_ref}",
             f"# Written by `aepflow init` from what explore saw of {_shown(what)}: {len(columns)} column(s),",
             f"# {len(mapped)} mapped to the standard XDM fields their names suggest. Check every mapping, map",
             "# the TODO columns you need (or delete their lines), then `aepflow validate` and `aepflow plan`.",
             f"name: {_flow(name)}"]
    if sandbox:
        lines.append(f"sandbox: {_flow(sandbox)}")
    lines += [f"description: {_flow(f'{what}, from aepflow init')}", "source:",
              f"  connector: {_flow(connector.name)}", f"  credentialsSecret: {_flow(secret)}"]
    if auth_spec:
        lines.append(f"  authSpecName: {_flow(auth_spec)}")
    if connector.family == "file" and table:  # explore's path of a file: /<bucket>/<key>
        bucket, _, path = table.lstrip("/").partition("/")
        options = params or {}
        fmt = {"type": options.get("fileType", "delimited"), "delimiter": options.get("columnDelimiter"),
               "compression": options.get("compressionType"), "encoding": options.get("encoding")}
        lines += [f"  bucket: {_flow(bucket)}", f"  path: {_flow(path)}",
                  f"  format: {_flow({k: v for k, v in fmt.items() if v is not None})}"]
        params = None  # explore's options, said in format
    elif connector.family != "rest" and table:
        lines.append(f"  table: {_flow(table)}")
    if connector.family == "crm":  # its source connection sends the columns (bodies.source_params)
        kept = [c for c in columns if _usable(c.name)]
        lines.append("  columns:" if kept else "  # TODO: explore listed no column this spec can name")
        lines += [f"    - {_flow(_column(c))}" for c in kept]
    if params:
        lines.append(f"  params: {_flow(params)}")
    lines += ["target:", "  schema:", "    create:",
              f"      title: {_flow(f'{name} target schema')}",
              f"      description: {_flow(f'Individual profiles from {what}')}",
              f"      class: {PROFILE_CLASS}", "      fieldGroups:"]
    lines += [f"        - {group}" for group in FIELD_GROUPS]
    lines += [f"  dataset: {_flow({'create': {'name': f'{name} dataset'}})}", "mapping:"]
    if mapped:
        lines += [f"  - {_flow({'source': c.name, 'destination': d})}" for c, d in mapped]
    else:  # a spec maps at least one field: the first column, to be checked
        first = next((c for c in columns if _usable(c.name)), Column("id"))
        inferred.add(first.name)
        lines += [f"  # TODO: no column's name says what it is; {_shown(first.name)} is mapped to personID as a "
                  "placeholder", f"  - {_flow({'source': first.name, 'destination': 'personID'})}"]
    todo = [c for c in columns if c.name not in inferred]
    if todo:
        lines.append("  # The other columns: map those you need, as - {source: COLUMN, destination: XDM.PATH}")
    lines += [f"  # TODO: map {_shown(c.name)} ({c.xdmType or c.type})" for c in todo]
    if connector.needs_delta_column:
        delta = guess_delta_column(columns, mapped)
        if delta is None:
            fallback = next((c.name for c in columns if _usable(c.name)), "id")
            lines += ["# TODO: no timestamp column was found; name the column that marks new or changed rows",
                      f"deltaColumn: {_flow(_delta(fallback))}"]
        else:
            lines.append(f"deltaColumn: {_flow(_delta(delta.name))}")
    lines.append(f"schedule: {{frequency: hour, interval: 1, startTime: {int(now)}}}")
    return "\n".join(lines) + "\n"
