"""The declarative commands of `python -m local`, each on a fresh local stack:

- plan SPEC... [--current SPEC...]: the plan of each SPEC against what the --current specs provisioned
  (GETs only), as a table ending with a summary line, or JSON Lines with --json; --detailed-exitcode;
- adopt FLOW_ID | --hand-made: bring a flow aepflow did not make under management; its spec as YAML on
  stdout (a spec file is YAML: the YAML is the result), its plan (no change) on stderr;
- rotate SPEC --value JSON: a new value of the spec's source secret reaches AEP (PATCH /connections);
- drift SPEC [--change disable|rename|delete]: a change behind aepflow's back, the drift check run twice;
- run SPEC [--window START END]: a run on demand, watched by the run monitor.

Each prints what AEP was asked, so what the command claims can be read off the requests: `key: value`
lines, or one JSON line with --json (aepflow.doors.cli.render, the aepflow command's own printing)."""

from __future__ import annotations

import json
from typing import Any

import boto3

from aepflow.doors.cli import render

EVENT_SOURCE = "secretsmanager.amazonaws.com"


def _calls(stack, since: int, *, reads: bool = True) -> list[dict[str, Any]]:
    """The AEP requests after `since`: method, path, status, If-Match (IMS token requests left out)."""
    out = []
    for record in stack.emulator.records[since:]:
        if "/ims/" in record["path"] or (not reads and record["method"] == "GET"):
            continue
        entry = {"method": record["method"], "path": record["path"], "status": record["status"]}
        if record["headers"].get("If-Match"):
            entry["ifMatch"] = record["headers"]["If-Match"]
        if record["method"] in ("PATCH", "POST", "PUT"):
            entry["body"] = record["body"]
        out.append(entry)
    return out


class Refused(Exception):
    """What a command needs did not happen (the spec it provisions first is not ACTIVE, a drift check
    failed): the command ends with this message and exit code 1, no traceback."""


def _provision(stack, specs: list[Any]) -> list[dict[str, Any]]:
    results = stack.provision(specs)
    for result in results:
        if result["status"] != "ACTIVE":
            problems = "".join(f"\n  {e.get('path') or e.get('step') or e.get('code') or ''}: {e.get('message')}"
                               for e in result["errors"])
            raise Refused(f"{result['name']} is {result['status']}, not ACTIVE{problems}")
    return results


def plan(stack, specs: list[Any], current: list[Any], out, as_json: bool, detailed: bool = False) -> int:
    """Exit code 0, or 2 when a spec is invalid; with `detailed` (--detailed-exitcode), as CI tools
    expect it: 0 when nothing would change, 2 when something would, 1 when a spec is invalid."""
    from aepflow.ops.plan import read as plan_read
    from aepflow.ops.plan import render as plan_render

    if current:
        _provision(stack, current)
    # One spec: a GET per resource; several: list queries filtered by id (plan.make_many).
    plans = [plan_read.of(specs[0])] if len(specs) == 1 and _valid(specs[0]) else plan_read.make_many(specs)
    invalid = any(p["action"] == "invalid" for p in plans)
    if as_json:
        for found in plans:
            out.write(json.dumps(found) + "\n")
    else:
        out.write(plan_render.table([p for p in plans if p["action"] != "invalid"]))
        for found in plans:
            if found["action"] == "invalid":
                out.write(f"{found['name']}: INVALID\n" + "".join(
                    f"  {p['path']}: {p['message']}\n" for p in found["problems"]))
        out.write(plan_render.summary(plans))
    if detailed:
        return 1 if invalid else 2 if plan_render.changes_anything(plans) else 0
    return 2 if invalid else 0


def _valid(spec: Any) -> bool:
    from aepflow.core.errors import SpecInvalid
    from aepflow.steps.validate import validate_spec

    try:
        validate_spec(spec)
        return True
    except SpecInvalid:
        return False


def adopt(stack, flow_id: str | None, hand_made: bool, name: str | None, out, err, as_json: bool = False) -> int:
    from aepflow.ops import adopt as adopt_op
    from aepflow.ops.plan import render as plan_render
    from local import handmade

    if hand_made:
        flow_id = handmade.make_flow()["flowId"]
        err.write(f"made flow {flow_id} in the emulator with AEP's own API (not aepflow's provisioning)\n")
    before = len(stack.emulator.records)
    adopted = adopt_op.adopt(flow_id or "", name=name)
    methods = sorted({r["method"] for r in _calls(stack, before)})
    if as_json:
        render.record(out, {"name": adopted["name"], "yaml": adopted["yaml"], "plan": adopted["plan"]}, True)
    else:
        out.write(adopted["yaml"])
    err.write(f"adopted as {adopted['name']}; AEP calls: {', '.join(methods)}; the plan right after:\n")
    err.write(plan_render.table([adopted["plan"]]))
    return 0 if adopted["plan"]["action"] == "none" else 1


