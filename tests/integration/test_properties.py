"""The declarative promise, over generated specs (tests/strategies.py): for any valid spec, applied
on the local stack,
- the plan right after is `none`, and made no AEP write;
- the same spec again through the command line, the API and the bucket makes no AEP write and
  keeps every id;
- a change AEP allows in place keeps the flow id, and the plan after it is `none`;
- a drift check right after is silent;
- adopt writes a spec whose plan is `none`.

`make test` runs a few derandomized draws (HYPOTHESIS_PROFILE unset: "ci"); `make fuzz` many more,
printing each draw's shape and time (profile "fuzz", FUZZ_EXAMPLES draws)."""

from __future__ import annotations

import json
import os
import time

import boto3
import pytest
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from local.stack import LocalStack
from tests.signed_http import in_process as api
from tests.strategies import SECRETS, shape, specs

# In `make test` a failing draw is reported as drawn (no shrinking: each draw provisions a dataflow,
# and shrinking would take minutes); `make fuzz` shrinks it.
settings.register_profile("ci", max_examples=int(os.environ.get("PROPERTY_EXAMPLES", "3")), derandomize=True,
                          deadline=None, suppress_health_check=list(HealthCheck), print_blob=True,
                          phases=[Phase.explicit, Phase.reuse, Phase.generate], database=None)
settings.register_profile("fuzz", max_examples=int(os.environ.get("FUZZ_EXAMPLES", "100")), deadline=None,
                          suppress_health_check=list(HealthCheck), print_blob=True)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
ID_FIELDS = ("baseConnectionId", "sourceConnectionId", "schemaId", "datasetId", "targetConnectionId", "mappingId",
             "flowId")


@pytest.fixture(scope="module")
def stack():
    with LocalStack(secrets=SECRETS) as running:
        yield running


def writes(stack: LocalStack, mark: int) -> list[str]:
    """The AEP requests since `mark` that change something (IMS's token requests aside)."""
    return [f"{r['method']} {r['path']}" for r in stack.emulator.records[mark:]
            if r["method"] not in ("GET", "HEAD") and not r["path"].startswith("/ims/")]




def ids(result: dict) -> dict:
    return {k: result.get(k) for k in ID_FIELDS}


def plan_of(stack: LocalStack, spec: dict) -> dict:
    status, planned = api(stack, "POST", "/dataflows?dryRun=true", spec)
    assert status == 200, planned
    return planned


def assert_none(planned: dict, why: str) -> None:
    changed = [(r["kind"], r["action"], r["changes"], r.get("reasons")) for r in planned["resources"]
               if r["action"] != "none"]
    assert planned["action"] == "none" and not changed, f"{why}: {changed}"


def in_place_change(spec: dict, draw) -> dict:
    """A merge patch AEP can apply in place: another interval, description, enabled or alerts."""
    choices = ["description", "enabled", "alerts"] + (["interval"] if spec["schedule"]["frequency"] != "once" else [])
    which = draw(st.sampled_from(choices))
    if which == "interval":
        return {"schedule": {"interval": spec["schedule"]["interval"] + 1}}
    if which == "description":
        return {"description": f"{spec.get('description', '')} changed in place".strip()}
    if which == "enabled":
        return {"enabled": spec.get("enabled", True) is False}
    return {"alerts": {"stuckAfterMinutes": 999}}


@settings(settings.get_profile(PROFILE))
@given(spec=specs(), data=st.data())
def test_a_spec_applied_plans_none_and_applying_it_again_from_any_door_changes_nothing(stack, spec, data):
    started = time.monotonic()
    [made] = stack.provision([spec])
    assert made["status"] == "ACTIVE", (shape(spec), made)
    name = made["name"]

    mark = len(stack.emulator.records)
    assert_none(plan_of(stack, spec), "the plan right after provisioning")
    # The same spec again, through the command line (a new execution), the API and the bucket.
    [again] = stack.provision([spec])
    assert again["status"] == "ACTIVE" and again["action"] == "none", again
    assert ids(again) == ids(made)
    status, accepted = api(stack, "POST", "/dataflows", spec)
    assert status == 202, accepted
    stack.wait(accepted["executionArn"])
    boto3.client("s3").put_object(Bucket=stack.buckets["SpecsBucket"], Key=f"dataflows/{name}.yaml",
                                  Body=yaml.safe_dump(spec).encode())
    stack.settle()
    assert writes(stack, mark) == [], shape(spec)
    status, view = api(stack, "GET", f"/dataflows/{name}")
    assert status == 200 and {k: view["ids"].get(k) for k in ID_FIELDS} == ids(made)

    # A change AEP makes in place keeps the flow, and plans none after.
    patch = in_place_change(spec, data.draw)
    status, updated = api(stack, "PATCH", f"/dataflows/{name}", patch, {"If-Match": view["flow"]["etag"]})
    assert status == 200, (patch, updated)
    assert updated["ids"]["flowId"] == made["flowId"]
    changed = json.loads(json.dumps(updated["spec"]))
    assert_none(plan_of(stack, changed), f"the plan after PATCH {patch}")

    # A drift check right after is silent about it.
    report, failed = stack.invoke("aepflow-local-DriftFunction", {"source": "aws.scheduler"})
    assert not failed, report
    assert name not in [d["name"] for d in report["dataflows"]], report

    # Adopt writes the spec that reproduces the flow: its plan against AEP is none.
    from aepflow.ops import adopt
    from aepflow.ops.plan import compare as plan_compare
    from aepflow.ops.plan import read as plan_read
    from aepflow.spec.parse import parse_spec, resolve_source
    from aepflow.store import records

    written, adopted_ids, _ = adopt.describe(made["flowId"], sandbox=spec.get("sandbox"))
    rec = records.record(name)
    live = plan_read.read_live(stack_client(spec), rec)
    parsed = parse_spec(written)
    resources = plan_compare.compare(parsed, resolve_source(parsed), applied=None, applied_resolved=None,
                                     ids=adopted_ids, live=live)
    moved = [(r.kind, r.action, [c.field for c in r.changes]) for r in resources
             if r.action != "none" and r.kind not in ("schema", "dataset", "record")]
    assert not moved, (written, moved)
    if PROFILE == "fuzz":
        print(f"\n  {time.monotonic() - started:5.2f}s  {shape(spec)}", flush=True)


