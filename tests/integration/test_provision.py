"""Whole provisionings through the real ASL on the local stack (moto + the AEP emulator)."""

import json

import pytest

from local.aep_contract import Contract
from local.examples import all_examples, example
from local.results import longest_sequential_chain
from local.stack import FIXTURE_SECRETS

CREATED_KINDS = ("connections", "sourceConnections", "targetConnections", "schemas", "dataSets", "mappingSets", "flows")


def _names(state: dict, kind: str) -> list[str]:
    return [r.get("name") or r.get("title") for r in state[kind]]


def test_every_example_provisions_to_active_with_contract_valid_requests(stack):
    results = stack.provision(all_examples())
    records = list(stack.emulator.records)
    state = stack.emulator.dump_state()
    tokens = stack.emulator.ims_token_requests
    assert [r["status"] for r in results] == ["ACTIVE"] * len(results) and len(results) == 6, results
    # Every example maps what its own source shows (example 003 reads seed 003's preview, event and
    # properties.*, not the data.* of the seed's mapping request): no example provisions with a warning.
    assert {r["name"]: r["warnings"] for r in results} == {r["name"]: [] for r in results}
    for result in results:
        assert all(result[k] for k in ("baseConnectionId", "sourceConnectionId", "schemaId", "datasetId",
                                        "targetConnectionId", "mappingId", "flowSpecId", "flowId", "etag"))
    contract = Contract.load()
    aep = [r for r in records if not r["path"].startswith("/ims/")]
    problems = {f"{r['method']} {r['path']}": contract.validate_request(r["method"], r["path"], r["query"],
                                                                         r["headers"], r["body"]) for r in aep}
    assert {k: v for k, v in problems.items() if v} == {}
    assert tokens == 1  # one IMS token for the whole run
    flows = {f["name"]: f for f in state["flows"]}
    oracle = flows["aepflow:acme-oracle-e2e:dataflow"]
    assert oracle["scheduleParams"] == {"startTime": 1590523836, "frequency": "minute", "interval": "15",
                                        "backfill": True}
    assert [t["name"] for t in oracle["transformations"]] == ["Copy", "Mapping"]
    zendesk = flows["aepflow:acme-zendesk-users:dataflow"]
    assert [t["name"] for t in zendesk["transformations"]] == ["Mapping"]
    contacts = next(d for d in state["dataSets"] if d["name"] == "ACME Target Dataset")
    assert contacts["tags"]["unifiedProfile"] == ["enabled:true"]
    # Every spec's mapping was held against its source once: the REST previews (Zendesk, Mixpanel),
    # the tables (Salesforce Contact and Accounts, Oracle ADMIN.E2E), given columns or not, and the S3
    # folder's first CSV, read with the source connection's options.
    explores = sorted((r["query"]["objectType"], r["query"].get("object"))
                      for r in aep if r["path"].endswith("/explore"))
    assert explores == [("file", "/acme-orders-exports/orders/2024-05.csv"), ("folder", "/acme-orders-exports/orders/"),
                        ("rest", "json"), ("rest", "json"), ("table", "ADMIN.E2E"), ("table", "Accounts"),
                        ("table", "Contact")]
    [preview] = [r["query"] for r in aep if r["query"].get("objectType") == "file"]
    assert (preview["fileType"], preview["columnDelimiter"], preview["encoding"]) == ("delimited", ",", "UTF-8")


def test_running_the_same_specs_again_creates_nothing_new(stack):
    specs = [example("001"), example("004")]
    first = stack.provision(specs)
    before = stack.emulator.dump_state()
    posts_before = sum(r["method"] == "POST" for r in stack.emulator.records)
    second = stack.provision(specs)
    after = stack.emulator.dump_state()
    posts_after = sum(r["method"] == "POST" and not r["path"].startswith("/ims/") for r in stack.emulator.records)
    assert [r["status"] for r in second] == ["ACTIVE", "ACTIVE"]
    assert [r["flowId"] for r in first] == [r["flowId"] for r in second]
    assert {k: len(before[k]) for k in CREATED_KINDS} == {k: len(after[k]) for k in CREATED_KINDS}
    assert posts_after <= posts_before


def test_an_invalid_spec_makes_no_aep_request_and_lists_every_problem(stack):
    spec = example("001")
    spec["source"]["connector"] = "hubspotish"
    spec["schedule"] = {"frequency": "minute", "interval": 10, "startTime": 1612310466}
    [result] = stack.provision([spec])
    records = list(stack.emulator.records)
    alerts = stack.messages()
    assert result["status"] == "INVALID"
    assert {e["path"] for e in result["errors"]} == {"source.connector", "schedule.interval"}
    assert records == []
    assert len(alerts) == 1 and "invalid" in alerts[0]["Subject"]


