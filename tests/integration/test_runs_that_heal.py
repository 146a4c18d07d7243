"""The re-trigger policy on the local stack (issue 24: "a failed run with a listed code is
re-triggered and, when the re-run succeeds, no failure alert is sent; a run that keeps failing is
alerted once, naming its attempts"). The poll holds a listed failure back and starts the retry state
machine, whose Wait (the durable timer) is an emulated sleep here; its task re-triggers the run in
the emulator. The monitor scenario's records carry onFailure as a provisioned spec's record does; a
policy out of bounds never reaches a record (INVALID, no AEP request)."""
import json

import boto3
import pytest

from aepflow.core import settings
from aepflow.monitor.retries import execution_name
from aepflow.store.keys import RECORD, dataflow
from local.examples import example
from local.monitor_scenario import start_clock_at
from tests.integration.test_monitor import Stack

pytestmark = pytest.mark.stack(seed=11)
POLICY = {"retry": {"attempts": 2, "afterMinutes": 15, "codes": ["CONNECTOR-1001-500"]}}


@pytest.fixture
def stack(stack):
    settings.forget()
    start_clock_at(stack.emulator)
    yield Stack(stack)


def _with_policy(stack, name, outcomes):
    fid = stack.flow(name, interval=240, outcomes=outcomes)
    key = dataflow(name, RECORD)
    spec = json.loads(stack.table.get_item(Key=key)["Item"]["spec"])
    stack.table.update_item(Key=key, UpdateExpression="SET spec = :s",
                            ExpressionAttributeValues={":s": json.dumps({**spec, "onFailure": POLICY})})
    return fid


def _retry_ended(stack, run_id):
    machine = stack.local.state_machines["RetryFailedRunStateMachine"]
    arn = machine.replace(":stateMachine:", ":execution:") + ":" + execution_name(run_id)
    return stack.local.wait(arn)


def test_a_listed_failure_is_re_triggered_after_the_delay_and_its_success_sends_no_alert(stack):
    _with_policy(stack, "crm-heals", ["failed-copy"])
    stack.emu.advance(minutes=10)
    stack.local.clock.clear()
    report = stack.poll()
    assert report.problems.get("retry") == 1 and stack.drain() == []
    first = [e for e in boto3.client("stepfunctions").list_executions(
        stateMachineArn=stack.local.state_machines["RetryFailedRunStateMachine"])["executions"]]
    assert len(first) == 1
    run_id = json.loads(boto3.client("stepfunctions").describe_execution(
        executionArn=first[0]["executionArn"])["input"])["runId"]
    done = _retry_ended(stack, run_id)
    assert done["status"] == "SUCCEEDED", done
    assert 900.0 in stack.local.clock.sleeps  # the Wait: afterMinutes, on the emulated clock
    retriggered = json.loads(done["output"])["retriggered"]
    assert retriggered["chain"][0] == run_id and retriggered["attempt"] == 1
    stack.poll()  # the same failure seen again: not started twice, not alerted
    stack.emu.advance(minutes=10)
    healed = stack.poll()  # the re-run has succeeded: quiet (the policy does not ask for a note)
    assert healed.runs_by_status.get("success") == 1, healed
    stack.emu.advance(minutes=10)
    stack.poll()
    assert stack.drain() == []


def test_a_run_that_keeps_failing_is_alerted_once_naming_its_attempts(stack):
    _with_policy(stack, "crm-broken", ["failed-copy"] * 3)
    chain = []
    for _ in range(3):
        stack.emu.advance(minutes=10)
        stack.poll()
        assert stack.drain() == [] or len(chain) == 2
        if len(chain) < 2:
            sfn = boto3.client("stepfunctions")
            runs = [json.loads(sfn.describe_execution(executionArn=e["executionArn"])["input"])["runId"]
                    for e in sfn.list_executions(stateMachineArn=stack.local.state_machines[
                        "RetryFailedRunStateMachine"])["executions"]]
            new = [r for r in runs if r not in chain]
            assert len(new) == 1, runs
            chain.append(new[0])
            assert _retry_ended(stack, new[0])["status"] == "SUCCEEDED"
    stack.emu.advance(minutes=10)
    stack.poll()
    alerts = [a["doc"]["alert"] for a in stack.alerts + stack.drain()]
    assert len(alerts) == 1, alerts
    assert alerts[0]["problem"] == "failed" and alerts[0]["attempts"][:2] == chain and len(alerts[0]["attempts"]) == 3
    assert "attempts used up" in alerts[0]["reason"] and alerts[0]["runId"] == alerts[0]["attempts"][-1]


def test_a_re_trigger_aep_refuses_alerts_the_failure_held_back_for_it(stack):
    fid = _with_policy(stack, "crm-refused", [])
    sfn = boto3.client("stepfunctions")
    arn = sfn.start_execution(stateMachineArn=stack.local.state_machines["RetryFailedRunStateMachine"],
                              name=execution_name("no-such-run"), input=json.dumps({
                                  "runId": "no-such-run", "flowId": fid, "dataflow": "crm-refused", "sandbox": "prod",
                                  "connector": "salesforce", "origin": "no-such-run", "attempt": 1,
                                  "chain": ["no-such-run"], "waitSeconds": 300}))["executionArn"]
    done = stack.local.wait(arn)
    assert done["status"] == "FAILED" and done["error"] == "RetriggerFailed", done
    alerts = [a["doc"]["alert"] for a in stack.drain()]
    assert [(a["problem"], a["runId"]) for a in alerts] == [("failed", "no-such-run")]
    assert "AEP refused or did not answer" in alerts[0]["reason"]


def test_a_policy_out_of_bounds_is_invalid_with_no_aep_request(stack):
    spec = example("004")
    spec["onFailure"] = {"retry": {**POLICY["retry"], "attempts": 9}}
    before = len(stack.emu.records)
    [result] = stack.local.provision([spec])
    assert result["status"] == "INVALID", result
    assert [e["path"] for e in result["errors"]] == ["onFailure.retry.attempts"]
    assert stack.emu.records[before:] == []


def test_an_ordinary_success_after_a_held_back_failure_is_no_recovery(stack):
    """The failure was held back for a re-trigger, never alerted: a scheduled run's success before the
    re-run ends recovers nothing, even with alerts.notifyRecovered (the re-run here never ends)."""
    fid = stack.flow("crm-held", interval=15, alerts={"notifyRecovered": True}, outcomes=["failed-copy", "stuck"])
    key = dataflow("crm-held", RECORD)
    spec = json.loads(stack.table.get_item(Key=key)["Item"]["spec"])
    stack.table.update_item(Key=key, UpdateExpression="SET spec = :s",
                            ExpressionAttributeValues={":s": json.dumps({**spec, "onFailure": POLICY})})
    stack.emu.advance(minutes=10)
    assert stack.poll().problems.get("retry") == 1
    # The failed run, whether or not its re-run exists yet: the retry's timer runs on the emulated clock in
    # its own execution, which may have re-triggered it (a second run, in progress) before this line.
    [held] = [r for r in stack.emu.dump_state()["runs"]
              if r["flowId"] == fid and r["metrics"]["statusSummary"]["status"] == "failed"]
    assert _retry_ended(stack, held["id"])["status"] == "SUCCEEDED"  # its re-run: stuck, in progress
    stack.emu.advance(minutes=20)  # the next scheduled run succeeds meanwhile
    report = stack.poll()
    assert report.runs_by_status.get("success", 0) >= 1, report
    assert stack.drain() == []
