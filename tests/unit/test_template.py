"""template.yaml and the ASL agree: every ${X} has a substitution, every handler exists,
no wildcard resources, no fixed names, and retries only on transient errors. And the stack is
operable: least-privilege roles, log retention, timeouts, alarms, and a dashboard of the metrics
the functions emit."""

import contextlib
import fnmatch
import io
import json
import re
from pathlib import Path

import pytest
import yaml

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


def test_no_fixed_resource_names():
    for res in TEMPLATE["Resources"].values():
        props = res.get("Properties", {})
        for key in ("FunctionName", "TableName", "TopicName", "Name", "StateMachineName", "QueueName"):
            if res["Type"] == "AWS::Events::EventBus" and key == "Name":
                # A bus must be named: the stack's name is in it, so two stacks never share one.
                assert "${AWS::StackName}" in props[key]["Fn::Sub"], res
                continue
            if res["Type"] == "AWS::Serverless::StateMachine" and key in props:
                # The retry state machine is named so that the Globals can build its ARN (a !Ref
                # would make every function depend on it): the stack's name, then its logical id.
                logical = next(n for n, r in TEMPLATE["Resources"].items() if r is res)
                assert props[key] == {"Fn::Sub": "${AWS::StackName}-" + logical}, res
                arn = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]["RETRY_STATE_MACHINE_ARN"]
                assert arn["Fn::Sub"].endswith(":stateMachine:${AWS::StackName}-" + logical)
                continue
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

    seen = set()
    for _name, state in tasks(definition["States"]):
        seen.add(state["Resource"][2:-1].removesuffix("Arn"))
        for retrier in state.get("Retry", []):
            assert "States.ALL" not in retrier["ErrorEquals"] and "States.TaskFailed" not in retrier["ErrorEquals"]
            assert retrier["MaxAttempts"] <= 3 and retrier.get("JitterStrategy") == "FULL"
    # Every function the state machine is wired to is a task (the API, intake and monitor are not);
    # one function may serve several tasks (find-existing checks what a branch needs).
    wired = {name for name in FUNCTIONS for res in MACHINES.values()
             if {"Fn::GetAtt": [name, "Arn"]} in res["Properties"]["DefinitionSubstitutions"].values()}
    assert seen == wired
    top = definition["States"]
    catching = [s for s in top.values() if s.get("Catch")]
    assert all(c["ResultPath"] == "$.error" for s in catching for c in s["Catch"]
               if c["Next"] == "Roll back what this execution created")
    assert top["Provisioning failed"]["Type"] == "Fail"
    assert "Succeed" not in {s["Type"] for s in top.values()}


# --- Least privilege ---------------------------------------------------------------------------
# Who needs what, from each function's code (functions/*/app.py and what it calls in the layer):
# every provisioning step but validate-spec builds an AEP client (steps/context.Context); the
# roll-back deletes through AEP; the API and the intake describe, update and delete through AEP
# (ops/describe.py, ops/apply/, ops/delete.py); the monitor's check polls AEP (its plan, registry and
# finish steps do not). validate-spec only parses the spec and reads the source secret it names
# (steps/validate._secret_problems). The drift check lists the managed flows and connections
# (ops/drift.py, aep/live.read_many); the credential rotation PATCHes base connections (ops/rotation.py).
AEP_CALLERS = {"FindExistingFunction", "CreateBaseConnectionFunction", "ExploreSourceFunction",
               "CreateSourceConnectionFunction", "CreateTargetSchemaFunction", "CreateDatasetFunction",
               "CreateTargetConnectionFunction", "CreateMappingSetFunction", "ResolveFlowSpecFunction",
               "CreateDataflowFunction", "RollBackFunction", "MonitorCheckFunction", "SpecIntakeFunction",
               "ApiFunction", "DriftFunction", "RotateCredentialsFunction", "ApplyPlanFunction",
               "MonitorEventsFunction",  # the push path: the credentials' orgId, and GET /runs/{id} at times
               "MonitorWebhookFunction",  # ... by webhook: also the credentials' clientId (the recipient)
               "GrantBucketReadFunction",  # Adobe's IAM role: GET /connectionSpecs/{id}/configs (steps/bucket.py)
               "RetriggerRunFunction"}  # POST /runs/{id}/action?op=re-trigger, GET /runs/{id} (the retry policy)
# validate_spec (steps/validate._secret_problems), create-base-connection (the auth params, held
# against the live connection spec when AEP refuses the catalog's), and the doors, which validate a
# spec before they start it (ops/start.start and start_if_changed -> validate_spec).
# The rotation sends the secret's value; the drift check's onDrift: revert validates the spec again;
# apply-plan sends changed credentials.
SOURCE_SECRET_READERS = {"ValidateSpecFunction", "CreateBaseConnectionFunction", "SpecIntakeFunction", "ApiFunction",
                         "RotateCredentialsFunction", "DriftFunction", "ApplyPlanFunction"}