def test_a_missing_dataset_fails_with_aeps_code_and_leaves_nothing_behind(stack):
    spec = example("001")
    spec["name"] = "acme-missing-dataset"
    spec["target"]["dataset"] = {"id": "aaaaaaaaaaaaaaaaaaaaaaaa"}
    before = stack.emulator.dump_state()
    [result] = stack.provision([spec])
    after = stack.emulator.dump_state()
    alerts = stack.messages()
    assert result["status"] == "FAILED"
    assert result["errors"][0]["code"] == "CAT-1002-404" and result["errors"][0]["step"] == "find-existing"
    assert {k: _names(before, k) for k in CREATED_KINDS} == {k: _names(after, k) for k in CREATED_KINDS}
    assert len(alerts) == 1 and "acme-missing-dataset" in alerts[0]["Subject"]
    assert "CAT-1002-404" in alerts[0]["Message"]


def test_a_late_failure_rolls_back_what_the_execution_created_newest_first(stack):
    # S3 is a connector the emulator knows, but CRMToAEP does not accept it: the flow-spec
    # branch fails while the source and target branches are creating resources.
    spec = example("004")
    spec["name"] = "acme-wrong-flow-spec"
    spec["target"]["schema"]["create"]["title"] = "aepflow roll-back test schema"
    spec["target"]["dataset"]["create"]["name"] = "aepflow roll-back test dataset"
    spec["source"] = {"connector": "s3", "flowSpec": "CRMToAEP", "bucket": "acme-orders-exports", "path": "orders/",
                      "format": {"type": "delimited"}, "baseConnectionId": "6990abad-977d-41b9-a85d-17ea8cf1c0e4"}
    spec.pop("deltaColumn")  # CloudStorageToAEP has no Copy: an S3 source takes none
    before = stack.emulator.dump_state()
    [result] = stack.provision([spec])
    after = stack.emulator.dump_state()
    assert result["status"] == "FAILED"
    assert result["errors"][0]["step"] in ("find-existing", "resolve-flow-spec")
    created_then_removed = {k: set(_names(after, k)) - set(_names(before, k))
                            for k in CREATED_KINDS if k != "mappingSets"}
    assert created_then_removed == {k: set() for k in created_then_removed}
    left = {r["kind"] for r in result["leftBehind"]}
    assert left <= {"mappingSet"}  # Data Prep has no DELETE; reported, and reused by a re-run


@pytest.mark.parametrize("seed", [pytest.param(7, marks=pytest.mark.stack(fault_rate=0.2, seed=7))])
def test_with_faults_every_example_is_active_and_nothing_is_duplicated(seed, stack):
    results = stack.provision(all_examples())
    state = stack.emulator.dump_state()
    statuses = [r["status"] for r in stack.emulator.records]
    assert [r["status"] for r in results] == ["ACTIVE"] * len(results) and len(results) == 6, results
    assert any(s in (500, 503, 504, 429) for s in statuses)
    assert stack.clock.sleeps, "the faults were retried after a backoff (emulated: no real sleep)"
    for spec in all_examples():
        prefix = f"aepflow:{spec['name']}:"
        for kind in ("sourceConnections", "targetConnections", "mappingSets", "flows"):
            assert sum(1 for n in _names(state, kind) if n.startswith(prefix)) == 1, (spec["name"], kind)
    for name in ("ACME Target Dataset", "Target dataset for a third-party database source connector"):
        assert _names(state, "dataSets").count(name) == 1
    assert _names(state, "schemas").count("Database Source Connector Target Schema") == 1


@pytest.mark.parametrize("prefix, longest", [("002", 6), ("004", 5)])
@pytest.mark.stack(trace_causality=True)
def test_requests_overlap_so_the_longest_sequential_chain_is_short(prefix, longest, stack):
    # Which request had to wait for which is read from the program's own ordering (threads,
    # Parallel branches, futures, the IMS token: local/causality.py), each request one step long,
    # so a busy machine cannot lengthen it. What can fail is checked before what cannot be undone:
    # 002 names its schema, which AEP alone knows: IMS, the mapping against that schema (before any
    # write), then the base connection, the flow spec and the dataset check together, then the explore
    # with the source connection, then the target connection and the mapping set (which waits for the
    # explore: Data Prep cannot delete it), then the flow (6).
    # 004 creates its schema from XDM's standard parts, whose mapping validation checked with no call:
    # IMS, the base connection beside the schema, the explore beside the dataset, the target connection
    # and the mapping set, the flow (5).
    [result] = stack.provision([example(prefix)])
    records = list(stack.emulator.records)
    assert result["status"] == "ACTIVE"
    assert len(records) >= 9
    assert len(stack.causal.requests) == len(records)
    assert longest_sequential_chain(stack.causal.requests) <= longest


