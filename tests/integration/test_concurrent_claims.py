"""Two different specs posted under one name at the same moment: exactly one starts (and is
waited for: an execution left running would reach the next test's stack)."""

import threading

import boto3

from aepflow.core.errors import DataflowConflict
from aepflow.ops import start
from local.examples import example


def test_only_one_of_two_racing_specs_under_one_name_starts(stack):
    first, second = example("004"), example("004")
    second["description"] = "a different spec under the same name"
    for round_ in range(3):
        name = f"acme-race-{round_}"
        outcomes: list[object] = []
        gate = threading.Barrier(2)

        def post(spec, gate=gate, outcomes=outcomes):
            gate.wait()
            try:
                outcomes.append(start.start(spec))
            except DataflowConflict as exc:
                outcomes.append(exc)

        threads = [threading.Thread(target=post, args=({**spec, "name": name},)) for spec in (first, second)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        conflicts = [o for o in outcomes if isinstance(o, DataflowConflict)]
        assert len(conflicts) == 1 and conflicts[0].status == 409, outcomes
        executions = boto3.client("stepfunctions").list_executions(
            stateMachineArn=stack.state_machines["ProvisionDataflowStateMachine"])["executions"]
        assert sum(e["name"].startswith(name) for e in executions) == 1
        [started] = [e for e in executions if e["name"].startswith(name)]
        assert stack.wait(started["executionArn"])["status"] == "SUCCEEDED"
