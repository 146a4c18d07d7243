"""Explore and init on a served local stack: POST /explore for a connector through a source secret leaves
no base connection behind; a provisioned dataflow's table is explored through its own base connection
with rows; `aepflow explore` prints tables, columns and rows, and `aepflow init` writes a spec that
`aepflow validate` finds VALID and the stack provisions."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import pytest

from aepflow.doors.cli import main, source
from local.examples import load_spec
from local.serve import Server
from tests.signed_http import in_process as api

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "004-oracle-table.yaml"


@pytest.fixture(scope="module")
def server():
    with Server() as running:
        yield running


def parser() -> argparse.ArgumentParser:
    """main.py's parser, with explore and init added as main.py adds them (unless it does already)."""
    top = main.parser()
    sub = next(a for a in top._actions if isinstance(a, argparse._SubParsersAction))
    if "explore" not in sub.choices:
        where = argparse.ArgumentParser(add_help=False)
        for option in ("--stack", "--profile", "--region", "--api"):
            where.add_argument(option)
        output = argparse.ArgumentParser(add_help=False)
        output.add_argument("--json", action="store_true")
        source.add_commands(sub, where, output)
    return top


def run(*argv: str) -> tuple[int, str]:
    args = parser().parse_args(list(argv))
    out = io.StringIO()
    return args.run(args, out), out.getvalue()


def connections(server) -> list[dict]:
    return server.stack.emulator.dump_state()["connections"]


def test_a_connector_is_explored_through_a_secret_and_nothing_is_left_behind(server):
    before = len(connections(server))
    status, answer = api(server.stack, "POST", "/explore",
                         {"connector": "salesforce", "credentialsSecret": "aep/sources/acme-salesforce"})
    assert status == 200, answer
    assert "Contact" in answer["tables"] and answer["baseConnection"]["transient"]
    status, answer = api(server.stack, "POST", "/explore", {"connector": "salesforce", "credentialsSecret":
                                                            "aep/sources/acme-salesforce", "table": "Contacts"})
    assert status == 404 and answer["code"] == "TableNotFound" and "did you mean 'Contact'" in answer["message"]
    assert len(connections(server)) == before
    records = server.stack.emulator.records
    made = [r for r in records if r["method"] == "POST" and r["path"].endswith("/connections")
            and r["body"]["name"].startswith("aepflow-explore-salesforce-")]
    deleted = [r for r in records if r["method"] == "DELETE" and "/connections/" in r["path"] and r["status"] < 300]
    assert len(made) == 2 and len(deleted) == 2
    assert not [c for c in connections(server) if c["name"].startswith("aepflow-explore-")]
    code, text = run("explore", "SalesForce", "--secret", "aep/sources/acme-salesforce", "--api", server.info["api"])
    assert code == 0 and text.splitlines()[0].strip() == "table" and "OpportunityContactRole" in text
    assert run("explore", "salesforce", "--api", server.info["api"])[0] == 2  # a connector needs --secret


def test_a_dataflows_table_is_explored_through_its_base_connection_with_rows(server):
    [result] = server.stack.provision([load_spec(EXAMPLE)])
    assert result["status"] == "ACTIVE", result
    before = len(connections(server))
    code, text = run("explore", "acme-oracle-e2e", "ADMIN.E2E", "--rows", "1", "--json", "--api", server.info["api"])
    lines = [json.loads(line) for line in text.splitlines()]
    assert code == 0 and [line["column"] for line in lines if "column" in line] == ["ID", "NAME", "DOB", "updatedAt"]
    [row] = [line["row"] for line in lines if "row" in line]
    assert row["NAME"] == "Katherine Johnson"
    assert len(connections(server)) == before  # its own base connection: nothing made, nothing deleted


def test_init_writes_a_spec_that_validates_and_provisions(server, tmp_path):
    written = tmp_path / "orders.yaml"
    code, text = run("init", "PostgreSQL", "ADMIN.E2E", "--secret", "aep/sources/acme-postgresql", "--name",
                     "acme-init-e2e", "--output", str(written), "--api", server.info["api"])
    assert code == 0 and "VALID" in text, text
    code, text = run("init", "postgresql", "ADMIN.E2E", "--secret", "aep/sources/acme-postgresql", "--name",
                     "acme-init-e2e", "--output", str(written), "--api", server.info["api"])
    assert code == 2  # it does not write over a file without --force
    spec_text = written.read_text()
    schema_ref = spec_text.splitlines()[0].split("$schema=", 1)[1]
    assert (written.parent / schema_ref).resolve() == ROOT / "schemas" / "dataflow-spec-v1.schema.json"
    assert main.validate_file(str(written))["status"] == "VALID"
    [result] = server.stack.provision([load_spec(written)])
    assert result["status"] == "ACTIVE", result
    code, text = run("init", "zendesk", "--secret", "aep/sources/acme-zendesk", "--output", "-", "--json",
                     "--api", server.info["api"])
    assert code == 0 and "personalEmail.address" in text


def test_s3_is_explored_by_bucket_folder_and_file_and_init_writes_a_spec_that_provisions(server, tmp_path):
    secret = ("--secret", "aep/sources/acme-s3", "--api", server.info["api"])
    code, text = run("explore", "s3", *secret)
    assert code == 0 and "/acme-orders-exports/" in text, text
    code, text = run("explore", "s3", "/acme-orders-exports/orders/", *secret)
    assert code == 0 and "/acme-orders-exports/orders/2024-05.csv" in text, text
    code, text = run("explore", "s3", "/acme-orders-exports/orders/2024-05.csv", "--rows", "2", "--json", *secret)
    lines = [json.loads(line) for line in text.splitlines()]
    assert code == 0 and [c["column"] for c in lines if "column" in c][:3] == ["order_id", "customer_email",
                                                                              "first_name"], text
    assert len([r for r in lines if "row" in r]) == 2
    written = tmp_path / "orders.yaml"
    code, text = run("init", "s3", "/acme-orders-exports/orders/2024-05.csv", "--name", "acme-init-s3", "--output",
                     str(written), *secret)
    assert code == 0 and "VALID" in text, text
    spec = load_spec(written)
    assert {k: spec["source"][k] for k in ("bucket", "path", "format")} == {
        "bucket": "acme-orders-exports", "path": "orders/2024-05.csv", "format": {"type": "delimited"}}
    [result] = server.stack.provision([spec])
    assert result["status"] == "ACTIVE", result
    assert not [c for c in connections(server) if c["name"].startswith("aepflow-explore-")]
