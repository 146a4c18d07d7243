"""Hypothesis strategies that draw valid dataflow specs across the connector catalog and the spec's
options, for the property and stateful tests (tests/integration/test_properties.py,
test_doors_stateful.py) and `make fuzz`.

What a spec can say about its source is bounded by what the local AEP emulator holds: the tables and
columns of local/emulator/sample_sources (read here, not copied), the preloaded Salesforce account,
the seeds' schemas and datasets. Every connector of the catalog gets a secret of its own, made from its
first auth spec (SECRETS; the local stack takes them as `secrets=`)."""

from __future__ import annotations

import json
import re
from itertools import count
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from aepflow.spec.connectors import CONNECTORS

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "local" / "emulator" / "sample_sources"
PROFILE = "https://ns.adobe.com/xdm/context/profile"
FIELD_GROUPS = ["https://ns.adobe.com/xdm/context/profile-person-details",
                "https://ns.adobe.com/xdm/context/profile-personal-details"]
# The seeds' tenant schemas (all XDM Individual Profile, enabled for Profile) and the datasets on them.
ACME_PROFILE = "https://ns.adobe.com/acme/schemas/719c4e19184402c27595e65b931a142b"
ACME_CONTACT = "https://ns.adobe.com/acme/schemas/52b59140414aa6a370ef5e21155fd7a686744b8739ecc168"
ACCOUNTS_SCHEMA = "https://ns.adobe.com/acme/schemas/417a33eg81a221bd10495920574gfa2d"
ACCOUNTS_DATASET = "5c8c3c555033b814b69f947f"
REST_SCHEMA = "https://ns.adobe.com/acme/schemas/995dabbea86d58e346ff91bd8aa741a9f36f29b1019138d4"
REST_DATASETS = ["624bf42e16519d19496e3f67", "5ef4551c52e054191a61a99f"]
SALESFORCE_ACCOUNT = "6990abad-977d-41b9-a85d-17ea8cf1c0e4"
# Fields every profile schema above has (the class and its two field groups), for string columns;
# DATE_FIELDS for date columns. The primary identity goes to personalEmail.address.
STRING_FIELDS = ["person.name.fullName", "person.name.firstName", "person.name.lastName",
                 "person.name.middleName", "person.name.courtesyTitle", "mobilePhone.number",
                 "homeAddress.city", "homeAddress.postalCode"]
DATE_FIELDS = ["person.birthDate"]
EMAIL = "personalEmail.address"
REST_FIELDS = ["_extconndev.id", "_extconndev.email", "_extconndev.name", "_extconndev.phone",
               "_extconndev.created_at", "_extconndev.updated_at", "_extconndev.time_zone"]


def _samples(name: str) -> dict[str, Any]:
    return json.loads((SAMPLES / f"{name}.json").read_text())


def _tables(sample: str, names: list[str]) -> dict[str, list[dict[str, Any]]]:
    data = _samples(sample)
    return {table: data[table]["schema"]["columns"] for table in names}


# connector family -> the tables (and their columns) the emulator answers explore with
CRM_TABLES = {"salesforce": _tables("salesforce", ["Contact", "Lead", "Account"]),
              "dynamics": _tables("dynamics", ["contact", "account"])}
DATABASE_TABLES = _tables("database", ["ADMIN.E2E"])
REST_ATTRIBUTES = {"zendesk": ["result.id", "result.email", "result.name", "result.phone", "result.created_at"],
                   # What seed 003's preview shows ({event, properties: {...}}), as example 003 maps it.
                   "mixpanel": ["properties.distinct_id", "event", "properties.time", "properties.$insert_id"]}


def _fake(param: str, schema: dict[str, Any]) -> Any:
    """A value the auth spec takes: its documented example where it has one (a connection string's
    form), else one of the param's type."""
    prop = (schema.get("properties") or {}).get(param, {})
    if prop.get("examples"):
        example = prop["examples"][0]
        # Adobe's MySQL example ("Server=...; Port=3306; ...") does not match Adobe's own pattern
        # ("( ?;[pP]ort=)": a space before the semicolon, none after); the form the pattern takes is used.
        if prop.get("pattern") and not re.match(prop["pattern"], example):
            example = example.replace("; ", ";")
            assert re.match(prop["pattern"], example), (param, example)
        return example
    return {"integer": 1, "boolean": True}.get(prop.get("type"), f"local-fake-{param}")


def secret_name(connector: str) -> str:
    return f"aep/sources/prop-{connector}"


