"""The push path's decisions without AWS or AEP (monitor/events.py): both of Adobe's notification
shapes parsed, what is foreign, unmanaged or malformed dropped and counted, a problem alerted under
the poll's key with the poll's body."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from aepflow.monitor.alerts import build_alert
from aepflow.monitor.events import RunEvents, parse
from aepflow.monitor.flows import ManagedFlow, alert_flow
from aepflow.monitor.retries import Retries
from aepflow.spec.on_failure import OnFailure
from aepflow.spec.thresholds import Alerts
from tests.fakes import FakeStepFunctions

ORG = "ORG1@AdobeOrg"
FLOW = "cf4fce79-8822-456d-8fce-798822556dc6"
RUN = "d9024c32-2174-4271-824c-322174627101"
NOW = 1_700_000_000_000


def run(status: str = "failed", *, flow: str = FLOW, rid: str = RUN, org: str = ORG, sandbox: str = "prod",
        completed: bool = True, read: int = 100, failed: int = 0) -> dict[str, Any]:
    """A flow run as help/sources/notifications.md's examples carry it."""
    ds: dict[str, Any] = {"startedAtUTC": NOW - 300_000}
    if completed:
        ds["completedAtUTC"] = NOW - 60_000
    ss: dict[str, Any] = {"status": status}
    if status == "failed":
        ss["errors"] = [{"code": "CONNECTOR-2001-500", "message": "Error in processing the copied data."}]
    return {"sandboxName": sandbox, "imsOrgId": org, "id": rid, "flowId": flow, "createdAt": NOW - 300_000,
            "metrics": {"durationSummary": ds, "sizeSummary": {"inputBytes": -1},
                        "recordSummary": {"inputRecordCount": read, "outputRecordCount": read - failed,
                                          "failedRecordCount": failed},
                        "statusSummary": ss},
            "activities": [{"id": "promotionActivity", "statusSummary": {
                "status": status, "errors": ss.get("errors", []),
                "extensions": {"errors": [{"code": "133", "message": "no files"}]}}}]}


def shape_a(value: dict, code: str = "sources_flow_run_success") -> dict:
    """The notifications page's "Success" example: {event_id, event: {<run>, header._adobeio}}."""
    return {"event_id": "aec55616", "event": {**value, "header": {"_adobeio": {
        "imsOrgId": value["imsOrgId"], "providerMetadata": "aep_observability_catalog_events", "eventCode": code}}}}


def shape_b(*values: dict, kind: str = "sources_flow_run_failed") -> list:
    """Its "Failure" example: [{messages: [{_eventNotificationMeta.type, value: <run>}]}]."""
    return [{"messages": [{"msgType": "eventNotification", "version": "1.0", "timestamp": NOW,
                           "imsOrgId": v["imsOrgId"],
                           "schema": {"name": "run-notification", "version": "1.0"}, "provider": "FlowService",
                           "_eventNotificationMeta": {"category": "Platform Notifications", "type": kind},
                           "value": v} for v in values]}]


def bridge(detail: Any) -> dict:
    return {"version": "0", "id": "e1", "detail-type": "sources_flow_run", "source": "aws.partner/adobe.io/x",
            "detail": detail}


class FakeSender:
    """AlertSender's claim_and_send_all in memory: each key claimed once; `prepare` only before a claim."""

    def __init__(self) -> None:
        self.claimed: dict[str, dict] = {}
        self.sent: dict[str, int] = {}
        self.already_claimed = 0

    def claim_and_send_all(self, alerts, prepare=None) -> None:
        for key, alert in alerts:
            if key in self.claimed:
                self.already_claimed += 1
                continue
            self.claimed[key] = prepare(key, alert) if prepare else alert
            self.sent[alert["problem"]] = self.sent.get(alert["problem"], 0) + 1


FLOWS = {FLOW: ManagedFlow(name="orders", flowId=FLOW, sandbox="(default)", connector="s3",
                           alerts=Alerts(failedRecordsPercent=1))}


def decider(fetched: dict | None = None) -> tuple[RunEvents, FakeSender, list]:
    sender, calls = FakeSender(), []

    def fetch(sandbox: str, rid: str) -> Any:
        calls.append((sandbox, rid))
        return fetched  # run_query.run_by_id's answer: the run, or None

    return RunEvents(org_id=ORG, default_sandbox="prod", find_flow=FLOWS.get, fetch_run=fetch, sender=sender,
                     sent=lambda: sender.sent), sender, calls


