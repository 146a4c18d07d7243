"""The re-trigger policy's decision (monitor/retries.py) and the policy's bounds (spec/on_failure.py),
against in-memory fakes: no AWS, no AEP."""
import io
from pathlib import Path
from types import SimpleNamespace

import pytest
from pydantic import ValidationError

from aepflow.core.errors import SpecInvalid
from aepflow.monitor import retries
from aepflow.monitor.flows import ManagedFlow, from_record
from aepflow.spec.on_failure import OnFailure, streaming
from aepflow.spec.parse import parse_spec
from aepflow.spec.thresholds import Alerts
from local.examples import load_spec
from tests.fakes import FakeStepFunctions

ROOT = Path(__file__).resolve().parents[2]

ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:retry"
POLICY = {"retry": {"attempts": 2, "afterMinutes": 15, "codes": ["CONNECTOR-1001-500"]}}


def flow(policy=POLICY):
    return ManagedFlow(name="orders", flowId="f1", sandbox="prod", connector="mysql", alerts=Alerts(),
                       onFailure=OnFailure.model_validate(policy) if policy else None)


def run(rid, code="CONNECTOR-1001-500"):
    status = {"status": "failed", "errors": [{"code": code, "message": "copy"}]} if code else {"status": "success"}
    return {"id": rid, "flowId": "f1", "metrics": {"statusSummary": status}}


def link(chain):
    return {"runId": chain[-1], "origin": chain[0], "attempt": len(chain) - 1, "chain": chain}


def test_a_listed_failure_is_retried_until_the_attempts_are_used_then_alerted_naming_them():
    first = retries.decide(flow(), run("r0"), "failed", None, "prod")
    assert first.action == retries.RETRY and first.detail == {}
    assert first.start == {"runId": "r0", "flowId": "f1", "dataflow": "orders", "sandbox": "prod", "connector": "mysql",
                           "origin": "r0",
                           "attempt": 1, "chain": ["r0"], "waitSeconds": 900}
    second = retries.decide(flow(), run("r1"), "failed", link(["r0", "r1"]), "prod")
    assert second.action == retries.RETRY and second.start["attempt"] == 2
    last = retries.decide(flow(), run("r2"), "failed", link(["r0", "r1", "r2"]), "prod")
    assert last.action == retries.ALERT and last.detail["attempts"] == ["r0", "r1", "r2"]
    assert "after 2 re-trigger(s)" in last.detail["reason"] and "attempts used up" in last.detail["reason"]
    assert all(r in last.detail["reason"] for r in ("r0 (first run)", "r1 (attempt 1)", "r2 (attempt 2)"))


def test_unlisted_code_no_policy_and_successes():
    assert retries.decide(flow(), run("r0", "CONNECTOR-2001-500"), "failed", None, "prod").action == retries.ALERT
    assert retries.decide(flow(None), run("r0"), "failed", None, "prod").action == retries.ALERT
    # a re-run that fails with a code the policy does not list is alerted, naming the chain
    other = retries.decide(flow(), run("r1", "CONNECTOR-2001-500"), "failed", link(["r0", "r1"]), "prod")
    assert other.action == retries.ALERT and "does not list" in other.detail["reason"]
    # a re-run that succeeds: nothing, or a recovered note when asked
    assert retries.decide(flow(), run("r1", None), None, link(["r0", "r1"]), "prod").action == retries.QUIET
    noted = retries.decide(flow({**POLICY, "notifyRecovered": True}), run("r1", None), None, link(["r0", "r1"]),
                           "prod")
    assert noted.action == retries.RECOVERED and noted.detail["attempts"] == ["r0", "r1"]
    assert retries.decide(flow(), run("r9", None), None, None, "prod").action == retries.QUIET


def test_a_run_is_started_once_and_not_without_a_state_machine():
    sfn = FakeStepFunctions()
    r = retries.Retries("table", ARN, sfn)
    d = r.decide(flow(), run("r0"), "failed", "prod")
    assert r.start(d) is True and r.start(d) is False
    assert list(sfn.started) == ["retry-r0"] and sfn.started["retry-r0"]["input"]["waitSeconds"] == 900
    assert (r.started, r.already_started) == (1, 1)
    assert retries.Retries("table", None, sfn).decide(flow(), run("r5"), "failed", "prod").action == retries.ALERT
    assert retries.execution_name("a/b:" + "x" * 100) == ("retry-a_b_" + "x" * 100)[:80]


@pytest.mark.parametrize("policy, where", [
    ({"retry": {"attempts": 9, "afterMinutes": 15, "codes": ["CONNECTOR-1001-500"]}}, "attempts"),
    ({"retry": {"attempts": 2, "afterMinutes": 1, "codes": ["CONNECTOR-1001-500"]}}, "afterMinutes"),
    ({"retry": {"attempts": 2, "afterMinutes": 15, "codes": []}}, "codes"),
    ({"retry": {"attempts": 2, "afterMinutes": 15, "codes": ["not a code"]}}, "not an AEP error code"),
    ({"retry": {"attempts": 2, "afterMinutes": 15, "codes": ["MAPPER-3700-400"]}}, "cannot heal"),
    ({"retry": {"attempts": 2, "afterMinutes": 15, "codes": ["CONNECTOR-1002-401"]}}, "refused the credentials"),
    ({"retry": {"attempts": "2", "afterMinutes": 15, "codes": ["CONNECTOR-1001-500"]}}, "attempts"),
])
def test_a_policy_out_of_bounds_is_refused_saying_where(policy, where):
    with pytest.raises(ValidationError) as err:
        OnFailure.model_validate(policy)
    assert where in str(err.value)