# No DynamoDB at all: they read AEP (or nothing) and return what they found.
NO_TABLE = {"ValidateSpecFunction", "FindExistingFunction"}
# Steps that write only the execution's warnings to its journal (and nothing else).
WARNING_WRITERS = {"ExploreSourceFunction", "ResolveFlowSpecFunction"}
# The monitor's steps that claim and send alerts: the check, the plan's sweep of pending ones, and
# the push path's flow-run events (monitor/events.py).
# RetriggerRunFunction: the failure held back for a re-trigger that AEP refused (monitor/retrigger.py).
ALERTERS = {"MonitorPlanFunction", "MonitorCheckFunction", "MonitorEventsFunction", "MonitorWebhookFunction",
            "RetriggerRunFunction"}
MONITOR_STEPS = {"MonitorPlanFunction", "MonitorRegistryFunction", "MonitorCheckFunction", "MonitorFinishFunction"}
CREATE_STEPS = {"CreateBaseConnectionFunction", "CreateSourceConnectionFunction", "CreateTargetSchemaFunction",
                "CreateDatasetFunction", "CreateTargetConnectionFunction", "CreateMappingSetFunction",
                "CreateDataflowFunction"}
TABLE_WRITES = {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem",
                "dynamodb:*"}
# Actions IAM has no resource type for (CloudWatch Logs' log deliveries, which Step Functions'
# logging needs), the only ones a role may grant on "*".
UNSCOPABLE = {"logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery",
              "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies",
              "logs:DescribeLogGroups"}


def _listed(value):
    return value if isinstance(value, list) else [value]


def statements_of(logical_id):
    return cfn.role_statements(TEMPLATE, logical_id)


def allowed(logical_id, action_prefix, resource_text):
    """The Allow statements of `logical_id` granting an action starting with `action_prefix` on a
    resource whose template text contains `resource_text`."""
    return [s for s in statements_of(logical_id) if s["Effect"] == "Allow"
            and any(a.startswith(action_prefix) or a == "*" for a in _listed(s["Action"]))
            and any(resource_text in json.dumps(r) for r in _listed(s["Resource"]))]


def leading_key_patterns(statement):
    condition = statement.get("Condition") or {}
    return _listed((condition.get("ForAllValues:StringLike") or {}).get("dynamodb:LeadingKeys") or [])


def may_write_key(logical_id, key):
    """Whether the role may PutItem an item whose partition key is `key`."""
    for s in allowed(logical_id, "dynamodb:", "DataflowsTable"):
        if not TABLE_WRITES & set(_listed(s["Action"])):
            continue
        patterns = leading_key_patterns(s)
        if any(fnmatch.fnmatchcase(key, p) for p in patterns):
            return True
    return False


def test_policy_statements_name_their_resources_and_grant_star_only_where_iam_has_no_resource():
    for name, res in TEMPLATE["Resources"].items():
        if res["Type"] in ("AWS::Serverless::Function", "AWS::Serverless::StateMachine"):
            statements = statements_of(name)
        elif res["Type"] == "AWS::IAM::ManagedPolicy":
            statements = res["Properties"]["PolicyDocument"]["Statement"]
        else:
            continue
        for s in statements:
            if "*" in _listed(s["Resource"]):
                assert s["Effect"] == "Allow" and set(_listed(s["Action"])) <= UNSCOPABLE, (name, s)
                assert res["Type"] == "AWS::Serverless::StateMachine", (name, s)
            assert not any(a.endswith("*") and ":" not in a[:-1] for a in _listed(s["Action"])), (name, s)
    # A key policy's Resource "*" is the key itself; nothing else in the template says "*".
    text = (ROOT / "template.yaml").read_text()
    stars = len(re.findall(r"Resource:\s*['\"]\*['\"]", text))
    key_statements = [s for key in cfn.resources_of_type(TEMPLATE, "AWS::KMS::Key").values()
                      for s in key["Properties"]["KeyPolicy"]["Statement"]]
    unscopable = sum(1 for name in MACHINES for s in statements_of(name) if s["Resource"] == "*")
    assert stars == len(key_statements) + unscopable


