"""template.yaml and the ASL agree: every ${X} has a substitution, every handler exists,
no wildcard resources, no fixed names, and retries only on transient errors."""

import json
import re
from pathlib import Path

from local import template as cfn

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = cfn.load()
MACHINES = cfn.resources_of_type(TEMPLATE, "AWS::Serverless::StateMachine")
FUNCTIONS = cfn.resources_of_type(TEMPLATE, "AWS::Serverless::Function")


def test_every_asl_placeholder_has_a_definition_substitution_and_none_is_unused():
    assert MACHINES
    for res in MACHINES.values():
        text = (ROOT / res["Properties"]["DefinitionUri"]).read_text()
        placeholders = set(re.findall(r"\$\{([A-Za-z0-9]+)\}", text))
        assert placeholders == set(res["Properties"]["DefinitionSubstitutions"])


def test_every_asl_file_is_wired_to_a_state_machine():
    wired = {res["Properties"]["DefinitionUri"] for res in MACHINES.values()}
    assert {str(p.relative_to(ROOT)) for p in (ROOT / "statemachine").glob("*.asl.json")} == wired


def test_every_function_points_at_a_thin_handler_that_exists():
    handler = TEMPLATE["Globals"]["Function"]["Handler"]
    for name, res in FUNCTIONS.items():
        app = ROOT / res["Properties"]["CodeUri"] / "app.py"
        assert app.exists(), name
        source = app.read_text()
        assert "lambda_handler" in source and "requests" not in source and "boto3" not in source, name
    assert handler == "app.lambda_handler"


def test_no_wildcard_resources_and_no_fixed_resource_names():
    text = (ROOT / "template.yaml").read_text()
    assert not re.search(r"Resource:\s*['\"]?\*", text)
    for res in TEMPLATE["Resources"].values():
        props = res.get("Properties", {})
        for key in ("FunctionName", "TableName", "TopicName", "Name", "StateMachineName", "QueueName"):
            assert key not in props, (res["Type"], key)


def test_functions_share_one_environment_from_globals():
    # The local stack runs every function in one process, so per-function variables would clash.
    for name, res in FUNCTIONS.items():
        assert "Environment" not in res["Properties"], name


def test_lambda_tasks_retry_only_transient_errors_and_catch_into_roll_back():
    definition = json.loads((ROOT / "statemachine" / "provision_dataflow.asl.json").read_text())

    def tasks(states):
        for name, state in states.items():
            if state["Type"] == "Parallel":
                for branch in state["Branches"]:
                    yield from tasks(branch["States"])
            if state["Type"] == "Task" and state["Resource"].startswith("${"):
                yield name, state

    seen = 0
    for name, state in tasks(definition["States"]):
        seen += 1
        for retrier in state.get("Retry", []):
            assert "States.ALL" not in retrier["ErrorEquals"] and "States.TaskFailed" not in retrier["ErrorEquals"]
            assert retrier["MaxAttempts"] <= 3 and retrier.get("JitterStrategy") == "FULL"
    # Every function the state machine is wired to is a task (the API, intake and monitor are not).
    wired = {name for name in FUNCTIONS for res in MACHINES.values()
             if {"Fn::GetAtt": [name, "Arn"]} in res["Properties"]["DefinitionSubstitutions"].values()}
    assert seen == len(wired)
    top = definition["States"]
    catching = [s for s in top.values() if s.get("Catch")]
    assert all(c["ResultPath"] == "$.error" for s in catching for c in s["Catch"]
               if c["Next"] == "Roll back what this execution created")
    assert top["Provisioning failed"]["Type"] == "Fail"
    assert "Succeed" not in {s["Type"] for s in top.values()}
