"""The tables of one's own sources on the local stack (`--sources FILE`, local/emulator/sources_file.py
and source_tables.py): explore answers them in the shapes Adobe's pages print, on top of the seeds'
tables, per connector; a malformed file is refused before anything runs, field by field."""

import base64
import json

import pytest

from local.__main__ import main
from local.emulator import AepEmulator
from local.emulator.sources_file import MAX_BYTES, MAX_COLUMNS, MAX_ROWS, SourcesInvalid, parse, read
from local.stack import emulator_running
from tests.emulator_http import connection, flow_service

T = 5
SECRET = "local-sources-secret"
POSTGRES = "74a1c565-4e59-48d7-9d67-7c03b8a13137"
ORACLE = "d6b52d86-f0f8-475f-89d4-ce54c8527328"
SALESFORCE = "cfc0fee1-7dc0-40ef-b73e-d8b134c436f5"
ZENDESK = "0a27232b-2c6e-4396-b8c6-c9fc24e37ba4"
LONG = {"type": "integer", "minimum": -9007199254740992, "maximum": 9007199254740991}

SOURCES = {
    "postgresql": {"public.orders": {
        "columns": [{"name": "order_id", "type": "long"}, {"name": "email", "type": "string"},
                    {"name": "total", "type": "double"}, {"name": "paid", "type": "boolean"},
                    {"name": "ordered_on", "type": "string", "xdmType": "date"},
                    {"name": "updated_at", "type": "string", "xdmType": "date-time"}],
        "rows": [{"order_id": 7, "email": "k@acme.example", "total": 12.5, "paid": True,
                  "ordered_on": "2024-05-01", "updated_at": "2024-05-01T10:00:00Z"}]}},
    "salesforce": {"Invoice__c": {"columns": [{"name": "Id", "type": "string"},
                                              {"name": "Amount__c", "type": "double"}]},
                   "Contact": {"columns": [{"name": "Id", "type": "string"},
                                           {"name": "Loyalty_Tier__c", "type": "string"}]}},
    "zendesk": {"users": {"columns": [{"name": "result.id", "type": "long"},
                                      {"name": "result.email", "type": "string"},
                                      {"name": "result.created_at", "type": "string", "xdmType": "date-time"}],
                          "rows": [{"result.id": 1, "result.email": "a@acme.example",
                                    "result.created_at": "2024-01-01T00:00:00Z"}]}},
}


@pytest.fixture
def emu():
    with emulator_running(client_secret=SECRET, sources=SOURCES) as e:
        yield e


@pytest.fixture
def fs(emu):
    return flow_service(emu, SECRET)


def postgres(fs):
    return connection(fs, POSTGRES, "Connection String Based Authentication", {
        "connectionString": "Server=pg.acme.example;Database=shop;Port=5432;UID=u;Password=p"})


def test_a_described_table_is_explored_as_adobe_prints_one(fs):
    cid = postgres(fs)
    root = fs("GET", f"/connections/{cid}/explore?objectType=root").json()
    assert {"type": "table", "name": "public.orders", "path": "public.orders", "canPreview": True,
            "canFetchSchema": True} in root
    assert "ADMIN.E2E" in [t["path"] for t in root]  # the seeds' table stays
    answer = fs("GET", f"/connections/{cid}/explore?objectType=table&object=public.orders").json()
    # explore/tabular.md and database-nosql.md (flat, name/type/xdm, dates with meta:xdmType),
    # advertising.md (long), filter.md (double; the rows only with preview=true).
    assert answer == {"format": "flat", "schema": {"columns": [
        {"name": "order_id", "type": "long", "xdm": LONG},
        {"name": "email", "type": "string", "xdm": {"type": "string"}},
        {"name": "total", "type": "double", "xdm": {"type": "number"}},
        {"name": "paid", "type": "boolean", "xdm": {"type": "boolean"}},
        {"name": "ordered_on", "type": "string", "meta:xdmType": "date", "xdm": {"type": "string", "format": "date"}},
        {"name": "updated_at", "type": "string", "meta:xdmType": "date-time",
         "xdm": {"type": "string", "format": "date-time"}}]}}
    preview = fs("GET", f"/connections/{cid}/explore?objectType=table&object=public.orders&preview=true").json()
    assert preview["data"] == SOURCES["postgresql"]["public.orders"]["rows"]
    assert preview["schema"] == answer["schema"]