def _secret(schema: dict[str, Any]) -> dict[str, Any]:
    """What an auth spec requires: its `required` params, and the first of its `anyOf` alternatives
    (Zendesk wants a subdomain or a host)."""
    names = list(schema.get("required") or [])
    for choice in (schema.get("anyOf") or schema.get("oneOf") or [])[:1]:
        names += [n for n in choice.get("required") or [] if n not in names]
    return {n: _fake(n, schema) for n in names}


SECRETS = {secret_name(name): _secret(c.auth_specs[0].schema) for name, c in CONNECTORS.items()}
CONNECTOR_NAMES = sorted(n for n, c in CONNECTORS.items() if c.family in ("crm", "database", "rest"))
_numbers = count()


def unique(prefix: str) -> str:
    """A name no other draw of this process has (names must be unique across examples on one stack)."""
    return f"{prefix}-{next(_numbers)}"


@st.composite
def schedules(draw) -> dict[str, Any]:
    frequency = draw(st.sampled_from(["once", "minute", "hour", "day", "week"]))
    out: dict[str, Any] = {"frequency": frequency, "startTime": draw(st.integers(1_590_000_000, 1_700_000_000))}
    if frequency != "once":
        low = {"minute": 15, "hour": 1, "day": 1, "week": 1}[frequency]
        out["interval"] = draw(st.integers(low, low + 45))
        backfill = draw(st.sampled_from([None, True, False]))
        if backfill is not None:
            out["backfill"] = backfill
    return out


texts = st.text(alphabet=st.characters(codec="utf-8", categories=["L", "N", "Zs", "P"]), min_size=1,
                max_size=40).map(str.strip).filter(bool)


@st.composite
def specs(draw, name: str | None = None) -> dict[str, Any]:
    """One valid spec: a connector of the catalog, its table or params, columns given or explored,
    a created or referenced target, Profile with an identity, options, a schedule of every kind,
    alerts, onDrift, resource names, enabled or not."""
    connector = draw(st.sampled_from(CONNECTOR_NAMES))
    family = CONNECTORS[connector].family
    name = name or unique(draw(st.sampled_from(["p", "prop", "flow"])))
    source: dict[str, Any] = {"connector": connector}
    if connector == "salesforce" and draw(st.booleans()):
        source["baseConnectionId"] = SALESFORCE_ACCOUNT
    else:
        source["credentialsSecret"] = secret_name(connector)
    spec: dict[str, Any] = {"name": name, "source": source}
    if family == "rest":
        _draw_rest_source(draw, spec)
    else:
        _draw_table_source(draw, spec)
    _draw_options(draw, spec)
    return spec


def _draw_rest_source(draw, spec: dict[str, Any]) -> None:
    """A REST source's params, its attributes mapped, and a target on the REST schema."""
    source, name = spec["source"], spec["name"]
    connector = source["connector"]
    attributes = REST_ATTRIBUTES[connector]
    if connector == "mixpanel":
        source["params"] = {"projectId": str(draw(st.integers(1, 9_999_999))), "timezone": "UTC"}
    chosen = draw(st.lists(st.sampled_from(attributes), min_size=1, max_size=4, unique=True))
    destinations = draw(st.permutations(REST_FIELDS))
    # up to 4 attributes onto as many of the (more) REST fields
    spec["mapping"] = [{"source": a, "destination": d} for a, d in zip(chosen, destinations, strict=False)]
    spec["target"] = {"schema": {"id": REST_SCHEMA},
                      "dataset": draw(st.sampled_from([{"id": d} for d in REST_DATASETS]
                                                      + [{"create": {"name": f"dataset of {name}"}}]))}


def _draw_table_source(draw, spec: dict[str, Any]) -> None:
    """A CRM's or database's table, its columns given or explored, a delta column, the mapping and
    the target."""
    source = spec["source"]
    connector = source["connector"]
    tables = CRM_TABLES[connector] if CONNECTORS[connector].family == "crm" else DATABASE_TABLES
    table = draw(st.sampled_from(sorted(tables)))
    columns = tables[table]
    source["table"] = table
    if draw(st.booleans()):  # columns given (a subset, in any order), or explored
        usable = draw(st.lists(st.sampled_from(columns), min_size=1, max_size=min(6, len(columns)),
                               unique_by=lambda c: c["name"]))
        source["columns"] = [{"name": c["name"], "type": c.get("type", "string"),
                              **({"xdmType": c["meta:xdmType"]} if c.get("meta:xdmType") else {})}
                             for c in usable]
    else:
        usable = columns
    spec["deltaColumn"] = {"name": draw(st.sampled_from(usable))["name"]}
    if draw(st.booleans()):
        spec["deltaColumn"].update(dateFormat="YYYY-MM-DD", timezone="UTC")
    strings = [c for c in usable if not c.get("meta:xdmType")]
    dates = [c for c in usable if c.get("meta:xdmType") in ("date", "date-time")]
    mapping = []
    if strings:
        chosen = draw(st.lists(st.sampled_from(strings), min_size=1, max_size=3, unique_by=lambda c: c["name"]))
        # up to 3 columns onto as many of the (more) profile string fields
        mapping = [{"source": c["name"], "destination": d}
                   for c, d in zip(chosen, draw(st.permutations(STRING_FIELDS)), strict=False)]
    if dates and (not mapping or draw(st.booleans())):
        mapping.append({"source": draw(st.sampled_from(dates))["name"], "destination": DATE_FIELDS[0]})
    spec["mapping"] = _draw_table_target(draw, spec, mapping, strings or usable)


