"""The connector catalog on the local stack, and the emulator read through a client nobody here
wrote: Adobe's community client aepp. One stack provisions the examples, the fixture specs of
tests/fixtures/specs and a few specs built to fail, concurrently; the tests read what it did."""

import json
from pathlib import Path
from urllib.parse import quote

import pytest

from aepflow.spec.connectors import CONNECTORS, connector_for_spec_id
from local.examples import all_examples, load_spec
from local.stack import LocalStack

FIXTURES = sorted((Path(__file__).resolve().parents[1] / "fixtures" / "specs").glob("*.yaml"))
SALESFORCE_ACCOUNT = "6990abad-977d-41b9-a85d-17ea8cf1c0e4"  # preloaded, seed 000
# A connection spec the catalog does not know: the emulator holds it, so only the live document
# (GET /connectionSpecs/{id}) can say which auth spec a secret satisfies.
UNKNOWN_SPEC = "5e1a7c3b-8d2f-4c61-9a0e-3b7f2d9c6e41"
GREENPLUM = CONNECTORS["greenplum"].connection_spec_id


def _extra_specs() -> list[dict]:
    greenplum = load_spec(FIXTURES[0])  # bigquery-table.yaml as a template
    greenplum.update(name="acme-greenplum-e2e")
    greenplum["source"] = {"connector": "greenplum", "credentialsSecret": "aep/sources/acme-greenplum",
                           "table": "ADMIN.E2E"}
    greenplum["target"]["dataset"]["create"]["name"] = "Greenplum dataset"
    custom = load_spec(FIXTURES[0])
    custom.update(name="acme-live-spec-only")
    custom["source"] = {"connectionSpecId": UNKNOWN_SPEC, "format": "tabular", "table": "account",
                        "credentialsSecret": "aep/sources/acme-dynamics"}
    custom["target"]["dataset"]["create"]["name"] = "Live-spec dataset"
    custom["mapping"] = [{"source": "accountid", "destination": "_id"}]
    custom["deltaColumn"] = {"name": "modifiedon"}
    zendesk = [e for e in all_examples() if e["name"] == "acme-zendesk-users"][0]
    zendesk.update(name="acme-zendesk-columns")
    zendesk["source"]["columns"] = [{"name": "result.email"}, {"name": "result.not_a_field"}]
    zendesk["mapping"] = [{"source": "result.not_a_field", "destination": "_extconndev.email"}]
    return [greenplum, custom, zendesk]


@pytest.fixture(scope="module")
def run():
    with LocalStack() as stack:
        emu = stack.emulator
        # The live documents differ from the catalog: Greenplum's live spec keeps only the
        # kirby-docs auth spec name, and the unknown spec exists only live (a Dynamics-like CRM).
        live = emu._conn_specs[GREENPLUM]
        live["authSpec"] = [a for a in live["authSpec"] if a["name"] == "Connection String Based Authentication"]
        dynamics = emu._conn_specs[CONNECTORS["dynamics"].connection_spec_id]
        emu._conn_specs[UNKNOWN_SPEC] = {**json.loads(json.dumps(dynamics)), "id": UNKNOWN_SPEC, "name": "acme-crm"}
        crm = next(f for f in emu._flow_specs.values() if f["name"] == "CRMToAEP")
        crm["sourceConnectionSpecIds"].append(UNKNOWN_SPEC)
        specs = [load_spec(p) for p in FIXTURES] + _extra_specs()
        results = {r["name"]: r for r in stack.provision(specs)}
        yield stack, results, list(emu.records)


def _connection_posts(records, spec_id, accepted=True):
    """The bodies of the POST /connections of `spec_id` that AEP accepted (or refused)."""
    return [r["body"] for r in records if r["method"] == "POST" and r["path"].endswith("/flowservice/connections")
            and r["body"]["connectionSpec"]["id"] == spec_id and (r["status"] < 300) == accepted]


