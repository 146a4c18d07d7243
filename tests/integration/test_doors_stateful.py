"""Every door at once, in any order (a hypothesis RuleBasedStateMachine on the local stack): apply from
the command line and the API, PATCH with and without If-Match (stale, current, two at once), DELETE,
adopt, spec files put and deleted in the bucket, the drift check, and a flow changed by hand in AEP.
After every step:
- each AEP flow has at most one record, and its owner item names that record;
- each record matches AEP (its plan is `none`) unless a change made by hand in AEP is still there;
and a refused request changed nothing in AEP.

`make test` runs a few derandomized sequences; `make fuzz` many more (HYPOTHESIS_PROFILE=fuzz)."""

from __future__ import annotations

import copy
import os
import time
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest
import yaml
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from aepflow.core import settings as aepflow_settings
from local.examples import example
from local.stack import LocalStack
from tests.signed_http import in_process as api

NAMES = ("st-oracle", "st-salesforce")
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
SETTINGS = {
    "ci": settings(max_examples=int(os.environ.get("STATEFUL_EXAMPLES", "2")), stateful_step_count=8,
                   derandomize=True, deadline=None, suppress_health_check=list(HealthCheck), database=None,
                   phases=[Phase.explicit, Phase.reuse, Phase.generate], print_blob=True),
    "fuzz": settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", "100")) // 5 or 1, stateful_step_count=25,
                     deadline=None, suppress_health_check=list(HealthCheck), print_blob=True),
}[PROFILE]


def spec_of(name: str, version: int = 0) -> dict:
    """A dataflow of each kind of target: 004 creates its schema and dataset, 001 names both."""
    raw = copy.deepcopy(example("004" if name == "st-oracle" else "001"))
    raw["name"] = name
    create = raw["target"]["schema"].get("create")
    if create:
        create["title"] = f"{create['title']} ({name})"
        raw["target"]["dataset"]["create"]["name"] = f"dataset of {name}"
    raw["description"] = f"{name}, version {version}"
    return raw


@pytest.fixture(scope="module")
def stack():
    with LocalStack() as running:
        yield running