def rotate(stack, spec: dict[str, Any], value: dict[str, Any], out, as_json: bool = False) -> int:
    from aepflow.store import records

    [result] = _provision(stack, [spec])
    secret = spec["source"]["credentialsSecret"]
    before = len(stack.emulator.records)
    answer = boto3.client("secretsmanager").put_secret_value(SecretId=secret, SecretString=json.dumps(value))
    # What CloudTrail delivers to EventBridge for PutSecretValue (the local stack has no CloudTrail).
    boto3.client("events").put_events(Entries=[{
        "Source": "aws.secretsmanager", "DetailType": "AWS API Call via CloudTrail",
        "Detail": json.dumps({"eventSource": EVENT_SOURCE, "eventName": "PutSecretValue",
                              "requestParameters": {"secretId": secret}, "responseElements": {"arn": answer["ARN"]}})}])
    calls = _calls(stack, before)
    rec = records.record(spec["name"])
    render.record(out, {"name": spec["name"], "baseConnectionId": result["baseConnectionId"],
                        "secretVersion": answer["VersionId"], "recorded": rec.credentials if rec else None,
                        "aepCalls": calls, "alerts": stack.messages()}, as_json)
    changed = [c for c in calls if c["method"] != "GET"]
    return 0 if [c["method"] for c in changed] == ["PATCH"] and changed[0].get("ifMatch") else 1


CHANGES = {"disable": lambda emu, flow: emu.ui_action(flow, "DISABLE"),
           "rename": lambda emu, flow: emu.ui_patch("flow", flow, [{"op": "replace", "path": "/name",
                                                                    "value": "renamed in the UI"}]),
           "delete": lambda emu, flow: emu.ui_delete_flow(flow)}


def drift(stack, spec: dict[str, Any], change: str, checks: int, out, as_json: bool = False) -> int:
    [result] = _provision(stack, [spec])
    stack.messages()  # what provisioning sent is not drift
    CHANGES[change](stack.emulator, result["flowId"])
    reports = []
    for _ in range(checks):
        report, failed = stack.invoke(_function(stack, "DriftFunction"), {"source": "aws.scheduler"})
        if failed:
            raise Refused(f"the drift check failed: {report}")
        reports.append({k: report[k] for k in ("checked", "drifted", "alerted", "unchanged", "reverted", "aepCalls")})
    alerts = stack.messages()
    shown = {"name": spec["name"], "change": change, "checks": reports, "alerts": len(alerts)}
    if as_json:
        shown["alerts"] = [{"subject": a["Subject"], "text": json.loads(a["Message"])["text"]} for a in alerts]
    render.record(out, shown, as_json)
    for alert in [] if as_json else alerts:
        out.write(f"\n{alert['Subject']}\n{json.loads(alert['Message'])['text']}\n")
    return 0 if len(alerts) == 1 else 1


def run(stack, spec: dict[str, Any], window: list[int] | None, outcome: str | None, out,
        as_json: bool = False) -> int:
    from aepflow.ops import dataflow_runs

    [result] = _provision(stack, [spec])
    stack.emulator.advance(seconds=0)  # the flow's own one-time run, from its schedule, comes first
    if outcome:
        stack.emulator.set_run_outcomes(result["flowId"], [outcome])
    stack.messages()
    before = len(stack.emulator.records)
    body = {"windowStartTime": window[0], "windowEndTime": window[1]} if window else None
    started = dataflow_runs.start(spec["name"], body)
    posted = [c for c in _calls(stack, before, reads=False) if c["path"].endswith("/runs")]
    stack.emulator.advance(minutes=10)
    polled = stack.run_monitor()
    runs = dataflow_runs.recent(spec["name"])
    mine = next((r for r in runs["runs"] if r["id"] == started["runId"]), None)
    render.record(out, {"started": started, "request": posted, "run": mine,
                        "monitor": {k: polled.get(k) for k in ("runs_seen", "problems", "alerts_sent")},
                        "alerts": [a["Subject"] for a in stack.messages()]}, as_json)
    return 0 if mine is not None else 1


def _function(stack, logical: str) -> str:
    return next(name for name, fn in stack.functions.items() if fn["logical"] == logical)