def stack_client(spec: dict):
    from aepflow.aep.client import aep_client

    return aep_client(spec.get("sandbox"))


def test_a_database_spec_with_columns_plans_none_for_every_database_connector(stack):
    """The shape a fixture list missed: a database's columns are checked by explore, never sent, so a
    plan right after provisioning expects none (it planned a replacement of the source connection)."""
    from aepflow.ops.plan import read as plan_read
    from aepflow.spec.connectors import CONNECTORS
    from tests.strategies import ACME_CONTACT, DATABASE_TABLES, secret_name

    columns = [{"name": c["name"], "type": c["type"]} for c in DATABASE_TABLES["ADMIN.E2E"]]
    specs = []
    for name in sorted(n for n, c in CONNECTORS.items() if c.family == "database"):
        spec = {"name": f"db-columns-{name}", "source": {"connector": name, "credentialsSecret": secret_name(name),
                                                         "table": "ADMIN.E2E", "columns": columns},
                "target": {"schema": {"id": ACME_CONTACT},
                           "dataset": {"create": {"name": f"dataset of db-columns-{name}"}}},
                "mapping": [{"source": "ID", "destination": "_id"},
                            {"source": "NAME", "destination": "person.name.fullName"}],
                "deltaColumn": {"name": "updatedAt"}, "schedule": {"frequency": "hour", "interval": 1,
                                                                    "startTime": 1590523836}}
        specs.append(spec)
    results = stack.provision(specs)
    assert [r["status"] for r in results] == ["ACTIVE"] * len(specs), [r for r in results if r["status"] != "ACTIVE"]
    mark = len(stack.emulator.records)
    plans = plan_read.make_many(specs)
    assert {p["name"]: p["action"] for p in plans} == {s["name"]: "none" for s in specs}, plans
    assert writes(stack, mark) == [] and len(specs) >= 15


def test_a_spec_applied_again_after_a_patch_is_provisioned_again(stack):
    """The API answers the spec the name holds with the execution that provisioned it; once a PATCH has
    changed the spec in place, posting the earlier spec provisions it again (it is not the same request)."""
    from tests.strategies import secret_name

    spec = {"name": "again-after-patch", "source": {"connector": "oracle", "credentialsSecret": secret_name("oracle"),
                                                     "table": "ADMIN.E2E"},
            "target": {"schema": {"id": "https://ns.adobe.com/acme/schemas/52b59140414aa6a370ef5e21155fd7a686744b8739ecc168"},
                       "dataset": {"create": {"name": "dataset of again-after-patch"}}},
            "mapping": [{"source": "ID", "destination": "_id"}], "deltaColumn": {"name": "updatedAt"},
            "description": "the first", "schedule": {"frequency": "hour", "interval": 1, "startTime": 1590523836}}
    [made] = stack.provision([spec])
    status, same = api(stack, "POST", "/dataflows", spec)
    assert status == 202 and same["started"] is False
    status, _ = api(stack, "PATCH", "/dataflows/again-after-patch", {"description": "patched"})
    assert status == 200
    status, again = api(stack, "POST", "/dataflows", spec)
    assert status == 202 and again["started"] is True, again
    assert stack.wait(again["executionArn"])["status"] == "SUCCEEDED"
    stack.settle()
    flow = next(f for f in stack.emulator.dump_state()["flows"] if f["id"] == made["flowId"])
    assert flow["description"] == "the first"
    assert_none(plan_of(stack, spec), "the plan after the earlier spec was applied again")
