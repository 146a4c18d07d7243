"""spec/scaffold.py, what `aepflow init` writes: for every table of the local emulator's seed sources
(Salesforce and Dynamics objects, the database table as Oracle's and PostgreSQL's, the Zendesk and
Mixpanel previews), the spec written from what explore answers validates as `aepflow validate` checks
it; the mapping's guesses are fields of the schema it creates; what it cannot guess is a TODO."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aepflow.doors.cli.main import validate_file
from aepflow.spec import scaffold, xdm
from aepflow.spec.connectors import connector_named
from aepflow.spec.document import read
from tests.unit.test_explore import FakeFlowService, sample

NOW = 1_760_000_000
SECRET = {"salesforce": "aep/sources/acme-salesforce", "dynamics": "aep/sources/acme-dynamics",
          "oracle": "aep/sources/acme-oracle", "postgresql": "aep/sources/acme-postgresql",
          "zendesk": "aep/sources/acme-zendesk", "mixpanel": "aep/sources/acme-mixpanel"}
SAMPLE = {"salesforce": "salesforce", "dynamics": "dynamics", "oracle": "database", "postgresql": "database",
          "zendesk": "zendesk", "mixpanel": "mixpanel"}
PARAMS = {"mixpanel": {"projectId": "2671127", "timezone": "Pacific Standard Time"}}
CASES = [(connector, table) for connector, name in SAMPLE.items()
         for table in (sample(name) if connector_named(connector).tabular else [None])]  # type: ignore[union-attr]


def explored(monkeypatch, connector: str, table: str | None) -> list[scaffold.Column]:
    """The columns the explore operation answers for the table (as `aepflow init` reads them)."""
    from aepflow.ops import explore as explore_mod
    from tests.fakes import fake_secrets
    from tests.unit.test_explore import SECRETS

    fake_secrets(monkeypatch, SECRETS)
    flow_service = FakeFlowService(sample(SAMPLE[connector]))
    monkeypatch.setattr(explore_mod, "aep_client", lambda sandbox=None: flow_service)
    body = {"connector": connector, "credentialsSecret": SECRET[connector], "rows": 0,
            **({"table": table} if table else {}), **({"params": PARAMS[connector]} if connector in PARAMS else {})}
    answer = explore_mod.explore(body)
    return [scaffold.Column(c["name"], c["type"] or "string", c["xdmType"]) for c in answer["columns"]]


@pytest.mark.parametrize("connector, table", CASES)
def test_what_init_writes_for_every_seed_table_validates(monkeypatch, tmp_path, connector, table):
    columns = explored(monkeypatch, connector, table)
    text = scaffold.scaffold(connector_named(connector), table=table, columns=columns,  # type: ignore[arg-type]
                             secret=SECRET[connector], now=NOW, params=PARAMS.get(connector))
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    result = validate_file(str(path))
    assert result["status"] == "VALID", (result["errors"], text)
    spec = read(text.encode())
    assert text.startswith("# yaml-language-server: $schema=schemas/dataflow-spec-v1.schema.json\n")
    assert spec["schedule"] == {"frequency": "hour", "interval": 1, "startTime": NOW}
    mapped = {rule["source"] for rule in spec["mapping"]}
    todo = [line for line in text.splitlines() if line.strip().startswith("# TODO: map")]
    assert len(mapped) + len(todo) == len(columns)  # every column is mapped or a TODO
    family = connector_named(connector).family  # type: ignore[union-attr]
    assert ("columns" in spec["source"]) == (family == "crm")
    assert ("deltaColumn" in spec) == (family != "rest")


def test_the_guesses_are_fields_of_the_schema_init_creates_and_read_as_a_person_would():
    fields = xdm.standard_fields([scaffold.PROFILE_CLASS, *scaffold.FIELD_GROUPS])
    assert fields is not None
    for destination, _ in scaffold.GUESSES:
        node, why = xdm.field_at(fields, destination)
        assert node is not None and node.get("type") != "object", (destination, why)
    columns = [scaffold.Column(n) for n in ("Id", "AccountId", "Email", "emailaddress2", "FirstName", "last_name",
                                            "Phone", "MobilePhone", "MailingCity", "zip")]
    guessed = {c.name: d for c, d in scaffold.guess_mapping(columns, "Contact")}
    assert guessed == {"Id": "personID", "Email": "personalEmail.address", "FirstName": "person.name.firstName",
                       "last_name": "person.name.lastName", "Phone": "homePhone.number",
                       "MobilePhone": "mobilePhone.number", "MailingCity": "homeAddress.city",
                       "zip": "homeAddress.postalCode"}
    # Dynamics names a table's key after the table; a REST source's attributes by their last part.
    assert ("contactid", "personID") in [(c.name, d) for c, d in scaffold.guess_mapping(
        [scaffold.Column("parentcustomerid"), scaffold.Column("contactid")], "contact")]
    assert [d for _, d in scaffold.guess_mapping([scaffold.Column("result.email")], None)] == ["personalEmail.address"]


def test_the_delta_column_is_the_modified_timestamp_then_the_created_one():
    def delta(*columns: scaffold.Column) -> str | None:
        found = scaffold.guess_delta_column(list(columns), scaffold.guess_mapping(list(columns), "t"))
        return found.name if found else None

    created = scaffold.Column("CreatedDate", "string", "date-time")
    modified = scaffold.Column("LastModifiedDate", "string", "date-time")
    stamped = scaffold.Column("SystemModstampX", "string", "date-time")
    other = scaffold.Column("Birthday", "string", "date")
    assert delta(created, other, modified) == "LastModifiedDate"
    assert delta(created, stamped) == "SystemModstampX"
    assert delta(other, created) == "CreatedDate"
    assert delta(other) == "Birthday"
    assert delta(scaffold.Column("name")) is None


def test_hostile_column_names_stay_inside_comments_and_no_column_still_maps_one(tmp_path):
    columns = [scaffold.Column("evil\nname: pwned"), scaffold.Column("x\u202etxt"),
               scaffold.Column("ok # not a comment")]
    text = scaffold.scaffold(connector_named("postgresql"), table="public.t", columns=columns,  # type: ignore[arg-type]
                             secret="aep/sources/acme-postgresql", now=NOW, name="acme-t")
    spec = read(text.encode())
    assert spec["mapping"] == [{"source": "ok # not a comment", "destination": "personID"}]
    assert "pwned" not in json.dumps({k: v for k, v in spec.items()})
    assert all(not line.startswith("name: pwned") for line in text.splitlines())
    path = tmp_path / "t.yaml"
    path.write_text(text)
    assert validate_file(str(path))["status"] == "VALID"
    assert '"evil\\nname: pwned"' in text  # shown, escaped, in its TODO


def test_default_names_are_dataflow_names():
    assert scaffold.default_name("salesforce", "Contact") == "salesforce-contact"
    assert scaffold.default_name("oracle", "ADMIN.E2E") == "oracle-admin-e2e"
    assert scaffold.default_name("zendesk", None) == "zendesk"
    assert scaffold.default_name("postgresql", "x" * 200).startswith("postgresql-") and \
        len(scaffold.default_name("postgresql", "x" * 200)) <= 64
    assert Path(scaffold.SCHEMA_REF).name == "dataflow-spec-v1.schema.json"
