"""Drafts (help/sources/tutorials/api/draft.md) without a stack: a draft and the same spec published are
different requests; the check of draft mode support names the spec that refuses it; the first step carries
`draft` on and refuses one that is not a boolean; the monitor does not watch a draft."""

import json

import pytest

from aepflow.core.errors import FlowSpecMismatch, SpecInvalid
from aepflow.monitor.flows import from_record
from aepflow.ops import start
from aepflow.spec.digest import spec_hash
from aepflow.steps import flow, validate
from local.examples import example
from tests.fakes import FakeStepFunctions, FakeStore

ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:provision"


def test_a_draft_and_the_same_spec_published_are_different_requests(monkeypatch):
    FakeStore().install(monkeypatch)
    sfn = FakeStepFunctions()
    monkeypatch.setattr(start, "sfn", lambda: sfn)
    monkeypatch.setattr(start, "state_machine_arn", lambda: ARN)
    monkeypatch.setattr(start, "describe_execution", lambda arn: {
        "status": "RUNNING", "input": json.dumps(sfn.started[arn.rsplit(":", 1)[1]]["input"])})
    spec = example("005")
    drafted = start.start_valid(spec, draft=True)
    assert drafted["started"] and start.start_valid(spec, draft=True) == {**drafted, "started": False}
    published = start.start_valid(spec)
    assert published["started"] and published["executionArn"] != drafted["executionArn"]
    inputs = {name: given["input"] for name, given in sfn.started.items()}
    assert inputs == {drafted["executionArn"].rsplit(":", 1)[1]: {"spec": spec, "draft": True},
                      published["executionArn"].rsplit(":", 1)[1]: {"spec": spec}}
    digest = spec_hash(spec)
    assert start.execution_name("a" * 64, digest, 3, 2, True).endswith("-v2-3-d")
    assert len(start.execution_name("a" * 64, digest, 3, 2, True)) <= 80


class Aep:
    """GET /connectionSpecs/{id}, as the check of draft mode support reads it."""

    def __init__(self, connection_spec):
        self.connection_spec, self.sandbox, self.gets = connection_spec, "prod", []

    def get(self, service, path, **_):
        self.gets.append(path)
        return {"items": [self.connection_spec]} if self.connection_spec else {"items": []}


CLOUD = {"id": "9753525b-82c7-4dce-8a9b-5ccfce2b9876", "name": "CloudStorageToAEP",
         "attributes": {"isSourceFlow": True, "isDraftModeSupported": True}}


@pytest.mark.parametrize(("flow_spec", "connection_spec", "refused"), [
    (CLOUD, {"id": "c", "name": "amazon-s3", "attributes": {}}, None),  # the connection spec does not say
    (CLOUD, {"id": "c", "name": "azure-file-storage", "attributes": {"isDraftModeSupported": True}}, None),
    (CLOUD, {"id": "c", "name": "a-source", "attributes": {"isDraftModeSupported": False}},
     "connection spec a-source (c) does not support draft mode (its attributes.isDraftModeSupported is false)"),
    ({**CLOUD, "name": "RestStorageToAEP", "attributes": {}}, None,
     "flow spec RestStorageToAEP (9753525b-82c7-4dce-8a9b-5ccfce2b9876) does not support draft mode (its "
     "attributes.isDraftModeSupported is not set)"),
    ({**CLOUD, "attributes": {"isDraftModeSupported": False}}, None, "isDraftModeSupported is false"),
])
def test_draft_mode_is_refused_naming_the_spec_that_does_not_support_it(flow_spec, connection_spec, refused):
    aep = Aep(connection_spec)
    if refused is None:
        flow.check_draft_mode(aep, flow_spec, "c", "orders")
        assert aep.gets == ["/connectionSpecs/c"]
        return
    with pytest.raises(FlowSpecMismatch) as err:
        flow.check_draft_mode(aep, flow_spec, "c", "orders")
    assert refused in err.value.message and err.value.message.startswith("dataflow orders cannot be made a draft")
    assert err.value.problems == [{"path": "(draft)", "message": err.value.problems[0]["message"]}]
    assert refused in err.value.problems[0]["message"]


def test_a_draft_is_asked_by_the_input_or_kept_by_the_record_s_ids():
    assert flow.draft_requested({"draft": True}) and flow.draft_requested({"ids": {"draft": True}})
    assert not flow.draft_requested({"ids": {"flowId": "f"}}) and not flow.draft_requested({"draft": "yes"})


def test_the_first_step_carries_draft_on_and_refuses_one_that_is_not_a_boolean(monkeypatch):
    monkeypatch.setattr(validate, "validate_spec", lambda raw: {"spec": raw, "resolved": {}})
    assert validate.validate_input({"spec": {"name": "x"}, "draft": True}) == {
        "spec": {"name": "x"}, "resolved": {}, "draft": True}
    assert validate.validate_input({"spec": {"name": "x"}}) == {"spec": {"name": "x"}, "resolved": {}}
    with pytest.raises(SpecInvalid) as err:
        validate.validate_input({"spec": {"name": "x"}, "draft": "true"})
    assert err.value.problems == [{"path": "draft", "message": "expected a boolean"}]


def test_the_monitor_does_not_watch_a_draft_and_watches_it_once_published():
    item = {"status": "ACTIVE", "name": "orders", "flowId": "f1", "spec": '{"sandbox": "prod"}',
            "ids": json.dumps({"flowId": "f1", "draft": True})}
    assert from_record(item) is None
    watched = from_record({**item, "ids": json.dumps({"flowId": "f1"})})
    assert watched is not None and watched.flowId == "f1"