@pytest.mark.stack(fault_rate=0.2, seed=3)
def test_no_secret_value_reaches_a_log_a_record_or_an_output(capfd, stack):
    secrets = json.loads(FIXTURE_SECRETS.read_text())
    values = [v for s in secrets.values() for v in s.values() if len(v) > 6]
    results = stack.provision(all_examples())
    records = json.dumps(stack.emulator.records)
    state = json.dumps(stack.emulator.dump_state())
    client_secret = stack.emulator.client_secret
    out, err = capfd.readouterr()
    haystack = "\n".join([out, err, records, state, json.dumps(results)])
    assert [v for v in values + [client_secret] if v in haystack] == []
    assert "Bearer " not in records


LOOKUPS = ("/connections", "/sourceConnections", "/targetConnections", "/flows", "/mappingSets", "/dataSets",
           "/tenant/schemas")


def _lookups(records: list[dict]) -> list[str]:
    """The GETs that look a resource up by name (what find-existing asks)."""
    return [r["path"] for r in records if r["method"] == "GET" and r["path"].endswith(LOOKUPS)
            and any(k in r["query"] for k in ("property", "name"))]


def test_a_first_provisioning_looks_nothing_up_and_a_second_looks_up_before_it_creates(stack):
    spec = example("004")
    [first] = stack.provision([spec])
    records = list(stack.emulator.records)
    [second] = stack.provision([spec])
    again = stack.emulator.records[len(records):]
    assert first["status"] == second["status"] == "ACTIVE"
    # Nothing of this dataflow can exist yet: no execution provisioned it before.
    assert _lookups(records) == []
    assert sum(r["method"] == "POST" and not r["path"].startswith("/ims/") for r in records) == 7
    # The second execution finds the first one's record, so it asks AEP before it creates anything.
    assert len(_lookups(again)) == 7 and [r for r in again if r["method"] == "POST" and "/ims/" not in r["path"]] == []
    assert second["flowId"] == first["flowId"]


def test_after_a_failed_first_provisioning_the_next_reuses_the_mapping_set_it_left_behind(stack):
    spec = example("004")
    refused: list[str] = []
    emulator = stack.emulator
    handle = emulator._handle

    def refuse_the_first_flow(req, *args):
        if req.method == "POST" and req.path.endswith("/flowservice/flows") and not refused:
            refused.append(req.path)  # AEP refuses the flow once, after everything else exists
            return 400, {"type": "https://ns.adobe.com/aep/errors/FLOW-1400-400", "title": "Bad Request",
                         "status": 400, "report": {"detailed-message": "refused once by the test"}}, {}
        return handle(req, *args)

    emulator._handle = refuse_the_first_flow
    [failed] = stack.provision([spec])
    [retried] = stack.provision([spec])
    state = emulator.dump_state()
    mapping_posts = [r for r in emulator.records if r["method"] == "POST" and r["path"].endswith("/mappingSets")]
    assert failed["status"] == "FAILED" and failed["errors"][0]["step"] == "create-dataflow" and refused
    assert [r["kind"] for r in failed["leftBehind"]] == ["mappingSet"]
    assert retried["status"] == "ACTIVE" and retried["mappingId"] == failed["leftBehind"][0]["id"]
    assert len(mapping_posts) == 1
    prefix = f"aepflow:{spec['name']}:"
    for kind in ("connections", "sourceConnections", "targetConnections", "mappingSets", "flows"):
        assert sum(1 for n in _names(state, kind) if n.startswith(prefix)) == 1, kind