def test_a_table_the_file_does_not_describe_is_aeps_404_and_another_connector_sees_none_of_it(fs):
    cid = postgres(fs)
    r = fs("GET", f"/connections/{cid}/explore?objectType=table&object=public.refunds")
    assert r.status_code == 404 and r.json()["type"].endswith("FLOW-1420-404")
    assert "Table 'public.refunds' was not found" in r.json()["errorMessage"]
    oracle = connection(fs, ORACLE, "ConnectionString", {
        "connectionString": "Host=o.acme.example;Port=1521;Sid=E2E;User Id=u;Password=p"})
    assert fs("GET", f"/connections/{oracle}/explore?objectType=table&object=public.orders").status_code == 404
    seed = fs("GET", f"/connections/{oracle}/explore?objectType=table&object=ADMIN.E2E").json()
    assert [c["name"] for c in seed["schema"]["columns"]] == ["ID", "NAME", "DOB", "updatedAt"]
    assert "data" not in seed  # the rows come with preview=true (filter.md)


def test_a_crm_object_described_is_explored_and_takes_a_source_connection(fs):
    cid = connection(fs, SALESFORCE, "Basic Authentication",
                     {"username": "u@acme.example", "password": "p", "securityToken": "t"})
    invoice = fs("GET", f"/connections/{cid}/explore?objectType=table&object=Invoice__c").json()
    assert [c["name"] for c in invoice["schema"]["columns"]] == ["Id", "Amount__c"]
    contact = fs("GET", f"/connections/{cid}/explore?objectType=table&object=Contact").json()
    assert [c["name"] for c in contact["schema"]["columns"]] == ["Id", "Loyalty_Tier__c"]  # described: as described
    lead = fs("GET", f"/connections/{cid}/explore?objectType=table&object=Lead").json()
    assert "Email" in [c["name"] for c in lead["schema"]["columns"]]  # the seeds' standard objects stay
    r = fs("POST", "/sourceConnections", json={
        "name": "invoices", "baseConnectionId": cid, "data": {"format": "tabular"},
        "params": {"tableName": "Invoice__c", "columns": invoice["schema"]["columns"]},
        "connectionSpec": {"id": SALESFORCE, "version": "1.0"}})
    assert r.status_code == 201, r.text


def test_a_rest_object_described_is_the_preview_with_its_attributes_nested(fs):
    cid = connection(fs, ZENDESK, "OAuth2 Refresh Code", {"subdomain": "acme", "accessToken": "t"})
    sp = base64.b64encode(json.dumps({}).encode()).decode()
    answer = fs("GET", f"/connections/{cid}/explore?objectType=rest&object=json&fileType=json&preview=true"
                       f"&sourceParams={sp}").json()
    assert answer == {"format": "hierarchical", "schema": {"type": "object", "properties": {"result": {
        "type": "object", "properties": {"id": LONG, "email": {"type": "string"}, "created_at": {"type": "string"}}}}},
        "data": [{"result": {"id": 1, "email": "a@acme.example", "created_at": "2024-01-01T00:00:00Z"}}]}


def test_without_a_file_explore_answers_the_seeds_alone():
    with emulator_running(client_secret=SECRET) as emu:
        spec = emu._conn_specs[POSTGRES]
        assert list(emu._source_tables.tables(spec)) == ["ADMIN.E2E"]


def problems(document) -> list[tuple[str, str]]:
    with pytest.raises(SourcesInvalid) as refused:
        parse(json.dumps(document).encode(), "my-tables.json")
    return [(p["path"], p["message"]) for p in refused.value.problems]


def orders(*columns, rows=None):
    table = {"columns": list(columns)}
    if rows is not None:
        table["rows"] = rows
    return {"postgresql": {"public.orders": table}}


