"""The run monitor's logic without AWS or AEP: the merge rules of a shard's state, how a poll
splits its work, its settings, and the wiring template.yaml gives it (which the local stack runs)."""

import json
from pathlib import Path

import pytest

from local import template as cfn

ROOT = Path(__file__).resolve().parents[2]


def test_shard_merges_are_monotonic_whatever_the_order():
    from aepflow.monitor.state import Delta, ShardState, merge

    base = merge(ShardState(), Delta(register={"f1": {"n": "one", "sc": ["minute", 15, 0], "b": 0, "due": 900_000,
                                                      "from": 10}}))
    newer = Delta(flows={"f1": {"s": 200, "due": 2_000_000, "d": 150, "p": 1}}, run_adds={"r2": ["f1", 200]})
    older = Delta(flows={"f1": {"s": 100, "due": 1_000_000, "d": 100, "p": 0}}, run_removes={"r1"})
    one, two = merge(merge(base, newer), older), merge(merge(base, older), newer)
    assert one == two and one.runs == {"r2": ["f1", 200]}
    assert one.flows["f1"] | {} == {"n": "one", "sc": ["minute", 15, 0], "b": 0, "due": 2_000_000, "from": 10,
                                    "s": 200, "d": 150, "p": 1}
    # a sync that finds the flow again renews what the record says, not what the monitor saw
    again = merge(one, Delta(register={"f1": {"n": "one", "sc": ["hour", 1, 0], "b": 5, "due": 1, "from": 1}}))
    assert again.flows["f1"]["s"] == 200 and again.flows["f1"]["due"] == 2_000_000
    assert again.flows["f1"]["sc"][0] == "hour"
    # an overdue alert already claimed (due null) stays claimed against a stale writer of the same run
    claimed = merge(one, Delta(flows={"f1": {"due": None}}))
    assert merge(claimed, Delta(flows={"f1": {"due": 3_000_000}})).flows["f1"]["due"] is None
    # a dropped flow stays dropped; a late update of it is ignored
    dropped = merge(one, Delta(drop={"f1"}))
    assert merge(dropped, Delta(flows={"f1": {"s": 999}})).flows == {}
    assert ShardState.decode(one.encode()) == one and not Delta(flows={"f1": {}}) and Delta(clear_from={"f1"})
    # a failure held back for a re-trigger is kept as such (no recovery after it); anything else is 0
    held = merge(one, Delta(flows={"f1": {"d": 300, "p": 2}}))
    assert held.flows["f1"]["p"] == 2 and merge(held, Delta(flows={"f1": {"d": 400, "p": 7}})).flows["f1"]["p"] == 0


def test_the_work_splits_by_sandbox_and_shard(monkeypatch):
    from aepflow.core import settings
    from aepflow.core.settings import MonitorSettings
    from aepflow.monitor.poll_plan import split

    cfg = MonitorSettings(table_name="t", credentials_secret="c", token_cache_secret="t", shards=64,
                          flows_per_unit=1000)
    units = split({"prod": 2500, "dev": 10}, {"prod", "dev", "empty"}, cfg)
    by_sandbox = {}
    for unit in units:
        by_sandbox.setdefault(unit.sandbox, []).append((unit.first, unit.last))
    assert {k: len(v) for k, v in by_sandbox.items()} == {"dev": 1, "empty": 1, "prod": 3}
    for ranges in by_sandbox.values():  # contiguous, every shard once
        assert [n for first, last in ranges for n in range(first, last + 1)] == list(range(64))
    monkeypatch.setenv("DATAFLOWS_TABLE", "t")
    monkeypatch.setenv("MONITOR_SHARDS", "many")
    settings.forget()
    with pytest.raises(settings.SettingsError, match="MONITOR_SHARDS"):
        settings.load(MonitorSettings)
    settings.forget()


def test_the_registry_listens_to_what_provisioning_announces_and_the_schedule_starts_the_poll():
    root = ROOT
    template = cfn.load()
    provision = json.loads((root / "statemachine" / "provision_dataflow.asl.json").read_text())
    [announce] = provision["States"]["Announce the dataflow"]["Parameters"]["Entries"]
    events = template["Resources"]["MonitorRegistryFunction"]["Properties"]["Events"]
    patterns = [e["Properties"]["Pattern"] for e in events.values() if e["Type"] == "EventBridgeRule"]
    assert any(announce["Source"] in p["source"] and announce["DetailType"] in p["detail-type"] for p in patterns)
    poll = template["Resources"]["MonitorPollStateMachine"]["Properties"]
    [schedule] = [e for e in poll["Events"].values() if e["Type"] == "ScheduleV2"]
    assert json.loads(schedule["Properties"]["Input"]) == {"time": "<aws.scheduler.scheduled-time>"}
    definition = json.loads((root / poll["DefinitionUri"]).read_text())
    invoked = {s["Parameters"]["FunctionName"] for s in _tasks(definition["States"])}
    assert invoked == {f"${{{name}}}" for name in poll["DefinitionSubstitutions"]}
    assert all(poll["DefinitionSubstitutions"][name] == {"Ref": name} for name in poll["DefinitionSubstitutions"])
    # Step Functions gives up on a task only after its function is surely done.
    for task in _tasks(definition["States"]):
        function = template["Resources"][task["Parameters"]["FunctionName"][2:-1]]["Properties"]
        assert task["TimeoutSeconds"] > function.get("Timeout", template["Globals"]["Function"]["Timeout"]), task
    assert definition["TimeoutSeconds"] >= sum(t["TimeoutSeconds"] for t in _tasks(definition["States"]))


def _tasks(states):
    for state in states.values():
        if state["Type"] == "Task":
            yield state
        if state["Type"] == "Map":
            yield from _tasks(state["ItemProcessor"]["States"])