def test_a_create_that_ends_after_its_roll_back_began_deletes_what_it_made(stack):
    # A sibling branch failed and the roll-back read the journal while this step's POST was under
    # way (Step Functions stops the branches, not a Lambda already invoked): the step sees the
    # roll-back's mark after its create and undoes it, so nothing outlives the roll-back.
    from aepflow.steps.context import Context, StepEvent
    from aepflow.steps.source import create_base_connection
    from aepflow.steps.validate import validate_spec
    from aepflow.store import journal

    state = validate_spec(example("004"))
    execution = "arn:aws:states:us-east-1:123456789012:execution:test:rolled-back-meanwhile"
    made = create_base_connection(Context(StepEvent(state=state, execution=execution + "-not")))
    assert made["baseConnectionId"] in {c["id"] for c in stack.emulator.dump_state()["connections"]}

    journal.begin_roll_back(execution)
    create_base_connection(Context(StepEvent(state={**state, "spec": {**state["spec"], "name": "other-name"}},
                                             execution=execution)))
    names = [c["name"] for c in stack.emulator.dump_state()["connections"]]
    assert [n for n in names if n.startswith("aepflow:")] == ["aepflow:acme-oracle-e2e:base-connection"]
    [entry] = journal.Journal(execution, "prod").entries_newest_first()
    assert entry["state"] == "deleted" and entry["kind"] == "baseConnection"
    # The roll-back's outcome was written before this create ended; reading it says what the
    # create undid all the same (seen once: a mapping set left behind that the result did not list).
    journal.put_outcome(execution, {"status": "FAILED", "errors": "[]", "rolledBack": "[]",
                                    "leftBehind": json.dumps([{"kind": "mappingSet", "id": "m1", "reason": "r"}])})
    outcome = journal.get_outcome(execution)
    assert json.loads(outcome["rolledBack"]) == [{"kind": "baseConnection", "id": entry["resourceId"]}]
    assert json.loads(outcome["leftBehind"]) == [{"kind": "mappingSet", "id": "m1", "reason": "r"}]


def _writes(records: list[dict]) -> list[str]:
    return [f"{r['method']} {r['path']}" for r in records if r["method"] != "GET" and not r["path"].startswith("/ims/")]


@pytest.mark.parametrize("prefix", ["004", "001"])
def test_a_mapping_to_a_path_the_schema_lacks_is_invalid_with_its_field_path_and_no_aep_write(prefix, stack):
    """004 creates its schema from XDM's standard parts (validation holds the mapping against XDM's
    published definitions, no AEP call); 001 names a schema AEP alone knows (read before any write)."""
    spec = example(prefix)
    spec["mapping"][1]["destination"] = "totally.bogus.path"
    spec["mapping"].append({"source": spec["mapping"][0]["source"], "destination": "person.name"})
    [result] = stack.provision([spec])
    assert result["status"] == "INVALID", result
    paths = {p["path"]: p["message"] for p in result["errors"]}
    assert "totally.bogus.path" in paths["mapping[1].destination"] and "no field 'totally'" in paths[
        "mapping[1].destination"]
    assert "is an object" in paths[f"mapping[{len(spec['mapping']) - 1}].destination"]
    assert _writes(stack.emulator.records) == []
    if prefix == "004":
        assert [r for r in stack.emulator.records if not r["path"].startswith("/ims/")] == []


def test_a_column_typo_fails_before_the_mapping_set_and_leaves_nothing_behind(stack):
    """The explore that holds the spec against the table runs before the mapping set is made (Data Prep
    cannot delete one): a column the table lacks rolls back what was made, and leaves nothing."""
    spec = example("004")
    spec["mapping"][0]["source"] = "NAEM"
    [result] = stack.provision([spec])
    assert result["status"] == "FAILED" and result["errors"][0]["step"] == "explore-source", result
    assert result["leftBehind"] == [] and result["rolledBack"]
    assert not [w for w in _writes(stack.emulator.records) if w.endswith("/mappingSets")]
    state = stack.emulator.dump_state()
    assert state["mappingSets"] == [] and state["flows"] == []


# Errors that teach: a table the source does not have fails at source.table, listing the tables
# explore sees, the closest first, and rolls back what the execution made.
def test_an_unknown_table_fails_at_source_table_listing_what_explore_sees(stack):
    spec = example("001")  # Salesforce, the account made from a secret
    spec["source"]["table"] = "Leads"
    del spec["source"]["columns"]  # explored before the source connection is made: the step is known
    [result] = stack.provision([spec])
    assert result["status"] == "FAILED", result
    [error] = result["errors"]
    assert error["step"] == "explore-source" and error["type"] == "SourceMismatch", error
    # The emulator's Salesforce holds its standard objects: explore's root lists them, Lead first.
    assert error["message"].startswith("Salesforce has no table 'Leads'; did you mean 'Lead'? (it has Lead, ")
    assert "Contact" in error["message"] and "Object not found" not in error["message"]
    # The problem at its field path, as the execution's outcome keeps it (and the failure notification says).
    from aepflow.store import journal

    [failure] = json.loads(journal.get_outcome(result["executionArn"])["errors"])
    assert failure["problems"] == [{"path": "source.table", "message": error["message"]}]
    explores = [r["query"].get("objectType") for r in stack.emulator.records if r["path"].endswith("/explore")]
    assert explores == ["table", "root"]
    assert result["leftBehind"] == [] and result["rolledBack"]  # FAILED: what it made is rolled back