def test_only_the_functions_that_call_aep_can_read_the_aep_credentials_and_the_token_cache():
    readers = {name for name in FUNCTIONS if allowed(name, "secretsmanager:GetSecretValue", "AepCredentialsSecretName")}
    token_users = {name for name in FUNCTIONS if allowed(name, "secretsmanager:", "AepTokenCacheSecret")}
    assert readers == AEP_CALLERS
    assert token_users == AEP_CALLERS
    # validate-spec is also denied them outright, in case SourceSecretsPrefix is set to cover them.
    denied = [s for s in statements_of("ValidateSpecFunction") if s["Effect"] == "Deny"]
    assert any("AepCredentialsSecretName" in json.dumps(s["Resource"]) for s in denied)
    assert any("AepTokenCacheSecret" in json.dumps(s["Resource"]) for s in denied)


def test_source_secrets_are_readable_only_under_the_prefix_and_only_by_who_needs_them():
    readers = {name for name in FUNCTIONS if allowed(name, "secretsmanager:GetSecretValue", "SourceSecretsPrefix")}
    assert readers == SOURCE_SECRET_READERS
    for name in FUNCTIONS:
        for s in allowed(name, "secretsmanager:", ":secret:"):
            for resource in _listed(s["Resource"]):
                text = json.dumps(resource)
                assert "${SourceSecretsPrefix}*" in text or "${AepCredentialsSecretName}-??????" in text, (name, s)


def test_functions_that_only_read_have_no_table_access_and_writers_are_held_to_their_own_items():
    from aepflow.store import keys
    from aepflow.store import monitor as monitor_store
    for name in NO_TABLE:
        assert not allowed(name, "dynamodb:", ""), name
    for name in FUNCTIONS:
        for s in allowed(name, "dynamodb:", ""):
            assert not {"dynamodb:BatchWriteItem", "dynamodb:*"} & set(_listed(s["Action"])), name
            if "dynamodb:Scan" in _listed(s["Action"]):
                # Only the monitor's registry sync, and only the sparse Dataflows index (what a Query
                # of the index returns, read in parallel segments): the table is never scanned.
                assert name == "MonitorRegistryFunction", name
                assert [json.dumps(r) for r in _listed(s["Resource"])] == [
                    json.dumps({"Fn::Sub": "${DataflowsTable.Arn}/index/Dataflows"})], s
            if TABLE_WRITES & set(_listed(s["Action"])):
                assert leading_key_patterns(s), (name, s)  # never a write to any item
    execution_item = keys.execution_pk("arn:aws:states:us-east-1:1:execution:m:x")
    record_item = keys.dataflow_pk("orders")
    # Each writer may write the items its code writes (keys built by the code itself)...
    writes = {name: [execution_item] for name in CREATE_STEPS | WARNING_WRITERS | {"RollBackFunction",
                                                                                    "ApplyPlanFunction",
                                                                                    "GrantBucketReadFunction"}}
    flow_item = keys.flow("0b1c")["pk"]  # which dataflow owns a flow
    writes["ApiFunction"] = [record_item, flow_item]  # adopt claims the flow; delete forgets it
    writes["ApplyPlanFunction"] = [execution_item, flow_item]  # a replaced flow's owner is forgotten
    writes["DriftFunction"] = [record_item]
    writes["ReserveNameFunction"] = [record_item]
    writes["RotateCredentialsFunction"] = [record_item]
    writes["SpecIntakeFunction"] = [record_item, keys.origin("s3://bucket/dataflows/a.yaml")["pk"],
                                    "idempotency#aepflow-SpecIntakeFunction-abc"]
    shard_item = monitor_store.shard_key("prod", 64, 7)["pk"]["S"]
    registry_item = monitor_store.REGISTRY_KEY["pk"]["S"]
    writes["MonitorPlanFunction"] = [registry_item, keys.PENDING_PK, keys.alert("ALERT#flow-1#run-1#failed")["pk"]]
    writes["MonitorRegistryFunction"] = [registry_item, shard_item]
    writes["MonitorCheckFunction"] = [shard_item, keys.PENDING_PK, keys.alert("ALERT#flow-1#run-1#failed")["pk"]]
    writes["MonitorFinishFunction"] = [registry_item]
    writes["MonitorEventsFunction"] = [keys.PENDING_PK, keys.alert("ALERT#flow-1#run-1#failed")["pk"]]
    writes["MonitorWebhookFunction"] = writes["MonitorEventsFunction"]
    writes["RetriggerRunFunction"] = [keys.PENDING_PK, keys.alert("ALERT#flow-1#run-1#failed")["pk"],
                                      keys.retry("run-2")["pk"]]
    writes["ProvisionDataflowStateMachine"] = [record_item, flow_item]  # "Claim the flow for the dataflow"
    for name, items in writes.items():
        for key in items:
            assert may_write_key(name, key), (name, key)
    # ...and not the others' items.
    for name in CREATE_STEPS | {"RollBackFunction", "ApplyPlanFunction", "MonitorEventsFunction",
                                "MonitorWebhookFunction", "RetriggerRunFunction"} | MONITOR_STEPS:
        assert not may_write_key(name, record_item), name
    for name in {"ApiFunction", "SpecIntakeFunction", "ProvisionDataflowStateMachine",
                 "DriftFunction", "RotateCredentialsFunction", "ReserveNameFunction", "MonitorEventsFunction",
                 "MonitorWebhookFunction"} \
            | MONITOR_STEPS:
        assert not may_write_key(name, execution_item), name
    for name in FUNCTIONS:
        if name not in ("ApiFunction", "SpecIntakeFunction", "ApplyPlanFunction", "ProvisionDataflowStateMachine"):
            assert not may_write_key(name, flow_item), name
    for name in FUNCTIONS:
        if name not in ALERTERS:
            assert not may_write_key(name, "ALERT#flow-1#run-1#failed"), name
        if name not in MONITOR_STEPS:
            assert not may_write_key(name, shard_item) and not may_write_key(name, registry_item), name