def _draw_table_target(draw, spec: dict[str, Any], mapping: list[dict[str, Any]],
                       identities: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The target of a table source (created, Profile-enabled, the seeds' accounts or a seeds'
    schema); the mapping, with the identity (the first of `identities`) when Profile takes it."""
    name = spec["name"]
    target_kind = draw(st.sampled_from(["create", "profile", "accounts", "referenced"]))
    if target_kind in ("create", "profile"):
        spec["target"] = {"schema": {"create": {"title": f"Schema of {name}", "class": PROFILE,
                                                "fieldGroups": FIELD_GROUPS}},
                          "dataset": {"create": {"name": f"dataset of {name}",
                                                 "profileEnabled": target_kind == "profile"}}}
        if target_kind == "profile":
            identity = identities[0]
            mapping = [m for m in mapping if m["source"] != identity["name"]]
            mapping.append({"source": identity["name"], "destination": EMAIL, "identity": True,
                            "namespaceCode": "Email", "primary": True})
    elif target_kind == "accounts":
        spec["target"] = {"schema": {"id": ACCOUNTS_SCHEMA}, "dataset": {"id": ACCOUNTS_DATASET}}
    else:
        spec["target"] = {"schema": {"id": draw(st.sampled_from([ACME_PROFILE, ACME_CONTACT]))},
                          "dataset": {"create": {"name": f"dataset of {name}",
                                                 "profileEnabled": draw(st.booleans())}}}
    return mapping


def _draw_options(draw, spec: dict[str, Any]) -> None:
    """What any spec may add: schedule, description, enabled, options, alerts, onDrift, resource names."""
    source, name = spec["source"], spec["name"]
    spec["schedule"] = draw(schedules())
    if draw(st.booleans()):
        spec["description"] = draw(texts)
    if draw(st.booleans()):
        spec["enabled"] = False
    if draw(st.booleans()):
        options: dict[str, Any] = {"errorDiagnosticsEnabled": draw(st.booleans())}
        if draw(st.booleans()):
            options["partialIngestionPercent"] = draw(st.sampled_from([1, 5, 2.5, 50, 100]))
        spec["options"] = options
    if draw(st.booleans()):
        spec["alerts"] = {"failedRecordsPercent": draw(st.sampled_from([0, 0.5, 1.0, 10])),
                          "stuckAfterMinutes": draw(st.integers(1, 600)), "notifyRecovered": draw(st.booleans())}
    spec["onDrift"] = draw(st.sampled_from(["alert", "revert"]))
    kinds = ["flow", "sourceConnection", "targetConnection"] + (["baseConnection"] if "credentialsSecret" in source
                                                                else [])
    named = draw(st.lists(st.sampled_from(kinds), unique=True, max_size=len(kinds)))
    if named:
        spec["resources"] = {kind: {"name": f"{kind} of {name}",
                                    **({"description": draw(texts)} if draw(st.booleans()) else {})}
                             for kind in named}


def shape(spec: dict[str, Any]) -> str:
    """A line saying what a drawn spec is made of (what `make fuzz` prints per draw)."""
    source, target = spec["source"], spec["target"]
    parts = [spec["source"]["connector"],
             "base" if "baseConnectionId" in source else "secret",
             f"columns={len(source['columns'])}" if source.get("columns") else "explored",
             "schema=create" if "create" in target["schema"] else "schema=id",
             "dataset=profile" if (target["dataset"].get("create") or {}).get("profileEnabled")
             else "dataset=create" if "create" in target["dataset"] else "dataset=id",
             f"schedule={spec['schedule']['frequency']}", f"mapping={len(spec['mapping'])}"]
    parts += [k for k in ("description", "options", "alerts", "resources") if k in spec]
    parts += ["disabled"] if spec.get("enabled") is False else []
    return " ".join(parts)
