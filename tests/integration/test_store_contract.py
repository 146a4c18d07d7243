"""The in-memory store the unit tests use (tests/fakes.py) and the real one (store/ on the local
stack's DynamoDB) hold to the same scenario: what each keeps, and what each refuses, through the
store's own functions. A change to the store that the fake does not follow fails here."""

import pytest

from aepflow.core.errors import DataflowConflict
from aepflow.store import claims, journal, origins, owners, records
from tests.fakes import FakeStore

SPEC = {"name": "orders", "sandbox": "prod", "source": {"connector": "salesforce"}}


@pytest.fixture(params=["fake", "dynamodb"])
def store(request, monkeypatch):
    if request.param == "fake":
        FakeStore().install(monkeypatch)
    else:
        request.getfixturevalue("stack")  # the local stack: moto's DynamoDB, the table, the environment
    return request.param


def test_a_names_claim_reserves_holds_starts_once_and_is_freed(store):
    assert claims.claim("orders") is None
    claims.reserve("orders", "h1", None)
    held = claims.claim("orders")
    assert held["specHash"] == "h1" and held["status"] == "CLAIMED" and held["pendingSince"]
    claims.reserve("orders", "h1", None)  # the same spec always passes
    with pytest.raises(DataflowConflict) as refused:
        claims.reserve("orders", "h2", None)  # another spec, on a claim it did not read
    assert refused.value.code == "DataflowExists"
    claims.reserve("orders", "h2", claims.claim_item("orders"))  # on the claim as it read it
    claims.hold("orders", "h2", "arn:one", 0, claims.claim_item("orders"), "api")
    held = claims.claim("orders")
    assert (held["executionArn"], held["executionHash"], held["origin"], held["executions"]) == (
        "arn:one", "h2", "api", ["arn:one"]) and "pendingSince" not in held
    assert claims.take_start("orders", "arn:one") is True and claims.take_start("orders", "arn:one") is False
    with claims.changing("orders"):
        with pytest.raises(DataflowConflict) as busy, claims.changing("orders"):
            pass
        assert busy.value.code == "ConcurrentUpdate"
    with claims.changing("orders"):  # released when the first one ended
        pass
    with pytest.raises(DataflowConflict), claims.changing("never-claimed"):
        pass
    claims.set_claim_hash("orders", "h3", origin="s3://bucket/dataflows/orders.yaml")
    assert (claims.claim("orders")["specHash"], claims.claim("orders")["origin"]) == (
        "h3", "s3://bucket/dataflows/orders.yaml")
    claims.mark_deleted("orders", claims.claim_item("orders"))
    deleted = claims.claim_item("orders")
    assert claims.claim("orders") is None and deleted["generation"] == 1 and deleted["executions"] == []
    claims.set_claim_hash("orders", "h4")  # a deleted claim stays deleted
    assert claims.claim("orders") is None and "specHash" not in claims.claim_item("orders")


def test_a_flow_has_one_owner_and_a_spec_file_names_its_dataflow(store):
    owners.claim_flow("f-1", "orders")
    with pytest.raises(DataflowConflict) as refused:
        owners.claim_flow("f-1", "other")
    assert refused.value.code == "AlreadyManaged" and "'orders'" in refused.value.message
    owners.release_flow("f-1", "other")  # not the owner: nothing happens
    assert owners.flow_owner("f-1") == "orders"
    owners.release_flow("f-1", "orders")
    assert owners.flow_owner("f-1") is None
    origins.applied_from("s3://bucket/dataflows/orders.yaml", "orders")
    assert origins.dataflow_from("s3://bucket/dataflows/orders.yaml") == "orders"
    assert origins.dataflow_from("s3://bucket/dataflows/other.yaml") is None


def test_a_record_is_created_once_saved_only_over_what_was_read_and_deleted_with_its_owner(store):
    ids = {"flowId": "f-2", "flowEtag": '"e1"'}
    records.create("orders", SPEC, ids, connector="salesforce", etags={"flow": '"e1"'}, origin="api")
    with pytest.raises(DataflowConflict) as taken:  # the same flow again
        records.create("copy", SPEC, ids, connector="salesforce", etags={}, origin="api")
    assert taken.value.code == "AlreadyManaged"
    with pytest.raises(DataflowConflict) as exists:  # the same name, another flow
        records.create("orders", SPEC, {"flowId": "f-3"}, connector="salesforce", etags={}, origin="api")
    assert exists.value.code == "DataflowExists" and owners.flow_owner("f-3") is None
    rec = records.record("orders")
    assert (rec.flow_id, rec.spec, rec.etags, claims.claim("orders")["origin"]) == (
        "f-2", SPEC, {"flow": '"e1"'}, "api")
    records.save(rec, {**SPEC, "description": "two"}, {**ids, "flowEtag": '"e2"'})
    with pytest.raises(DataflowConflict) as stale:
        records.save(rec, SPEC, ids)  # over a record it read before the save above
    assert stale.value.code == "ConcurrentUpdate"
    assert records.record("orders").spec["description"] == "two"
    assert [r.name for r in records.every()] == ["orders"]
    records.delete("orders", records.record("orders"))
    assert records.record("orders") is None and owners.flow_owner("f-2") is None


def test_what_an_execution_applied_is_kept_under_it(store):
    assert journal.applied("arn:x") is None and journal.has_outcome("arn:x") is False
    journal.put_applied("arn:x", {"action": "update", "changed": ["flow.scheduleParams.interval"]})
    assert journal.applied("arn:x") == {"action": "update", "changed": ["flow.scheduleParams.interval"]}
