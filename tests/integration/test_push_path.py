"""The push path on the local stack (AepEventsBusName set): the emulator announces each run as its
clock passes the run's end, the stack puts the notification on its partner bus, the template's rule
delivers it to functions/monitor_events. A failed run is in SNS within a second of its event, with
no poll; the poll after it sends nothing more; with the event lost, the poll alerts as before; and
many events (duplicated, out of order, foreign) give one alert per failed or partial managed run."""

from __future__ import annotations

import json
import time

import pytest

from aepflow.core import settings
from bench.events import BUS, manage, scenario
from local.monitor_scenario import start_clock_at
from tests.adobe_io_webhook import FUNCTION, deliver, key_server


@pytest.fixture(scope="module")
def pushed():
    from local.stack import LocalStack

    with LocalStack(seed=11, parameters={"AepEventsBusName": BUS, "AepEventsWebhook": "true"}) as local:
        yield local


@pytest.fixture
def local(pushed):
    pushed.reset(seed=11)
    settings.forget()
    start_clock_at(pushed.emulator)
    yield pushed
    pushed.settle()


def poll(local):
    from aepflow.monitor import check, finish, poll_plan, registry
    from aepflow.monitor.models import CheckEvent, FinishEvent, PlanEvent
    now = local.emulator.now_ms
    planned = poll_plan.plan_poll(PlanEvent(now=now), lease_seconds=900)
    if planned.syncDue:
        synced = [registry.sync_segment(segment) for segment in planned.sync]
        planned = poll_plan.plan_poll(PlanEvent(now=now, synced=synced), lease_seconds=900)
    reports = [check.check_unit(CheckEvent(unit=unit, now=now), lease_seconds=900) for unit in planned.units]
    return finish.finish_poll(FinishEvent(**planned.model_dump(), reports=reports))


def alerts(local):
    return [json.loads(m["Message"])["alert"] for m in local.messages()]


def test_a_failed_run_reaches_sns_within_a_second_of_its_event_and_the_poll_sends_nothing_more(local):
    fid = manage(local, "pushed-orders")
    local.emulator.set_run_outcomes(fid, ["failed-promotion"])
    heard: list[float] = []
    local.emulator.run_events.listen(lambda payload: heard.append(time.time()))
    local.emulator.advance(minutes=10)
    [alert] = alerts(local)  # no poll has run
    assert (alert["problem"], alert["flowId"], alert["dataflow"]) == ("failed", fid, "pushed-orders")
    claim = local.client("dynamodb").get_item(TableName=local.refs["DataflowsTable"], Key={
        "pk": {"S": f"ALERT#{fid}#{alert['runId']}#failed"}, "sk": {"S": "ALERT"}})["Item"]
    assert len(heard) == 1 and int(claim["createdAt"]["N"]) / 1000 - heard[0] < 1.0
    assert {e["code"] for e in alert["errors"]} >= {"CONNECTOR-2001-500", "MAPPER-3700-400"}
    report = poll(local)
    assert report.problems == {"failed": 1} and report.alerts_already_claimed == 1 and not alerts(local)


def test_with_the_event_lost_the_poll_alerts_as_before(local):
    fid = manage(local, "lost-orders")
    local.emulator.set_run_outcomes(fid, ["failed-copy"])
    local.emulator.run_events.drop(1.0)
    local.emulator.advance(minutes=10)
    assert not alerts(local) and local.emulator.run_events.lost == 1
    report = poll(local)
    [alert] = alerts(local)
    assert report.alerts_sent == {"failed": 1} and alert["flowId"] == fid and alert["problem"] == "failed"


