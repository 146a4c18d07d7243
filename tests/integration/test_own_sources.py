"""One's own spec on the local stack: `python -m local provision --sources FILE SPEC` provisions a
PostgreSQL table that only the sources file describes (examples/own-sources/), through the real
state machine; a spec that maps a column the table lacks, or names a table the file does not
describe, fails as AEP would make it fail."""

import json
from pathlib import Path

import pytest
import yaml

from local.__main__ import main

ROOT = Path(__file__).resolve().parents[2]
TABLES = ROOT / "examples" / "own-sources" / "tables.json"
SPEC = ROOT / "examples" / "own-sources" / "postgres-orders.yaml"


@pytest.fixture
def provision(capsys):
    """`python -m local provision --json ARGS`, through its own main() in this process (a fresh
    interpreter per run cost 1.5 s more each): (exit code, result lines, stderr)."""
    def run(*args: str) -> tuple[int, list[dict], str]:
        code = main(["provision", "--json", *args])
        out, err = capsys.readouterr()
        assert "Traceback" not in err, err[-3000:]
        return code, [json.loads(line) for line in out.splitlines()], err
    return run


def test_a_table_only_the_sources_file_describes_goes_active_and_a_missing_column_or_table_fails(provision, tmp_path):
    """One run of the command (the files' order kept): the example ACTIVE, a mapped column the table
    lacks and a table the file does not describe FAILED as AEP's explore makes them fail."""
    spec = yaml.safe_load(SPEC.read_text())
    discount = {**spec, "name": "acme-postgres-orders-discount",
                "mapping": spec["mapping"] + [{"source": "discount", "destination": "person.name.firstName"}]}
    refunds = {**spec, "name": "acme-postgres-refunds", "source": {**spec["source"], "table": "public.refunds"}}
    paths = []
    for one in (discount, refunds):
        path = tmp_path / f"{one['name']}.json"
        path.write_text(json.dumps(one))
        paths.append(str(path))
    code, results, _ = provision("--sources", str(TABLES), str(SPEC), *paths)
    assert code == 1
    active, missing, absent = results
    assert active["status"] == "ACTIVE", active
    assert active["flowId"] and active["sourceConnectionId"] and active["warnings"] == []
    assert missing["status"] == "FAILED" and absent["status"] == "FAILED"
    [error] = missing["errors"]
    assert error["step"] == "explore-source" and "no column discount" in error["message"], error
    assert "public.orders" in error["message"] and "order_id" in error["message"]  # what the table has
    [error] = absent["errors"]
    assert error["step"] == "explore-source" and error["code"] == "FLOW-1420-404", error
    # AEP's 404 made a refusal that teaches: the tables explore sees, at source.table (issue 23).
    assert "PostgreSQL has no table 'public.refunds'" in error["message"] and "public.orders" in error["message"]
    assert missing["leftBehind"] == [] and absent["leftBehind"] == []


def test_without_the_sources_file_the_table_is_not_there(provision):
    code, [result], _ = provision(str(SPEC))
    assert code == 1 and result["errors"][0]["code"] == "FLOW-1420-404", result


def test_a_malformed_sources_file_is_refused_before_anything_runs(provision, tmp_path):
    bad = tmp_path / "my-tables.json"
    tables = json.loads(TABLES.read_text())
    del tables["postgresql"]["public.orders"]["columns"][2]["name"]
    bad.write_text(json.dumps(tables))
    record = tmp_path / "record.jsonl"
    code, [line], err = provision("--sources", str(bad), str(SPEC), "--record", str(record))
    assert code == 2
    assert line["status"] == "INVALID" and line["file"] == str(bad) and line["name"] is None
    # the column has lost its name, so its values in the rows are no column's either
    assert line["errors"] == [{"path": "postgresql.public.orders.columns[2].name", "message": "required"},
                              {"path": "postgresql.public.orders.rows[0].customer_email",
                               "message": "not a column of the table"},
                              {"path": "postgresql.public.orders.rows[1].customer_email",
                               "message": "not a column of the table"}]
    assert f"{bad}: postgresql.public.orders.columns[2].name: required" in err
    assert not record.exists()  # no stack, no AEP request