def test_no_function_may_publish_to_the_ops_topic_or_put_metrics_through_the_api():
    # Alarms publish to OpsTopic; EMF metrics are log lines and need no cloudwatch:PutMetricData.
    for name in FUNCTIONS:
        assert not allowed(name, "sns:", "OpsTopic"), name
        assert not allowed(name, "cloudwatch:", ""), name


# --- Logs --------------------------------------------------------------------------------------

def test_every_log_group_keeps_the_retention_parameter_and_everything_logs_to_one():
    groups = cfn.resources_of_type(TEMPLATE, "AWS::Logs::LogGroup")
    assert groups
    for name, group in groups.items():
        assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}, name
    assert TEMPLATE["Globals"]["Function"]["LoggingConfig"]["LogGroup"]["Ref"] in groups
    for name, res in FUNCTIONS.items():
        assert "LoggingConfig" not in res["Properties"], name
    for machine in MACHINES.values():
        logging = machine["Properties"]["Logging"]
        assert logging["Level"] == "ERROR" and logging["IncludeExecutionData"] is False
        (destination,) = logging["Destinations"]
        assert destination["CloudWatchLogsLogGroup"]["LogGroupArn"]["Fn::GetAtt"][0] in groups
    api = TEMPLATE["Resources"]["AepflowApi"]["Properties"]
    assert api["AccessLogSetting"]["DestinationArn"]["Fn::GetAtt"][0] in groups
    assert "$context.requestId" in api["AccessLogSetting"]["Format"]
    throttled = [m for m in api["MethodSettings"] if m["ResourcePath"] == "/*" and m["HttpMethod"] == "*"]
    assert throttled and {"ThrottlingRateLimit", "ThrottlingBurstLimit"} <= set(throttled[0])


# --- The state machine's timeouts ----------------------------------------------------------------

def _all_states(states):
    for name, state in states.items():
        yield name, state
        for branch in state.get("Branches", []):
            yield from _all_states(branch["States"])


def _worst_case_seconds(states, start):
    """The longest a run through `states` from `start` can take: every task at its timeout on
    every attempt, plus the retries' longest waits; a Parallel takes its slowest branch; a Catch
    leads to its handler."""
    def task_cost(state):
        attempts, waits = 1, 0.0
        for retrier in state.get("Retry", []):
            for n in range(retrier.get("MaxAttempts", 3)):
                attempts += 1
                wait = retrier.get("IntervalSeconds", 1) * retrier.get("BackoffRate", 2.0) ** n
                waits += min(wait, retrier.get("MaxDelaySeconds", wait))
        return attempts * state["TimeoutSeconds"] + waits

    def longest(name, seen):
        if name is None or name in seen:
            return 0.0
        state, seen = states[name], seen | {name}
        own = task_cost(state) if state["Type"] == "Task" else 0.0
        if state["Type"] == "Parallel":
            own = max(_worst_case_seconds(b["States"], b["StartAt"]) for b in state["Branches"])
        nexts = [state.get("Next"), state.get("Default")] + [c["Next"] for c in state.get("Choices", [])]
        after = max([longest(n, seen) for n in nexts] + [0.0])
        caught = max([longest(c["Next"], seen) for c in state.get("Catch", [])] + [0.0])
        return max(own + after, own + caught)
    return longest(start, frozenset())