def test_events_of_runs_aepflow_does_not_manage_alert_nothing(local):
    fid = local.emulator.add_scheduled_flow({"frequency": "minute", "interval": "15",
                                             "startTime": local.emulator.now_ms // 1000 + 60})
    local.emulator.set_run_outcomes(fid, ["failed"])
    local.emulator.advance(minutes=10)
    assert local.emulator.run_events.announced == 1 and not alerts(local)


def test_many_events_duplicated_out_of_order_and_foreign_give_one_alert_per_problem_run(local):
    result = scenario(local, 100)
    assert result["runs"] == 100 and result["events"] == 100 + 10 + 5
    assert result["expected"] and len(result["alerts"]) == len(set(result["alerts"]))
    assert set(result["alerts"]) == result["expected"]


def test_a_listed_failure_its_event_sees_first_is_re_run_once_and_its_healing_is_quiet(local):
    from aepflow.monitor.retries import execution_name
    from aepflow.store.keys import RECORD, dataflow
    from aepflow.store.table import plain, typed

    fid = manage(local, "healing-orders")
    table, key = local.client("dynamodb"), typed(dataflow("healing-orders", RECORD))
    item = plain(table.get_item(TableName=local.refs["DataflowsTable"], Key=key)["Item"])
    spec = {**json.loads(item["spec"]), "onFailure": {"retry": {"attempts": 2, "afterMinutes": 15,
                                                                "codes": ["CONNECTOR-1001-500"]}}}
    table.put_item(TableName=local.refs["DataflowsTable"], Item=typed({**item, "spec": json.dumps(spec)}))
    local.emulator.set_run_outcomes(fid, ["failed-copy", "success"])
    local.emulator.advance(minutes=10)  # the failure's event: held back, the retry started, nothing sent
    assert not alerts(local)
    sfn = local.client("stepfunctions")
    [execution] = sfn.list_executions(stateMachineArn=local.state_machines["RetryFailedRunStateMachine"])["executions"]
    run_id = json.loads(sfn.describe_execution(executionArn=execution["executionArn"])["input"])["runId"]
    assert execution["name"] == execution_name(run_id)
    assert local.wait(execution["executionArn"])["status"] == "SUCCEEDED"
    report = poll(local)  # the poll sees the failure too: refused a second start, nothing alerted
    assert report.problems.get("retry") == 1 and not alerts(local)
    local.emulator.advance(minutes=10)  # the re-run succeeds: its event is quiet, so is the poll
    poll(local)
    assert not alerts(local) and len(sfn.list_executions(
        stateMachineArn=local.state_machines["RetryFailedRunStateMachine"])["executions"]) == 1


# --- The webhook (AepEventsWebhook): Adobe I/O Events' deliveries, signed --------------------------
@pytest.fixture
def signing_key(monkeypatch):
    with key_server() as (key, url):
        monkeypatch.setenv("AEP_EVENTS_PUBLIC_KEYS_URL", url)
        settings.forget()
        yield key


def test_the_webhook_answers_the_challenge_alerts_a_signed_delivery_and_refuses_a_forged_one(local, signing_key):
    from local.emulator.run_events import notification
    from local.serve import proxy_event

    answer, _ = local.invoke(FUNCTION,
                             proxy_event("GET", "/aep-events", query=[("challenge", "a1b2c3")]))
    assert answer["statusCode"] == 200 and json.loads(answer["body"]) == {"challenge": "a1b2c3"}
    fid = manage(local, "hooked-orders")
    local.emulator.set_run_outcomes(fid, ["failed-promotion"])
    local.emulator.run_events.drop(1.0)  # nothing on the partner bus: the webhook is the only path
    local.emulator.advance(minutes=10)
    assert alerts(local) == []
    [run] = [r for r in local.emulator.dump_state()["runs"] if r["flowId"] == fid]
    payload = {**notification(run, local.emulator.org_id, local.emulator.now_ms),
               "recipient_client_id": local.emulator.client_id}
    body = json.dumps(payload).encode()
    refused = deliver(local, signing_key, body.replace(b"failed", b"succes"), signed_body=body)  # forged
    assert refused["statusCode"] == 401 and alerts(local) == []
    stranger = json.dumps({**payload, "recipient_client_id": "someone-else"}).encode()
    assert deliver(local, signing_key, stranger)["statusCode"] == 401 and alerts(local) == []
    accepted = deliver(local, signing_key, body)
    assert accepted["statusCode"] == 200, accepted
    [alert] = alerts(local)
    assert (alert["problem"], alert["flowId"], alert["runId"]) == ("failed", fid, run["id"])
    assert deliver(local, signing_key, body)["statusCode"] == 200 and alerts(local) == []  # once