def test_every_fixture_spec_provisions_active(run):
    _, results, records = run
    names = [load_spec(p)["name"] for p in FIXTURES]
    assert {n: results[n]["status"] for n in names} == {n: "ACTIVE" for n in names}
    # Every base connection names an auth spec of its connector's documented spec with its required params.
    for body in (r["body"] for r in records if r["method"] == "POST" and r["path"].endswith("/connections")):
        connector = connector_for_spec_id(body["connectionSpec"]["id"])
        if connector is None:
            continue
        auth = connector.auth_spec(body["auth"]["specName"])
        assert auth is not None, body["auth"]["specName"]
        assert set(auth.required) <= set(body["auth"]["params"]) <= set(auth.params)


def test_the_secret_chooses_the_auth_spec(run):
    _, results, records = run
    [bigquery] = _connection_posts(records, CONNECTORS["bigquery"].connection_spec_id)
    assert bigquery["auth"]["specName"] == "Basic Authentication"
    assert set(bigquery["auth"]["params"]) == {"project", "clientId", "clientSecret", "refreshToken"}
    [salesforce] = [b for b in _connection_posts(records, CONNECTORS["salesforce"].connection_spec_id)
                    if "Lead" in b["description"] or "leads" in b["name"]]
    assert salesforce["auth"]["specName"] == "OAuth2 Client Credential"
    [redshift] = _connection_posts(records, CONNECTORS["redshift"].connection_spec_id)
    assert redshift["auth"]["specName"] == "Basic Authentication" and "port" in redshift["auth"]["params"]


def test_the_live_connection_spec_wins_over_the_catalog(run):
    _, results, records = run
    assert results["acme-greenplum-e2e"]["status"] == "ACTIVE"
    [greenplum] = _connection_posts(records, GREENPLUM)
    assert greenplum["auth"]["specName"] == "Connection String Based Authentication"  # the catalog prefers Basic
    assert any("differs from the catalog" in w["message"] for w in results["acme-greenplum-e2e"]["warnings"])
    # The live document is read because AEP refused the catalog's choice, not before every create.
    [refused] = _connection_posts(records, GREENPLUM, accepted=False)
    assert refused["auth"]["specName"] == "Basic Authentication"
    live_reads = [r for r in records if r["path"].endswith("/connectionSpecs/" + GREENPLUM)]
    assert len(live_reads) == 1 and live_reads[0]["startedAt"] >= max(
        r["endedAt"] for r in records if r["method"] == "POST" and r["body"] == refused)
    assert results["acme-live-spec-only"]["status"] == "ACTIVE", results["acme-live-spec-only"]
    [custom] = _connection_posts(records, UNKNOWN_SPEC)
    assert custom["auth"]["specName"] == "Basic Authentication for Dynamics-Online"


def test_deprecated_connectors_warn_and_rest_previews_warn_instead_of_failing(run):
    _, results, _ = run
    assert [w["path"] for w in results["acme-couchbase-e2e"]["warnings"]] == ["source.connector"]
    assert "deprecated" in results["acme-couchbase-e2e"]["warnings"][0]["message"]
    # Mapped from seed 003's preview (event, properties.*): nothing to say. Example 003 keeps the
    # seed's mapping request (data.*), which the preview does not show: warnings, still ACTIVE
    # (tests/integration/test_provision.py).
    assert results["acme-mixpanel-explored"]["warnings"] == []
    # Given columns are checked too: a REST preview is a sample, so it is a warning.
    paths = {w["path"] for w in results["acme-zendesk-columns"]["warnings"]}
    assert results["acme-zendesk-columns"]["status"] == "ACTIVE" and paths == {"mapping[0].source",
                                                                               "source.columns[1].name"}