class Doors(RuleBasedStateMachine):
    stack: LocalStack

    def __init__(self):
        super().__init__()
        self.stack.reset()  # each sequence starts from an empty stack: no record, no flow
        self.drifted: set[str] = set()  # names changed by hand in AEP since aepflow last applied them
        self.versions = dict.fromkeys(NAMES, 0)
        self.copies: set[str] = set()

    # --- helpers ---------------------------------------------------------------------------------
    def flows(self) -> list[dict]:
        return self.stack.emulator.dump_state()["flows"]

    def record(self, name: str):
        from aepflow.store import records

        return records.record(name)

    def unchanged_by(self, call):
        """Run a request that must be refused; AEP is as it was."""
        before = self.stack.emulator.dump_state()
        answer = call()
        self.stack.settle()
        assert self.stack.emulator.dump_state() == before, answer
        return answer

    def applied(self, name: str) -> None:
        """An execution (or a change in place) applied the name's spec: AEP matches it again."""
        self.drifted.discard(name)

    # --- the doors ------------------------------------------------------------------------------
    @rule(name=st.sampled_from(NAMES), new_version=st.booleans())
    def apply_from_the_command_line(self, name, new_version):
        self.versions[name] += int(new_version)
        [result] = self.stack.provision([spec_of(name, self.versions[name])])
        assert result["status"] == "ACTIVE", result
        self.applied(name)

    @rule(name=st.sampled_from(NAMES))
    def apply_through_the_api(self, name):
        status, accepted = api(self.stack, "POST", "/dataflows", spec_of(name, self.versions[name]))
        assert status in (202, 409), accepted
        if status == 202:
            assert self.stack.wait(accepted["executionArn"])["status"] == "SUCCEEDED"
            self.stack.settle()
            # The spec the execution holding the name provisions is answered with it: nothing is
            # started, and what was changed by hand since stays (the drift check says so).
            if accepted["started"]:
                self.applied(name)

    @rule(name=st.sampled_from(NAMES), interval=st.integers(15, 60), if_match=st.sampled_from(["none", "current",
                                                                                                "stale"]))
    def patch(self, name, interval, if_match):
        rec = self.record(name)
        status, view = api(self.stack, "GET", f"/dataflows/{name}")
        headers = {}
        if if_match == "current" and status == 200 and view.get("flow"):
            headers["If-Match"] = view["flow"]["etag"]
        elif if_match == "stale":
            headers["If-Match"] = '"an-etag-nobody-has"'
        body = {"schedule": {"interval": interval}}
        if rec is None or if_match == "stale":
            status, answer = self.unchanged_by(lambda: api(self.stack, "PATCH", f"/dataflows/{name}", body, headers))
            assert status == (404 if rec is None else 412), answer
            return
        status, answer = api(self.stack, "PATCH", f"/dataflows/{name}", body, headers)
        if status == 404 and answer.get("code") == "FlowNotFound":  # deleted by hand: refused, nothing changed
            return
        assert status == 200, answer
        self.applied(name)

    @rule(name=st.sampled_from(NAMES), intervals=st.tuples(st.integers(15, 60), st.integers(61, 90)))
    def two_patches_with_one_if_match(self, name, intervals):
        status, view = api(self.stack, "GET", f"/dataflows/{name}")
        if status != 200 or not (view.get("flow") or {}).get("etag") or name in self.drifted:
            return
        etag = view["flow"]["etag"]
        with ThreadPoolExecutor(max_workers=2) as pool:
            answers = list(pool.map(lambda n: api(self.stack, "PATCH", f"/dataflows/{name}",
                                                  {"schedule": {"interval": n}}, {"If-Match": etag}), intervals))
        assert sorted(a[0] for a in answers)[0] == 200 and sorted(a[0] for a in answers)[1] in (409, 412), answers
        self.applied(name)

    @rule(name=st.sampled_from(NAMES), delete_data=st.booleans())
    def delete(self, name, delete_data):
        status, answer = api(self.stack, "DELETE", f"/dataflows/{name}{'?deleteData=true' if delete_data else ''}")
        assert status in (200, 404), answer
        if status == 200 and not answer.get("alreadyDeleted"):
            kept = {k["kind"] for k in answer["kept"]}
            assert delete_data or not {d["kind"] for d in answer["deleted"]} & {"dataset", "schema"}, answer
            assert not self.record(name) and kept >= ({"dataset", "schema"} if name == "st-oracle" and not delete_data
                                                      else set())
        self.drifted.discard(name)

    @rule(owner=st.sampled_from(NAMES), other=st.sampled_from(["someone-else", *NAMES]))
    def adopt_a_managed_flow(self, owner, other):
        rec = self.record(owner)
        if rec is None or not any(f["id"] == rec.flow_id for f in self.flows()):
            return
        status, answer = self.unchanged_by(lambda: api(self.stack, "POST", "/dataflows:adopt",
                                                       {"flowId": rec.flow_id, "name": other}))
        assert status == 409 and answer["code"] in ("AlreadyManaged", "DataflowExists"), answer

    @rule(name=st.sampled_from(NAMES), copy_number=st.integers(0, 1))
    def put_a_spec_file(self, name, copy_number):
        from aepflow.steps.validate import validate_spec

        key = f"dataflows/{name}-{copy_number}.yaml"
        spec = spec_of(name, self.versions[name])
        rec = self.record(name)
        # A spec the record holds already changes nothing; another one is provisioned (and applied).
        provisions = rec is not None and rec.spec != validate_spec(spec)["spec"]
        boto3.client("s3").put_object(Bucket=self.stack.buckets["SpecsBucket"], Key=key,
                                      Body=yaml.safe_dump(spec).encode())
        self.stack.settle()
        self.copies.add(key)
        if provisions:
            self.applied(name)

    @precondition(lambda self: self.copies)
    @rule(data=st.data())
    def delete_a_spec_file(self, data):
        key = data.draw(st.sampled_from(sorted(self.copies)))
        self.copies.discard(key)
        boto3.client("s3").delete_object(Bucket=self.stack.buckets["SpecsBucket"], Key=key)
        self.stack.settle()

    @rule(name=st.sampled_from(NAMES), change=st.sampled_from(["description", "disable"]))
    def change_a_flow_by_hand(self, name, change):
        rec = self.record(name)
        if rec is None or not any(f["id"] == rec.flow_id for f in self.flows()):
            return
        if change == "disable":
            self.stack.emulator.ui_action(rec.flow_id, "DISABLE")
        else:
            self.stack.emulator.ui_patch("flow", rec.flow_id, [{"op": "replace", "path": "/description",
                                                               "value": f"by hand at {time.time()}"}])
        self.drifted.add(name)

    @rule()
    def drift_check(self):
        report, failed = self.stack.invoke("aepflow-local-DriftFunction", {"source": "aws.scheduler"})
        assert not failed, report
        assert {d["name"] for d in report["dataflows"]} <= self.drifted, (report, self.drifted)

    # --- what holds after every step ---------------------------------------------------------------
    @invariant()
    def each_flow_has_at_most_one_record_and_its_owner_item_names_it(self):
        from aepflow.store import owners, records

        seen: dict[str, str] = {}
        for rec in records.every():
            if rec.flow_id:
                assert rec.flow_id not in seen, (rec.name, seen[rec.flow_id])
                seen[rec.flow_id] = rec.name
                assert owners.flow_owner(rec.flow_id) == rec.name, rec.name

    @invariant()
    def each_record_matches_aep_unless_changed_by_hand(self):
        from aepflow.ops.plan import read as plan_read
        from aepflow.store import records

        for rec in records.every():
            if rec.name in self.drifted:
                continue
            planned = plan_read.of(rec.spec)
            moved = [(r["kind"], r["action"], r["changes"]) for r in planned["resources"] if r["action"] != "none"]
            assert planned["action"] == "none" and not moved, (rec.name, moved)


def test_every_door_in_any_order_keeps_one_owner_per_flow_and_records_true(stack, monkeypatch):
    monkeypatch.setenv("TEARDOWN_ON_SPEC_DELETE", "true")
    aepflow_settings.forget()  # read at a cold start: a new value is a new container

    class OnThisStack(Doors):
        pass

    OnThisStack.stack = stack
    started = time.monotonic()
    run_state_machine_as_test(OnThisStack, settings=SETTINGS)
    if PROFILE == "fuzz":
        print(f"\n  stateful: {SETTINGS.max_examples} sequences of up to {SETTINGS.stateful_step_count} steps in "
              f"{time.monotonic() - started:.1f}s", flush=True)