@pytest.mark.parametrize("wrap", [lambda v: bridge(shape_b(v)), lambda v: bridge(shape_b(v)[0]),
                                  lambda v: bridge(shape_b(v)[0]["messages"][0]), lambda v: bridge(shape_a(v)),
                                  lambda v: bridge({"data": shape_a(v)}), lambda v: shape_b(v)])
def test_both_of_adobes_shapes_give_the_run_and_its_type(wrap):
    value = run("failed")
    (note,) = parse(wrap(value))
    assert note.run.id == RUN and note.run.flowId == FLOW and note.run.sandboxName == "prod"
    assert note.run.metrics.statusSummary.status == "failed"
    assert note.run.metrics.statusSummary.errors[0].code == "CONNECTOR-2001-500"
    assert note.type in ("sources_flow_run_failed", "sources_flow_run_success")


def test_a_failed_run_is_alerted_under_the_polls_key_with_the_polls_body():
    decide, sender, calls = decider()
    value = run("failed")
    report = decide.handle(bridge(shape_b(value)), NOW)
    key = f"ALERT#{FLOW}#{RUN}#failed"
    assert list(sender.claimed) == [key] and report.alerts_sent == {"failed": 1} and not calls
    # what check.py would build from GET /runs's copy of the same run
    poll = build_alert("failed", alert_flow(FLOWS[FLOW], "prod"), copy.deepcopy(value), now_ms=NOW)
    assert sender.claimed[key] == poll
    assert [e["code"] for e in poll["errors"]] == ["CONNECTOR-2001-500", "133"]
    # the same event again, or a poll after it: claimed once
    again = decide.handle(bridge(shape_a(value, "sources_flow_run_failure")), NOW)
    assert again.alerts_already_claimed == 1 and len(sender.claimed) == 1


def test_failed_records_are_kept_before_the_claim_and_never_again_for_a_claimed_run():
    """As the poll: the run's failed records are copied once, just before its alert is claimed, and
    the alert says where; the same run's event again copies nothing."""
    decide, sender, _ = decider()
    kept: list[tuple[str, str]] = []

    def keep(alert: dict, kind: str, flow: ManagedFlow, detail: dict) -> dict:
        kept.append((flow.name, detail["id"]))
        return {**alert, "failedRecordsKept": f"s3://bucket/dataflows/{flow.name}/runs/{detail['id']}/"}

    decide.keep = keep
    value = run("failed")
    decide.handle(bridge(shape_b(value)), NOW)
    decide.handle(bridge(shape_a(value, "sources_flow_run_failure")), NOW)
    assert kept == [("orders", RUN)]
    [alert] = sender.claimed.values()
    assert alert["failedRecordsKept"] == f"s3://bucket/dataflows/orders/runs/{RUN}/"


def test_partial_over_the_threshold_is_alerted_and_under_it_is_fine():
    decide, sender, _ = decider()
    assert decide.handle(bridge(shape_a(run("success", failed=5))), NOW).alerts_sent == {"partial": 1}
    decide, sender, _ = decider()
    report = decide.handle(bridge(shape_a(run("success", rid="r-2", failed=1, read=1000))), NOW)
    assert report.fine == 1 and not sender.claimed


def test_a_delayed_run_is_stuck_past_the_specs_allowance():
    decide, sender, _ = decider()
    value = run("inProgress", completed=False)
    value["metrics"]["durationSummary"]["startedAtUTC"] = NOW - 10 * 3_600_000
    report = decide.handle(bridge(shape_b(value, kind="sources_flow_run_delay")), NOW)
    assert report.alerts_sent == {"stuck": 1} and f"ALERT#{FLOW}#{RUN}#stuck" in sender.claimed


@pytest.mark.parametrize(("value", "reason"), [
    (run("failed", org="OTHER@AdobeOrg"), "foreign"),
    (run("failed", flow="not-ours"), "unmanaged"),
    (run("failed", sandbox="dev"), "other-sandbox"),
    ({**run("failed"), "id": "a#b"}, "malformed"),
    ({**run("failed"), "metrics": "x" * 10}, "malformed"),
    ({k: v for k, v in run("failed").items() if k != "flowId"}, "malformed"),
])
def test_what_is_not_ours_or_not_a_run_is_counted_and_dropped_never_alerted(value, reason):
    decide, sender, calls = decider()
    report = decide.handle(bridge(shape_b(value)), NOW)
    assert report.dropped == {reason: 1} and not sender.claimed and not calls


@pytest.mark.parametrize("event", [None, 3, "text", {"detail-type": "x", "detail": []}, {"detail-type": "x"},
                                   bridge({"messages": [{}] * 101}), bridge({"unknown": 1}),
                                   bridge({"data": {"data": {"data": {"data": {"data": {}}}}}})])