def test_a_profile_dataset_gets_its_schema_identity_and_union_first(run):
    stack, results, records = run
    state = stack.emulator.dump_state()
    schema = next(s for s in state["schemas"] if s["title"] == "Salesforce Leads Profile Schema")
    assert schema["meta:immutableTags"] == ["union"]
    [identity] = [d for d in state["descriptors"] if d["xdm:sourceSchema"] == schema["$id"]]
    assert (identity["xdm:sourceProperty"], identity["xdm:namespace"], identity["xdm:isPrimary"]) == \
        ("/personalEmail/address", "Email", True)
    def when(found):
        return next(r["endedAt"] for r in records if found(r))

    descriptor = when(lambda r: r["method"] == "POST" and r["path"].endswith("/descriptors")
                      and r["body"]["xdm:sourceSchema"] == schema["$id"])
    union = when(lambda r: r["method"] == "PATCH" and schema["meta:altId"] in r["path"].replace("%2F", "/")
                 or r["method"] == "PATCH" and quote(schema["$id"], safe="") in r["path"])
    dataset = when(lambda r: r["method"] == "POST" and r["path"].endswith("/dataSets")
                   and r["body"]["name"] == "Salesforce leads profile dataset")
    assert descriptor <= union <= dataset
    mapping = next(m for m in state["mappingSets"] if m["name"].startswith("aepflow:acme-salesforce-leads:"))
    email = next(m for m in mapping["mappings"] if m["sourceAttribute"] == "Email")
    assert email["identity"] is True and email["namespaceCode"] == "Email" and email["primaryIdentity"] is True
    flow = next(f for f in state["flows"] if f["name"] == "aepflow:acme-salesforce-leads:dataflow")
    assert flow["options"] == {"errorDiagnosticsEnabled": True, "partialIngestionPercent": 5}


def test_a_bigquery_secret_without_refresh_token_is_invalid_with_no_aep_call(run):
    stack, _, _ = run
    spec = load_spec(next(p for p in FIXTURES if p.name.startswith("bigquery")))
    spec.update(name="acme-bigquery-no-refresh")
    spec["source"]["credentialsSecret"] = "aep/sources/acme-bigquery-no-refresh"
    before = len(stack.emulator.records)
    [result] = stack.provision([spec])
    assert result["status"] == "INVALID"
    assert [e["path"] for e in result["errors"]] == ["source.credentialsSecret"]
    assert "lacks refreshToken" in result["errors"][0]["message"]
    assert len(stack.emulator.records) == before


def test_a_missing_table_column_fails_before_the_source_is_created_and_what_was_made_is_rolled_back(run):
    stack, _, _ = run
    spec = [e for e in all_examples() if e["name"] == "acme-salesforce-contacts"][0]
    spec.update(name="acme-salesforce-no-column")
    spec["source"]["table"] = "Lead"
    spec["source"]["columns"] = [{"name": "Email"}, {"name": "Nickname"}]
    spec["mapping"] = [{"source": "Email", "destination": "personalEmail.address"},
                       {"source": "Shoesize", "destination": "_id"}]
    spec["deltaColumn"] = {"name": "LastModifiedDate"}
    spec["target"]["dataset"] = {"create": {"name": "never created"}}
    before = len(stack.emulator.records)
    [result] = stack.provision([spec])
    assert result["status"] == "FAILED" and result["errors"][0]["type"] == "SourceMismatch"
    assert result["errors"][0]["step"] == "find-existing"
    new = stack.emulator.records[before:]
    # The account the spec names is explored where it is checked, before its source connection. The
    # target branch does not wait for the source's checks, so what it made meanwhile is rolled back;
    # only a mapping set, which Data Prep cannot delete, may stay, and the result says so.
    writes = {r["path"].rsplit("/", 1)[-1] for r in new if r["method"] in ("POST", "PATCH", "PUT")}
    assert "sourceConnections" not in writes and "flows" not in writes
    state = stack.emulator.dump_state()
    assert "never created" not in [d["name"] for d in state["dataSets"]]
    assert not [t for t in state["targetConnections"] if t["name"].startswith("aepflow:acme-salesforce-no-column:")]
    assert {r["kind"] for r in result["leftBehind"]} == ({"mappingSet"} if "mappingSets" in writes else set())