def test_every_task_has_a_timeout_longer_than_its_function_and_timeouts_are_retried():
    definition = json.loads((ROOT / "statemachine" / "provision_dataflow.asl.json").read_text())
    substitutions = MACHINES["ProvisionDataflowStateMachine"]["Properties"]["DefinitionSubstitutions"]
    globals_timeout = TEMPLATE["Globals"]["Function"]["Timeout"]
    lambda_tasks = 0
    for name, state in _all_states(definition["States"]):
        if state["Type"] != "Task":
            continue
        assert isinstance(state.get("TimeoutSeconds"), int), name
        placeholder = re.fullmatch(r"\$\{(\w+)\}", state["Resource"])
        if not placeholder:
            continue
        lambda_tasks += 1
        function = substitutions[placeholder.group(1)]["Fn::GetAtt"][0]
        timeout = FUNCTIONS[function]["Properties"].get("Timeout", globals_timeout)
        # Step Functions gives up only after the function is surely done, so a retry never runs
        # beside the attempt before it.
        assert state["TimeoutSeconds"] > timeout, name
        retried = {e for r in state["Retry"] for e in r["ErrorEquals"]}
        assert {"States.Timeout", "Sandbox.Timedout", "Lambda.ServiceException"} <= retried, name
    # find-existing (the lookup, the named base connection and dataset, the mapping check), explore-source
    # and create-source-connection serve several states
    assert lambda_tasks == 20
    assert definition["TimeoutSeconds"] >= _worst_case_seconds(definition["States"], definition["StartAt"])
    from aepflow.store import claims
    assert claims.EXECUTION_TIMEOUT_SECONDS == definition["TimeoutSeconds"]  # a claim older than it has ended


# --- Alarms --------------------------------------------------------------------------------------

ALARMS = cfn.resources_of_type(TEMPLATE, "AWS::CloudWatch::Alarm")


def _alarm_metrics(alarm):
    props = alarm["Properties"]
    if "MetricName" in props:
        return [(props["Namespace"], props["MetricName"], {d["Name"]: d["Value"] for d in props.get("Dimensions", [])})]
    return [(q["MetricStat"]["Metric"]["Namespace"], q["MetricStat"]["Metric"]["MetricName"],
             {d["Name"]: d["Value"] for d in q["MetricStat"]["Metric"].get("Dimensions", [])})
            for q in props["Metrics"] if "MetricStat" in q]


def _alarms_on(namespace, metric, **dimensions):
    return [name for name, alarm in ALARMS.items()
            if any(ns == namespace and m == metric and all(d.get(k) == v for k, v in dimensions.items())
                   for ns, m, d in _alarm_metrics(alarm))]


def test_alarms_watch_each_dead_letter_queue_failed_provisionings_the_monitor_and_api_5xx():
    for queue in cfn.resources_of_type(TEMPLATE, "AWS::SQS::Queue"):  # every queue is a dead-letter queue
        assert _alarms_on("AWS/SQS", "ApproximateNumberOfMessagesVisible",
                          QueueName={"Fn::GetAtt": [queue, "QueueName"]}), queue
    machine = {"Ref": "ProvisionDataflowStateMachine"}
    failed = _alarms_on("AWS/States", "ExecutionsFailed", StateMachineArn=machine)
    assert failed and failed == _alarms_on("AWS/States", "ExecutionsTimedOut", StateMachineArn=machine)
    poll = {"Ref": "MonitorPollStateMachine"}
    failed_polls = _alarms_on("AWS/States", "ExecutionsFailed", StateMachineArn=poll)
    assert failed_polls and failed_polls == _alarms_on("AWS/States", "ExecutionsTimedOut", StateMachineArn=poll)
    assert _alarms_on("AWS/ApiGateway", "5XXError", ApiName={"Ref": "AWS::StackName"}, Stage="v1")
    assert TEMPLATE["Resources"]["AepflowApi"]["Properties"]["StageName"] == "v1"


def test_an_alarm_fires_when_the_monitor_has_not_completed_a_poll_for_two_intervals():
    env = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    (name,) = _alarms_on(env["POWERTOOLS_METRICS_NAMESPACE"], "PollDuration",
                         service=env["POWERTOOLS_SERVICE_NAME"])
    props = ALARMS[name]["Properties"]
    assert props["Statistic"] == "SampleCount" and props["TreatMissingData"] == "breaching"
    assert props["EvaluationPeriods"] == props["DatapointsToAlarm"] == 2
    assert props["ComparisonOperator"] == "LessThanThreshold" and props["Threshold"] == 1
    # The alarm's period is the schedule's, for every interval the parameter allows.
    assert props["Period"] == {"Fn::FindInMap": ["MonitorInterval", {"Ref": "MonitorIntervalMinutes"}, "Seconds"]}
    poll = MACHINES["MonitorPollStateMachine"]["Properties"]["Events"]["Poll"]["Properties"]
    assert poll["ScheduleExpression"] == {"Fn::FindInMap": ["MonitorInterval", {"Ref": "MonitorIntervalMinutes"},
                                                            "Schedule"]}
    intervals = TEMPLATE["Mappings"]["MonitorInterval"]
    assert set(intervals) == set(TEMPLATE["Parameters"]["MonitorIntervalMinutes"]["AllowedValues"])
    unit_seconds = {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600}
    for minutes, entry in intervals.items():
        count, unit = re.fullmatch(r"rate\((\d+) (minutes?|hours?)\)", entry["Schedule"]).groups()
        assert (unit.endswith("s")) == (int(count) != 1), entry  # rate(1 minute), rate(5 minutes)
        assert int(count) * unit_seconds[unit] == entry["Seconds"] == int(minutes) * 60


