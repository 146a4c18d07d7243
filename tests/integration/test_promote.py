"""From dev to prod on the local stack: a dataflow provisioned in dev is promoted to prod with prod's own
credentials secret (its entry of `sandboxes`); a flow of that name in prod that aepflow does not manage is
named and left alone until it is gone; a second promotion writes nothing; a changed schedule promotes in
place (the same prod flow); the record says where the prod dataflow came from."""

import pytest

from local import handmade
from local.examples import example
from tests.signed_http import in_process as api

DEV_SECRET, PROD_SECRET = "aep/sources/acme-oracle-dev", "aep/sources/acme-oracle-prod"
SECRETS = {DEV_SECRET: {"connectionString": "Driver=Oracle;Host=dev-db.acme.example;Password=dev-only"},
           PROD_SECRET: {"connectionString": "Driver=Oracle;Host=db.acme.example;Password=prod-only"}}


def dev_spec(interval: int = 15) -> dict:
    spec = example("004")
    spec.update(name="acme-oracle-dev", sandbox="dev", sandboxes={
        "dev": {"credentialsSecret": DEV_SECRET},
        "prod": {"credentialsSecret": PROD_SECRET, "alerts": {"failedRecordsPercent": 0.5}}})
    spec["source"]["credentialsSecret"] = DEV_SECRET
    spec["schedule"]["interval"] = interval
    return spec


def promote(stack, *, dry_run: bool = False):
    return api(stack, "POST", "/dataflows/acme-oracle-dev/promote" + ("?dryRun=true" if dry_run else ""),
               {"from": "dev", "to": "prod"})


def writes(stack, mark: int) -> list[dict]:
    return [r for r in stack.emulator.records[mark:] if r["method"] != "GET" and "/ims/" not in r["path"]]


@pytest.mark.stack(secrets=SECRETS)
def test_a_dataflow_is_promoted_from_dev_to_prod_with_prods_secret_then_in_place(stack):
    from aepflow.store import records

    [dev] = stack.provision([dev_spec()])
    assert dev["status"] == "ACTIVE", dev
    # A flow in prod under the promoted dataflow's name, made by hand: named, and left alone.
    hand = handmade.make_flow(name="aepflow:acme-oracle-prod:dataflow", sandbox="prod")
    status, refused = promote(stack)
    assert status == 409 and refused["code"] == "UnmanagedTarget" and hand["flowId"] in refused["message"], refused
    assert hand["flowId"] in {f["id"] for f in stack.emulator.dump_state("prod")["flows"]}
    stack.emulator._sandboxes["prod"].flows.pop(hand["flowId"])  # its owner removes it

    status, planned = promote(stack, dry_run=True)
    assert status == 200 and planned["target"] == "acme-oracle-prod" and planned["plan"]["action"] == "create"
    assert planned["plan"]["sandbox"] == "prod" and not planned["started"]
    status, started = promote(stack)
    assert status == 202 and started["started"], started
    result = stack.wait(started["executionArn"])
    assert result["status"] == "SUCCEEDED", result
    prod = records.record("acme-oracle-prod")
    assert prod.sandbox == "prod" and prod.spec["promotedFrom"] == {"dataflow": "acme-oracle-dev", "sandbox": "dev"}
    assert prod.spec["source"]["credentialsSecret"] == PROD_SECRET
    assert prod.spec["alerts"]["failedRecordsPercent"] == 0.5
    connection = stack.emulator._sandboxes["prod"].connections[prod.ids["baseConnectionId"]]
    assert connection["auth"]["params"] == SECRETS[PROD_SECRET]  # prod's own secret, not dev's
    flow_id = prod.flow_id

    mark = len(stack.emulator.records)
    status, again = promote(stack)
    assert status == 200 and again["plan"]["action"] == "none" and not again["started"], again
    assert writes(stack, mark) == []

    [changed] = stack.provision([dev_spec(interval=30)])
    assert changed["status"] == "ACTIVE" and changed["action"] == "update", changed
    status, planned = promote(stack, dry_run=True)
    flow = next(r for r in planned["plan"]["resources"] if r["kind"] == "flow")
    assert flow["action"] == "update" and [c["field"] for c in flow["changes"]] == ["scheduleParams.interval"]
    status, started = promote(stack)
    assert status == 202 and stack.wait(started["executionArn"])["status"] == "SUCCEEDED"
    prod = records.record("acme-oracle-prod")
    assert prod.flow_id == flow_id  # in place
    [live] = [f for f in stack.emulator.dump_state("prod")["flows"] if f["id"] == flow_id]
    assert live["scheduleParams"]["interval"] == "30"


@pytest.mark.stack(secrets=SECRETS)
def test_a_promotion_is_refused_where_prod_would_inherit_devs_values_or_the_sandbox_is_wrong(stack):
    spec = dev_spec()
    spec["sandboxes"]["dev"]["schedule"] = {"frequency": "day", "interval": 1, "startTime": 1590523836}
    [dev] = stack.provision([spec])
    assert dev["status"] == "ACTIVE", dev
    mark = len(stack.emulator.records)
    status, refused = promote(stack)
    assert status == 400 and refused["problems"][0]["path"] == "sandboxes.prod", refused
    assert "schedule" in refused["problems"][0]["message"]
    status, refused = api(stack, "POST", "/dataflows/acme-oracle-dev/promote", {"from": "prod", "to": "dev"})
    assert status == 400 and "runs in sandbox 'dev'" in refused["problems"][0]["message"], refused
    assert writes(stack, mark) == []