def test_aepp_reads_what_aepflow_provisioned_with_paging(run):
    """Adobe's community client (aepp 0.6.0) against the emulator, two items a page. aepp reads
    the continuation token as the first query parameter of `_links.next.href`, the form
    flow-service.yaml documents (PageLink: `/connections?continuationToken=...`)."""
    aepp = pytest.importorskip("aepp")
    from aepp import dataprep, flowservice

    stack, _, _ = run
    emu = stack.emulator
    emu.advance(minutes=45)  # every enabled flow runs on its schedule in emulated time
    aepp.configure(org_id=emu.org_id, client_id=emu.client_id, secret=emu.client_secret,
                   scopes="openid,AdobeID,read_organizations", sandbox="prod", environment="prod")
    # aepp talks to platform.adobe.io and ims-na1.adobelogin.com; point both at the emulator.
    aepp.config.endpoints["global"] = emu.base_url
    aepp.config.config_object["oauthTokenEndpointV2"] = emu.base_url + "/ims/token/v3"
    flows_api = flowservice.FlowService()
    state = emu.dump_state()

    def ids(items):
        return sorted(i["id"] for i in items)

    assert ids(flows_api.getFlows(limit=2, n_results="inf")) == ids(state["flows"])
    assert ids(flows_api.getConnections(limit=2, n_results="inf")) == ids(state["connections"])
    assert ids(flows_api.getSourceConnections(limit=2, n_results="inf")) == ids(state["sourceConnections"])
    assert ids(flows_api.getTargetConnections(limit=2, n_results="inf")) == ids(state["targetConnections"])
    runs = flows_api.getRuns(limit=2, n_results="inf")
    assert len(runs) >= 4 and ids(runs) == ids(flows_api.getRuns(n_results="inf"))  # aepp's default limit
    assert len(ids(runs)) == len(set(ids(runs)))
    specs = {s["id"]: s for s in flows_api.getConnectionSpecs()}
    assert {c.connection_spec_id for c in CONNECTORS.values()} <= set(specs)
    bigquery = flows_api.getConnectionSpec(CONNECTORS["bigquery"].connection_spec_id)["items"][0]
    assert [a["name"] for a in bigquery["authSpec"]] == ["Basic Authentication", "Service Authentication"]
    assert flows_api.getFlowSpec("6499120c-0b15-42dc-936e-847ea3c24d72")["name"] == "RestStorageToAEP"
    assert [f["name"] for f in flows_api.getFlowSpecs(prop="name==CRMToAEP")] == ["CRMToAEP"]

    prep = dataprep.DataPrep()
    # aepp's getMappingSets sends `limit` without `start`: data-prep.yaml marks start required, but the
    # call works against AEP for aepp's users, so the emulator answers it (from the first set) ...
    first = prep.getMappingSets(limit=2)
    assert 1 <= len(first) and {m["id"] for m in first} <= {m["id"] for m in state["mappingSets"]}
    # ... and every mapping set is read through aepp's own connector, page by page.
    seen, start = [], 0
    for _ in range(50):
        page = prep.connector.getData(prep.endpoint + "/mappingSets", params={"limit": 2, "start": start})
        seen += [m["id"] for m in page["data"]]
        if "next" not in page.get("_links", {}):
            break
        start += 2
    assert sorted(seen) == sorted(m["id"] for m in state["mappingSets"])


def test_every_fixture_dataflow_plans_no_change_right_after_its_provisioning(run):
    """What the plan expects of each resource is what provisioning made, for every connector family
    (CRM with or without columns, database, REST, a connection spec known only live): one plan of
    them all, with list queries by id, GETs only."""
    from aepflow.ops.plan import read as plan_read

    stack, results, _ = run
    specs = [load_spec(p) for p in FIXTURES]
    mark = len(stack.emulator.records)
    plans = plan_read.make_many(specs)
    assert {p["name"]: p["action"] for p in plans} == {s["name"]: "none" for s in specs}, plans
    assert {r["method"] for r in stack.emulator.records[mark:]} <= {"GET"}