@pytest.mark.parametrize("document, path, says", [
    (orders({"name": "a", "type": "string"}, {"name": "b", "type": "long"}, {"type": "string"}),
     "postgresql.public.orders.columns[2].name", "required"),
    (orders({"name": "a"}), "postgresql.public.orders.columns[0].type", "required"),
    (orders({"name": "a", "type": "int"}), "postgresql.public.orders.columns[0].type", "one of string, boolean"),
    (orders({"name": "a", "type": "long", "xdmType": "date"}), "postgresql.public.orders.columns[0].xdmType",
     "has type string"),
    (orders({"name": "a", "type": "string", "xdmType": "email"}), "postgresql.public.orders.columns[0].xdmType",
     "one of date, date-time"),
    (orders({"name": "a", "type": "string", "size": 3}), "postgresql.public.orders.columns[0].size", "not a field"),
    (orders({"name": "a", "type": "string"}, {"name": "a", "type": "long"}),
     "postgresql.public.orders.columns[1].name", "listed twice"),
    (orders({"name": "a\u0007b", "type": "string"}), "postgresql.public.orders.columns[0].name", "control character"),
    (orders({"name": "", "type": "string"}), "postgresql.public.orders.columns[0].name", "non-empty string"),
    (orders(), "postgresql.public.orders.columns", "at least one column"),
    ({"postgresql": {"public.orders": {"rows": []}}}, "postgresql.public.orders.columns", "required"),
    ({"postgresql": {"public.orders": {"columns": [{"name": "a", "type": "string"}], "indexes": []}}},
     "postgresql.public.orders.indexes", "not a field"),
    (orders({"name": "a", "type": "long"}, rows=[{"a": "7"}]), "postgresql.public.orders.rows[0].a", "not a long"),
    (orders({"name": "a", "type": "long"}, rows=[{"a": 2 ** 60}]), "postgresql.public.orders.rows[0].a", "not a long"),
    (orders({"name": "a", "type": "boolean"}, rows=[{"a": 1}]), "postgresql.public.orders.rows[0].a", "not a boolean"),
    (orders({"name": "a", "type": "string"}, rows=[{"a": {"x": 1}}]), "postgresql.public.orders.rows[0].a",
     "not a string"),
    (orders({"name": "a", "type": "string"}, rows=[{"b": "x"}]), "postgresql.public.orders.rows[0].b",
     "not a column of the table"),
    (orders({"name": "a", "type": "string"}, rows=[{"a": "x"}] * (MAX_ROWS + 1)), "postgresql.public.orders.rows",
     f"at most {MAX_ROWS} rows"),
    (orders(*[{"name": f"c{i}", "type": "string"} for i in range(MAX_COLUMNS + 1)]),
     "postgresql.public.orders.columns", f"at most {MAX_COLUMNS} columns"),
    ({"postgres": {"public.orders": {"columns": [{"name": "a", "type": "string"}]}}}, "postgres",
     "not a connector of the catalog"),
    ({"postgresql": {}}, "postgresql", "at least one table"),
    ({"postgresql": {"public.orders": []}}, "postgresql.public.orders", "must be an object"),
    ({"zendesk": {"users": {"columns": [{"name": "result", "type": "string"},
                                        {"name": "result.id", "type": "long"}]}}},
     "zendesk.users.columns[1].name", "cannot also hold attributes"),
    ([], "(file)", "must be an object"),
    ({}, "(file)", "describes no connector"),
])
def test_a_malformed_sources_object_is_refused_field_by_field(document, path, says):
    found = problems(document)
    assert any(p == path and says in m for p, m in found), found


@pytest.mark.parametrize("data, says", [
    (b"{", "not JSON"),
    (b"\xff\xfe{}", "not UTF-8"),
    (b'{"postgresql": {}, "postgresql": {}}', "appears twice"),
    (b'{"postgresql": {"t": {"columns": [{"name": "a", "type": "double"}], "rows": [{"a": NaN}]}}}',
     "not a number JSON allows"),
    (b"[" * 50 + b"]" * 50, "nested deeper than 8 levels"),
    (b" " * (MAX_BYTES + 1), f"larger than {MAX_BYTES:,} bytes"),
])
def test_a_sources_file_is_bounded_like_the_other_inputs(data, says):
    with pytest.raises(SourcesInvalid) as refused:
        parse(data, "my-tables.json")
    [problem] = refused.value.problems
    assert problem["path"] == "(file)" and says in problem["message"], problem


def test_a_bom_is_fine_and_a_missing_file_says_so(tmp_path):
    path = tmp_path / "tables.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(SOURCES).encode())
    assert read(path) == SOURCES
    with pytest.raises(SourcesInvalid) as refused:
        read(tmp_path / "absent.json")
    assert refused.value.problems[0]["message"].startswith("cannot be read")


def test_the_emulator_refuses_a_malformed_sources_object():
    with pytest.raises(SourcesInvalid) as refused:
        AepEmulator(sources={"postgresql": {"public.orders": {"columns": [{"type": "string"}]}}})
    assert refused.value.lines() == ["sources: postgresql.public.orders.columns[0].name: required"]


@pytest.mark.parametrize("command", [["provision", "examples/004-oracle-table.yaml", "--json"],
                                     ["plan", "x.yaml", "--json"], ["run", "x.yaml", "--json"], ["serve"]])
def test_the_command_line_refuses_a_malformed_file_before_anything_runs(tmp_path, capsys, command):
    bad = tmp_path / "my-tables.json"
    bad.write_text(json.dumps(orders({"name": "a", "type": "string"}, {"name": "b", "type": "long"},
                                     {"type": "string"})))
    code = main([*command, "--sources", str(bad)])
    out, err = capsys.readouterr()
    assert code == 2
    if "--json" in command:
        assert json.loads(out) == {"name": None, "status": "INVALID", "file": str(bad), "errors": [
            {"path": "postgresql.public.orders.columns[2].name", "message": "required"}]}
    else:  # the table, and under it the problem at its path
        assert "INVALID" in out.splitlines()[1] and "postgresql.public.orders.columns[2].name: required" in out
    assert f"{bad}: postgresql.public.orders.columns[2].name: required" in err.splitlines()