def test_every_alarm_notifies_the_ops_topic_which_cloudwatch_may_publish_to():
    assert ALARMS
    for name, alarm in ALARMS.items():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": "OpsTopic"}], name
    key = TEMPLATE["Resources"][TEMPLATE["Resources"]["OpsTopic"]["Properties"]["KmsMasterKeyId"]["Ref"]]
    grants = [s for s in key["Properties"]["KeyPolicy"]["Statement"]
              if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}]
    assert grants and {"kms:Decrypt", "kms:GenerateDataKey*"} <= set(grants[0]["Action"])
    assert key["Properties"]["EnableKeyRotation"] is True


def test_the_monitor_schedule_retries_and_has_a_dead_letter_queue():
    poll = MACHINES["MonitorPollStateMachine"]["Properties"]["Events"]["Poll"]
    assert poll["Type"] == "ScheduleV2" and poll["Properties"]["OmitName"] is True
    assert poll["Properties"]["RetryPolicy"]["MaximumRetryAttempts"] >= 1
    queue = poll["Properties"]["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]
    assert TEMPLATE["Resources"][queue]["Type"] == "AWS::SQS::Queue"
    # A poll's Lambda tasks retry Lambda's own failures; a unit that fails is reported (the next
    # poll looks again). The registry's announcements: retried by Lambda, then the same queue.
    definition = json.loads((ROOT / MACHINES["MonitorPollStateMachine"]["Properties"]["DefinitionUri"]).read_text())
    tasks = [s for _, s in _all_states(definition["States"]) if s["Type"] == "Task"]
    tasks += [s for m in definition["States"].values() if m["Type"] == "Map"
              for s in m["ItemProcessor"]["States"].values() if s["Type"] == "Task"]
    assert len(tasks) == 4
    for task in tasks:
        assert "Lambda.ServiceException" in {e for r in task["Retry"] for e in r["ErrorEquals"]}, task
    registry = FUNCTIONS["MonitorRegistryFunction"]["Properties"]
    assert registry["EventInvokeConfig"]["MaximumRetryAttempts"] >= 1
    assert registry["DeadLetterQueue"]["TargetArn"] == {"Fn::GetAtt": [queue, "Arn"]}


def test_every_asynchronously_invoked_function_has_a_dead_letter_queue():
    # checkov's CKV_AWS_116 for the functions it applies to (.checkov.yaml skips it for the rest,
    # which Step Functions and API Gateway invoke synchronously).
    asynchronous = {"EventBridgeRule", "CloudWatchEvent", "Schedule", "ScheduleV2", "S3", "SNS", "SQS"}
    invoked_async = [name for name, res in FUNCTIONS.items()
                     if any(e["Type"] in asynchronous for e in res["Properties"].get("Events", {}).values())]
    # The drift check's schedule is an AWS::Scheduler::Schedule of its own (the local stack runs the
    # drift check as a function with a schedule of its own).
    scheduled = [t["Properties"]["Target"]["Arn"]["Fn::GetAtt"][0]
                 for t in cfn.resources_of_type(TEMPLATE, "AWS::Scheduler::Schedule").values()]
    assert set(invoked_async) == {"SpecIntakeFunction", "MonitorRegistryFunction", "RotateCredentialsFunction",
                                  "MonitorEventsFunction"}
    assert scheduled == ["DriftFunction"]
    for name in invoked_async + scheduled:
        queue = FUNCTIONS[name]["Properties"]["DeadLetterQueue"]
        assert queue["Type"] == "SQS" and TEMPLATE["Resources"][queue["TargetArn"]["Fn::GetAtt"][0]], name
        assert FUNCTIONS[name]["Properties"]["EventInvokeConfig"]["MaximumRetryAttempts"] >= 1, name
        assert _alarms_on("AWS/SQS", "ApproximateNumberOfMessagesVisible",
                          QueueName={"Fn::GetAtt": [queue["TargetArn"]["Fn::GetAtt"][0], "QueueName"]}), name
    for name in ("DriftFunction", "RotateCredentialsFunction"):
        assert _alarms_on("AWS/Lambda", "Errors", FunctionName={"Ref": name}), name


def test_the_drift_check_runs_on_its_own_schedule_a_stack_parameter_hourly_by_default():
    (schedule,) = cfn.resources_of_type(TEMPLATE, "AWS::Scheduler::Schedule").values()
    props = schedule["Properties"]
    assert props["ScheduleExpression"] == {"Ref": "DriftCheckSchedule"}
    assert TEMPLATE["Parameters"]["DriftCheckSchedule"]["Default"] == "rate(1 hour)"
    pattern = TEMPLATE["Parameters"]["DriftCheckSchedule"]["AllowedPattern"]
    for good in ("rate(1 hour)", "rate(30 minutes)", "cron(0 * * * ? *)"):
        assert re.fullmatch(pattern, good), good
    for bad in ("hourly", "rate(0 hours)", "rate(1 fortnight)"):
        assert not re.fullmatch(pattern, bad), bad
    target = props["Target"]
    assert target["RetryPolicy"]["MaximumRetryAttempts"] >= 1 and "DeadLetterConfig" in target
    role = TEMPLATE["Resources"][target["RoleArn"]["Fn::GetAtt"][0]]
    statements = role["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    assert {"Effect": "Allow", "Action": "lambda:InvokeFunction",
            "Resource": {"Fn::GetAtt": ["DriftFunction", "Arn"]}} in statements


def test_secrets_manager_value_changes_reach_the_rotation_function():
    event = FUNCTIONS["RotateCredentialsFunction"]["Properties"]["Events"]["SecretValueChanged"]
    pattern = event["Properties"]["Pattern"]
    from aepflow.ops import rotation
    assert pattern["source"] == ["aws.secretsmanager"]
    assert set(pattern["detail"]["eventName"]) == set(rotation.EVENT_NAMES)


# --- The dashboard and the metrics the functions emit ---------------------------------------------

def _dashboard():
    (dashboard,) = cfn.resources_of_type(TEMPLATE, "AWS::CloudWatch::Dashboard").values()
    body = dashboard["Properties"]["DashboardBody"]["Fn::Sub"]
    refs = {name: f"<{name}>" for name in re.findall(r"\$\{([^}!]+)\}", body)}
    return json.loads(cfn.resolve({"Fn::Sub": body}, refs))


def _dashboard_metrics():
    found = {}
    for widget in _dashboard()["widgets"]:
        for metric in widget["properties"].get("metrics", []):
            names = [part for part in metric if isinstance(part, str)]
            found.setdefault((names[0], names[1]), []).append(widget["properties"]["title"])
    return found


def _emf_names():
    env = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    return cfn.resolve(env["POWERTOOLS_METRICS_NAMESPACE"], {"AWS::StackName": "<AWS::StackName>"})


def test_the_dashboard_shows_provisionings_alerts_aep_calls_and_the_dead_letter_queues():
    from aepflow.aep.client import SERVICE_METRIC_NAMES, SERVICES
    from aepflow.monitor.alerts import SEVERITY
    shown = _dashboard_metrics()
    namespace = _emf_names()
    for metric in ("ExecutionsStarted", "ExecutionsSucceeded", "ExecutionsFailed", "ExecutionsTimedOut"):
        assert ("AWS/States", metric) in shown
    assert (namespace, "ProvisioningsRolledBack") in shown
    for problem in SEVERITY:  # every problem the monitor can alert on
        assert (namespace, f"Alerts{problem[:1].upper()}{problem[1:]}") in shown, problem
    assert set(SERVICE_METRIC_NAMES) == set(SERVICES)
    for service in SERVICE_METRIC_NAMES.values():
        for what in ("Calls", "Errors", "Throttled", "Latency"):
            assert (namespace, f"Aep{service}{what}") in shown, (service, what)
    queues = cfn.resources_of_type(TEMPLATE, "AWS::SQS::Queue")
    depth = [w for w in _dashboard()["widgets"] for m in w["properties"].get("metrics", [])
             if m[1] == "ApproximateNumberOfMessagesVisible"]
    assert len(depth) == len(queues)
    (alarm_widget,) = [w for w in _dashboard()["widgets"] if w["type"] == "alarm"]
    assert len(alarm_widget["properties"]["alarms"]) == len(ALARMS)


@pytest.fixture()
def emitted(monkeypatch):
    """The EMF the process would print at the end of an invocation, with metrics on."""
    from aepflow.aep.client import metrics
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    env = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    # What Lambda's environment gives the Metrics object when it is built at import.
    monkeypatch.setattr(metrics, "namespace", _emf_names())
    monkeypatch.setattr(metrics, "service", env["POWERTOOLS_SERVICE_NAME"])
    metrics.clear_metrics()

    def flush():
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            metrics.flush_metrics()
        blobs = [json.loads(line) for line in out.getvalue().splitlines() if line.strip()]
        return {m["Name"]: blob for blob in blobs for d in blob["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]}
    yield flush
    metrics.clear_metrics()


def test_the_aep_client_emits_the_dashboard_metrics_per_service(emitted):
    from aepflow.aep.client import SERVICE_METRIC_NAMES, AepClient
    from aepflow.aep.ims import AepCredentials
    from aepflow.core import settings
    from aepflow.core.settings import Settings

    class Answer:
        def __init__(self, status):
            self.status_code, self.headers, self.content = status, {}, b"{}"

        def json(self):
            return {}

    statuses = iter([503, 429, 200] * len(SERVICE_METRIC_NAMES))  # a GET is retried past both

    class Session:
        def request(self, *args, **kwargs):
            return Answer(next(statuses))

    class Tokens:
        def token(self):
            return "token"

    client = AepClient(settings.load(Settings), AepCredentials("id", "secret", "org", "scopes", "prod"), Tokens(),
                       session=Session(), sleep=lambda seconds: None)
    for service in SERVICE_METRIC_NAMES:
        client.get(service, "/anything")
    blobs = emitted()
    env = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    shown = {metric for namespace, metric in _dashboard_metrics() if metric.startswith("Aep")}
    assert shown <= set(blobs)
    blob = blobs["AepFlowServiceCalls"]
    assert blob["AepFlowServiceCalls"] == [1.0, 1.0, 1.0] and blob["AepFlowServiceErrors"] == [1.0]
    assert blob["AepFlowServiceThrottled"] == [1.0] and len(blob["AepFlowServiceLatency"]) == 3
    assert blob["_aws"]["CloudWatchMetrics"][0]["Namespace"] == _emf_names()
    assert blob["service"] == env["POWERTOOLS_SERVICE_NAME"]


def test_the_roll_back_emits_rolled_back_apart_from_invalid(emitted):
    from aepflow.steps.handler import count_roll_back
    from aepflow.steps.rollback import RollBackResult
    count_roll_back(RollBackResult(status="FAILED", rolledBack=[{"kind": "flow", "id": "f"}]))
    count_roll_back(RollBackResult(status="INVALID"))
    blobs = emitted()
    assert blobs["ProvisioningsRolledBack"]["ProvisioningsRolledBack"] == [1.0]
    assert blobs["ResourcesRolledBack"]["ResourcesRolledBack"] == [1.0]
    assert blobs["ProvisioningsInvalid"]["ProvisioningsInvalid"] == [1.0]


def test_metrics_are_not_kept_while_they_are_off(monkeypatch):
    # Powertools keeps values while metrics are disabled and prints them all once 100 pile up;
    # the local stack runs with metrics off for hours.
    from aepflow.aep.client import metrics
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    monkeypatch.setattr(metrics, "namespace", "aepflow/test")
    metrics.clear_metrics()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        for _ in range(150):
            metrics.add_metric(name="AepFlowServiceCalls", unit="Count", value=1)
    assert metrics.metric_set == {} and out.getvalue() == ""


# --- checkov's skip list ---------------------------------------------------------------------------

def test_every_checkov_skip_gives_its_reason():
    lines = (ROOT / ".checkov.yaml").read_text().splitlines()
    config = yaml.safe_load("\n".join(lines))
    skipped = config["skip-check"]
    assert skipped
    for check in skipped:
        (index,) = [i for i, line in enumerate(lines) if re.match(rf"\s*-\s*{re.escape(check)}\b", line)]
        reason = []
        for line in reversed(lines[:index]):
            if not line.strip().startswith("#"):
                break
            reason.append(line.strip("# "))
        assert len(" ".join(reason)) > 40, check  # a sentence, not a label


def test_the_drift_check_reads_and_updates_records_and_writes_nothing_else():
    # It stores the drift it saw on the record, re-applies a spec in place, and claims the name of a
    # re-provisioning: UpdateItem only (no PutItem or DeleteItem, which it never calls).
    actions = {a for s in allowed("DriftFunction", "dynamodb:", "DataflowsTable") for a in _listed(s["Action"])}
    assert actions == {"dynamodb:GetItem", "dynamodb:Query", "dynamodb:UpdateItem"}


def test_the_ops_topics_key_lets_cloudwatch_use_it_only_for_this_accounts_alarms():
    statements = TEMPLATE["Resources"]["OpsTopicKey"]["Properties"]["KeyPolicy"]["Statement"]
    [service] = [s for s in statements if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}]
    assert service["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert ":alarm:" in service["Condition"]["ArnLike"]["aws:SourceArn"]["Fn::Sub"]