def test_the_monitor_reads_the_policy_from_the_record():
    item = {"status": "ACTIVE", "name": "orders", "flowId": "f1", "ids": "{}",
            "spec": '{"sandbox": "prod", "onFailure": {"retry": {"attempts": 1, "afterMinutes": 5, '
                    '"codes": ["CONNECTOR-1001-500", "CONNECTOR-1001-500"]}}}'}
    managed = from_record(item)
    assert managed is not None and managed.onFailure is not None
    assert managed.onFailure.retry is not None and managed.onFailure.retry.codes == ["CONNECTOR-1001-500"]
    bad = {**item, "spec": '{"onFailure": {"retry": {"attempts": 9, "afterMinutes": 5, "codes": ["X-1001-500"]}}}'}
    assert from_record(bad) is None  # an unreadable record is not watched, as with bad thresholds


def _spec_with(policy, **source):
    raw = load_spec(ROOT / "examples" / "004-oracle-table.yaml")
    raw["onFailure"] = policy
    if source:
        raw["source"] = {k: v for k, v in raw["source"].items() if k != "connector"} | source
    return raw


def test_the_spec_takes_the_policy_and_refuses_it_out_of_bounds_by_field_path():
    spec = parse_spec(_spec_with(POLICY))
    assert spec.onFailure is not None and spec.onFailure.retry is not None and spec.onFailure.retry.attempts == 2
    assert spec.model_dump(by_alias=True, exclude_none=True)["onFailure"]["retry"]["afterMinutes"] == 15
    with pytest.raises(SpecInvalid) as err:
        parse_spec(_spec_with({"retry": {**POLICY["retry"], "attempts": 9, "codes": ["INGEST-1212-400"]}}))
    problems = {p["path"]: p["message"] for p in err.value.problems}
    assert set(problems) == {"onFailure.retry.attempts", "onFailure.retry.codes"}
    assert "cannot heal" in problems["onFailure.retry.codes"]


def test_the_spec_refuses_the_policy_for_a_streaming_source_saying_why():
    kinesis = {"connectionSpecId": "86043421-563b-46ec-8e6c-e23184711bf6", "format": "json"}
    with pytest.raises(SpecInvalid) as err:
        parse_spec(_spec_with(POLICY, **kinesis))
    [problem] = [p for p in err.value.problems if p["path"].startswith("onFailure")]
    assert problem["path"] == "onFailure.retry" and "Amazon Kinesis is a streaming source" in problem["message"]
    assert parse_spec(_spec_with({"notifyRecovered": True}, **kinesis)).onFailure is not None  # no retry: fine
    assert streaming("streaming", None) and streaming("database", None) is None


def test_aepflow_runs_says_which_attempt_of_which_run_a_re_run_is(monkeypatch):
    from aepflow.doors.cli import render
    from aepflow.ops import dataflow_runs

    spec = load_spec(ROOT / "examples" / "004-oracle-table.yaml")
    pages = {"items": [{"id": "r1", "flowId": "f1", "metrics": {"statusSummary": {"status": "success"}}},
                       {"id": "r0", "flowId": "f1", "metrics": {"statusSummary": {"status": "failed"}}},
                       {"id": {"not": "an id"}}]}

    class Client:
        def get(self, service, path, params=None):
            return pages

    asked = []
    monkeypatch.setattr(dataflow_runs.records, "record", lambda name: SimpleNamespace(spec=spec, flow_id="f1"))
    monkeypatch.setattr(dataflow_runs, "aep_client", lambda sandbox: Client())
    monkeypatch.setattr(dataflow_runs.table, "name", lambda: "table")
    monkeypatch.setattr(dataflow_runs.retry_chains, "links", lambda table, ids: asked.extend(ids) or {
        "r1": {"runId": "r1", "origin": "r0", "attempt": 1, "chain": ["r0", "r1"]}})
    answer = dataflow_runs.recent("acme-oracle-e2e")
    assert asked == ["r1", "r0"]
    by_id = {r["id"]: r for r in answer["runs"] if isinstance(r["id"], str)}
    assert (by_id["r1"]["attempt"], by_id["r1"]["retryOf"]) == (1, "r0") and "attempt" not in by_id["r0"]
    out = io.StringIO()
    render.runs(out, answer, as_json=False)
    lines = out.getvalue().splitlines()
    assert lines[0].split()[-1] == "attempt" and lines[1].split()[-3:] == ["1", "of", "r0"]
    assert lines[2].split()[-1] != "r0"