def test_a_malformed_event_is_one_drop_not_a_crash(event):
    decide, sender, _ = decider()
    report = decide.handle(event, NOW)
    assert set(report.dropped) == {"malformed"} and not sender.claimed


def test_an_envelope_of_another_org_is_foreign_even_when_its_run_says_ours():
    decide, sender, _ = decider()
    event = shape_b(run("failed"))
    event[0]["messages"][0]["imsOrgId"] = "OTHER@AdobeOrg"
    assert decide.handle(bridge(event), NOW).dropped == {"foreign": 1} and not sender.claimed


def test_a_run_the_event_describes_too_little_is_read_once_from_aep():
    # Adobe's "Failure" example: no completedAtUTC at the run's level, so GET /runs/{id}.
    full = run("failed")
    event_run = copy.deepcopy(full)
    del event_run["metrics"]["durationSummary"]["completedAtUTC"]
    decide, sender, calls = decider(fetched={k: v for k, v in full.items() if k not in ("imsOrgId", "sandboxName")})
    report = decide.handle(bridge(shape_b(event_run)), NOW)
    assert calls == [("prod", RUN)] and report.runs_fetched == 1 and report.alerts_sent == {"failed": 1}
    assert sender.claimed[f"ALERT#{FLOW}#{RUN}#failed"]["completedAt"] is not None
    # and a success that wrote fewer records than it read, without a failed count
    success = run("success")
    del success["metrics"]["recordSummary"]["failedRecordCount"]
    success["metrics"]["recordSummary"]["outputRecordCount"] = 70
    decide, sender, calls = decider(fetched=None)
    assert decide.handle(bridge(shape_a(success)), NOW).dropped == {"malformed": 1} and calls == [("prod", RUN)]


class KnownLinks(Retries):
    """The re-trigger policy's chains given, not read from DynamoDB; its starts on a fake Step Functions."""

    def __init__(self, links: dict[str, dict], sfn: FakeStepFunctions) -> None:
        super().__init__("table", "arn:aws:states:us-east-1:123456789012:stateMachine:retry", sfn)
        self.links, self.asked = dict(links), []

    def read_links(self, run_ids) -> None:
        self.asked.extend(run_ids)


def test_a_listed_failure_is_held_back_and_retried_once_whichever_path_starts_it_first():
    policy = OnFailure.model_validate({"retry": {"attempts": 1, "afterMinutes": 15, "codes": ["CONNECTOR-2001-500"]},
                                       "notifyRecovered": True})
    flows = {FLOW: FLOWS[FLOW].model_copy(update={"onFailure": policy})}
    sender, sfn = FakeSender(), FakeStepFunctions()
    retries = KnownLinks({"r1": {"runId": "r1", "origin": RUN, "attempt": 1, "chain": [RUN, "r1"]}}, sfn)
    decide = RunEvents(org_id=ORG, default_sandbox="prod", find_flow=flows.get, fetch_run=lambda *_: None,
                       sender=sender, sent=lambda: sender.sent, retries=retries)
    report = decide.handle(bridge(shape_b(run("failed"))), NOW)
    assert report.retries_started == 1 and sender.claimed == {} and retries.asked == [RUN]
    assert sfn.started[f"retry-{RUN}"]["input"]["waitSeconds"] == 900
    # the same failure again (a duplicated event; a poll would be refused the same way): not re-run twice
    again = decide.handle(bridge(shape_a(run("failed"), "sources_flow_run_failure")), NOW)
    assert again.retries_already_started == 1 and len(sfn.started) == 1 and sender.claimed == {}
    # its re-run fails too: attempts used up, alerted once naming both runs
    decide.handle(bridge(shape_b(run("failed", rid="r1"))), NOW)
    [(key, alert)] = sender.claimed.items()
    assert key == f"ALERT#{FLOW}#r1#failed" and alert["attempts"] == [RUN, "r1"]
    assert "attempts used up" in alert["reason"] and len(sfn.started) == 1
    # a re-run that succeeds: the policy's recovered note, not "fine"
    retries.links["r2"] = {"runId": "r2", "origin": RUN, "attempt": 1, "chain": [RUN, "r2"]}
    healed = decide.handle(bridge(shape_a(run("success", rid="r2"))), NOW)
    assert healed.fine == 0 and sender.claimed[f"ALERT#{FLOW}#r2#recovered"]["problem"] == "recovered"
    # a flow without a policy: alerted at once, as before
    plain = decider()
    plain[0].retries = retries
    plain[0].handle(bridge(shape_b(run("failed", rid="r3"))), NOW)
    assert list(plain[1].claimed) == [f"ALERT#{FLOW}#r3#failed"] and len(sfn.started) == 1
