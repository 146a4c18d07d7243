"""Every AWS call each function makes on the local stack is one its role in template.yaml
allows. moto enforces no IAM, so this is what keeps least privilege from breaking a deployed
stack: every door (API, bucket, custom event), a provisioning, a roll-back and a monitor poll
run while each call is recorded with the function that made it, and a small IAM evaluator
(actions, resource ARNs with * and ?, explicit Deny, dynamodb:LeadingKeys) judges it."""

import contextvars
import fnmatch
import json
import os
from concurrent.futures import ThreadPoolExecutor

import boto3
import botocore.client
import pytest
import yaml
from boto3.dynamodb.conditions import ConditionBase, ConditionExpressionBuilder

from aepflow.core import aws, settings
from bench.events import BUS as EVENTS_BUS
from local import sigv4
from local import template as cfn
from local.emulator.run_events import notification
from local.examples import example
from local.serve import dispatch
from local.stack import ACCOUNT, REGION, LocalStack
from tests.adobe_io_webhook import deliver, key_server

_caller = contextvars.ContextVar("aepflow_function", default=None)


def _plain(value):
    """A DynamoDB key value, whether the call came through a Table (plain) or a client ({"S": x})."""
    return next(iter(value.values())) if isinstance(value, dict) else value


def _query_partition_key(params):
    condition = params.get("KeyConditionExpression")
    values = params.get("ExpressionAttributeValues") or {}
    names = params.get("ExpressionAttributeNames") or {}
    if isinstance(condition, ConditionBase):
        built = ConditionExpressionBuilder().build_expression(condition, is_key_condition=True)
        condition, names = built.condition_expression, built.attribute_name_placeholders
        values = built.attribute_value_placeholders
    for name_token, value_token in ((a, b) for a, b in (part.split("=", 1) for part in condition.split(" AND ")
                                                        if "=" in part and "<" not in part and ">" not in part)):
        name_token, value_token = name_token.strip().strip("()"), value_token.strip().strip("()")
        if names.get(name_token, name_token) == "pk":
            return _plain(values[value_token])
    return None


class Recorder:
    def __init__(self, stack):
        self.stack, self.calls = stack, []
        self._secret_arns = {}

    def record(self, client, operation, params):
        function = _caller.get()
        if function is not None:
            self.calls.append((function, client.meta.service_model.service_name, operation, dict(params)))

    def secret_arn(self, secret_id):
        if secret_id.startswith("arn:"):
            return secret_id
        if secret_id not in self._secret_arns:
            self._secret_arns[secret_id] = boto3.client("secretsmanager").describe_secret(SecretId=secret_id)["ARN"]
        return self._secret_arns[secret_id]

    def requests(self):
        """(function, IAM action, resource ARN, partition key or None) of every recorded call."""
        table_arn = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/"
        for function, service, operation, params in self.calls:
            if service == "dynamodb" and operation == "BatchGetItem":  # one request per key, as IAM judges it
                for table, request in params["RequestItems"].items():
                    for key in request["Keys"]:
                        yield function, "dynamodb:BatchGetItem", table_arn + table, _plain(key["pk"])
            elif service == "dynamodb":
                resource = table_arn + params["TableName"]
                if params.get("IndexName"):
                    resource += f"/index/{params['IndexName']}"
                key = (params.get("Key") or params.get("Item") or {}).get("pk")
                key = _plain(key) if key is not None else _query_partition_key(params) if operation == "Query" else None
                yield function, f"dynamodb:{operation}", resource, key
            elif service == "secretsmanager":
                yield function, f"secretsmanager:{operation}", self.secret_arn(params["SecretId"]), None
            elif service == "s3" and "Key" not in params:  # a bucket's own (its policy)
                yield function, f"s3:{operation}", f"arn:aws:s3:::{params['Bucket']}", None
            elif service == "s3":
                action = "GetObjectVersion" if operation == "GetObject" and params.get("VersionId") else operation
                yield function, f"s3:{action}", f"arn:aws:s3:::{params['Bucket']}/{params['Key']}", None
            elif service == "sns":
                yield function, "sns:Publish", params["TopicArn"], None
            elif service == "stepfunctions":
                arn = params.get("stateMachineArn") or params.get("executionArn")
                yield function, f"states:{operation}", arn, None
            else:
                raise AssertionError(f"{function} called {service}:{operation}, which this test cannot judge yet")


def _statement_applies(statement, action, resource, key):
    actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
    resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
    if not any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in actions):
        return False
    if not any(fnmatch.fnmatchcase(resource, r) for r in resources):
        return False
    for operator, conditions in (statement.get("Condition") or {}).items():
        for condition_key, patterns in conditions.items():
            if (operator, condition_key) != ("ForAllValues:StringLike", "dynamodb:LeadingKeys"):
                raise AssertionError(f"this test cannot evaluate the condition {operator} {condition_key}")
            if key is not None and not any(fnmatch.fnmatchcase(key, p) for p in patterns):
                return False
    return True


def _role_allows(statements, action, resource, key):
    if any(s["Effect"] == "Deny" and _statement_applies(s, action, resource, key) for s in statements):
        return False
    return any(s["Effect"] == "Allow" and _statement_applies(s, action, resource, key) for s in statements)


@pytest.fixture(scope="module")
def recorded():
    # With the push path (AepEventsBusName): AEP's flow-run events reach functions/monitor_events;
    # and its webhook (AepEventsWebhook), functions/monitor_webhook.
    with LocalStack(parameters={"AepEventsBusName": EVENTS_BUS, "AepEventsWebhook": "true"}) as stack, \
            pytest.MonkeyPatch.context() as monkeypatch:
        recorder = Recorder(stack)
        invoke = stack._invoke

        def invoke_as(function_name, body, response_headers):
            name = function_name.rsplit(":", 1)[-1]
            token = _caller.set(stack.functions[name]["logical"])
            # A cold container each time: the local stack's functions share one process and its
            # caches, which would hide the secrets a function reads when another read them first.
            aws.forget_secrets()
            try:
                return invoke(function_name, body, response_headers)
            finally:
                _caller.reset(token)

        make_api_call = botocore.client.BaseClient._make_api_call
        submit = ThreadPoolExecutor.submit

        def recording_call(client, operation, params):
            recorder.record(client, operation, params)
            return make_api_call(client, operation, params)

        monkeypatch.setattr(stack, "_invoke", invoke_as)
        monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", recording_call)
        # find-existing's lookups run in threads: they act for the function that started them.
        monkeypatch.setattr(ThreadPoolExecutor, "submit",
                            lambda pool, fn, *a, **kw: submit(pool, contextvars.copy_context().run, fn, *a, **kw))
        monkeypatch.setenv("TEARDOWN_ON_SPEC_DELETE", "true")
        settings.forget()  # read at a cold start: a new value is a new container
        _exercise_every_door(stack)
        yield stack, recorder


def _api(stack, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    headers = sigv4.sign(method, f"http://127.0.0.1{path}", data, {"Content-Type": "application/json"},
                         access_key=sigv4.LOCAL_ACCESS_KEY, secret_key=sigv4.LOCAL_SECRET_KEY, region="us-east-1")
    status, _, raw = dispatch(stack, method, path, headers, data)
    assert status < 500, (method, path, status, raw)
    return status, json.loads(raw or b"null")


def _exercise_every_door(stack):
    sfn = boto3.client("stepfunctions")
    machine = stack.state_machines["ProvisionDataflowStateMachine"]

    def settle():
        for execution in sfn.list_executions(stateMachineArn=machine)["executions"]:
            stack.wait(execution["executionArn"])

    # The API: POST, GET, list, runs, PATCH, DELETE.
    spec = example("000")
    status, posted = _api(stack, "POST", "/dataflows", spec)
    assert status == 202
    settle()
    name = posted["name"]
    assert _api(stack, "GET", f"/dataflows/{name}")[1]["status"] == "ACTIVE"
    _api(stack, "GET", "/dataflows")
    _api(stack, "PATCH", f"/dataflows/{name}", {"description": "changed by the least-privilege test"})
    # A new spec under the name: provisioned, and its plan applied in place by the state machine.
    assert _api(stack, "POST", "/dataflows", dict(spec, description="a new spec, applied in place"))[0] == 202
    settle()
    # A failed run of that flow, for the monitor to alert on.
    flow_id = _api(stack, "GET", f"/dataflows/{name}")[1]["ids"]["flowId"]
    stack.emulator.set_run_outcomes(flow_id, ["failed", "failed"])
    stack.emulator.run_events.drop(1.0)  # its flow-run event is lost: the poll alerts it
    stack.emulator.advance(minutes=40)
    _api(stack, "GET", f"/dataflows/{name}/runs")
    report = stack.run_monitor()
    assert report["alerts_sent"], report
    # The retry state machine's task (functions/retrigger_run): a re-trigger AEP refuses (no such run),
    # whose held-back failure is then alerted.
    retry = boto3.client("stepfunctions").start_execution(
        stateMachineArn=stack.state_machines["RetryFailedRunStateMachine"], name="retry-no-such-run",
        input=json.dumps({"runId": "no-such-run", "flowId": flow_id, "dataflow": name, "sandbox": "prod",
                          "origin": "no-such-run", "attempt": 1, "chain": ["no-such-run"], "waitSeconds": 300}))
    assert stack.wait(retry["executionArn"])["error"] == "RetriggerFailed"
    # The next failed run's event reaches the push path (functions/monitor_events), which alerts it.
    stack.emulator.run_events.drop(0.0)
    heard = stack.emulator.run_events.announced
    stack.emulator.advance(hours=25)
    assert stack.emulator.run_events.announced > heard
    # A failed run's notification delivered to the webhook, signed as Adobe I/O Events signs it.
    [failed] = [r for r in stack.emulator.dump_state()["runs"] if r["flowId"] == flow_id][-1:]
    with key_server() as (key, url):
        os.environ["AEP_EVENTS_PUBLIC_KEYS_URL"] = url
        settings.forget()
        body = json.dumps({**notification(failed, stack.emulator.org_id, stack.emulator.now_ms),
                           "recipient_client_id": stack.emulator.client_id}).encode()
        assert deliver(stack, key, body)["statusCode"] == 200

    # The bucket: a spec, an invalid one (its errors.json), and deleting the spec (teardown on).
    bucket = stack.buckets["SpecsBucket"]
    s3 = boto3.client("s3")
    s3.put_object(Bucket=bucket, Key="dataflows/zendesk.yaml", Body=yaml.safe_dump(example("002")).encode())
    bad = dict(example("004"), schedule={"frequency": "minute", "interval": 5, "startTime": 1590523836})
    s3.put_object(Bucket=bucket, Key="dataflows/bad.yaml", Body=yaml.safe_dump(bad).encode())
    settle()
    s3.delete_object(Bucket=bucket, Key="dataflows/zendesk.yaml")

    # A custom event.
    boto3.client("events").put_events(Entries=[{"Source": "aepflow.requests", "DetailType": "aepflow.DataflowRequested",
                                                "EventBusName": stack.refs["DataflowRequestsBus"],
                                                "Detail": json.dumps({"spec": example("001")})}])
    settle()

    # The declarative doors: a plan (API and bucket), a run on demand, adopt, a rotation, drift.
    assert _api(stack, "POST", "/dataflows?dryRun=true", dict(spec, description="planned"))[0] == 200
    s3.put_object(Bucket=bucket, Key="plans/zendesk.yaml", Body=yaml.safe_dump(example("002")).encode())
    once = dict(example("001"), name="acme-once", schedule={"frequency": "once", "startTime": 1567411548})
    assert stack.provision([once])[0]["status"] == "ACTIVE"
    assert _api(stack, "POST", "/dataflows/acme-once/runs", {})[0] == 202
    from local import handmade
    made = handmade.make_flow()
    assert _api(stack, "POST", "/dataflows:adopt", {"flowId": made["flowId"]})[0] == 201
    secret = once["source"]["credentialsSecret"]
    arn = boto3.client("secretsmanager").put_secret_value(SecretId=secret, SecretString=json.dumps(
        {"username": "acme", "password": "rotated", "securityToken": "t0ken-rotated"}))["ARN"]
    boto3.client("events").put_events(Entries=[{"Source": "aws.secretsmanager",
                                                "DetailType": "AWS API Call via CloudTrail",
                                                "Detail": json.dumps({"eventSource": "secretsmanager.amazonaws.com",
                                                                      "eventName": "PutSecretValue",
                                                                      "requestParameters": {"secretId": secret},
                                                                      "responseElements": {"arn": arn}})}])
    stack.emulator.ui_action(made["flowId"], "DISABLE")
    _api(stack, "PATCH", "/dataflows/salesforce-contacts-made-in-the-ui", {"onDrift": "revert"})
    stack.emulator.ui_action(made["flowId"], "DISABLE")
    report, failed = stack.invoke("aepflow-local-DriftFunction", {})
    assert not failed and report["reverted"] == 1, report

    # Warnings journalled by the steps that find them: a mapped attribute a REST preview does not show
    # (explore-source), a mapped column the spec's own columns lack (resolve-flow-spec, below).
    noted = example("003")
    noted["name"] = "acme-mixpanel-noted"
    noted["mapping"][-1] = {**noted["mapping"][-1], "source": "properties.not_in_the_preview"}
    [result] = stack.provision([noted])
    assert result["status"] == "ACTIVE" and [w["path"] for w in result["warnings"]] == [
        f"mapping[{len(noted['mapping']) - 1}].source"], result

    # A provisioning that fails after it created things: the roll-back deletes them.
    failing = example("004")
    failing["name"] = "acme-wrong-flow-spec"
    failing["source"] = {"connector": "s3", "flowSpec": "CRMToAEP", "bucket": "acme-orders-exports", "path": "orders/",
                         "format": {"type": "delimited"}, "baseConnectionId": "6990abad-977d-41b9-a85d-17ea8cf1c0e4"}
    failing.pop("deltaColumn")  # CloudStorageToAEP has no Copy: an S3 source takes none
    [result] = stack.provision([failing])
    assert result["status"] == "FAILED"
    _api(stack, "DELETE", f"/dataflows/{name}")

    # An S3 source read by Adobe's IAM role: its statements added to the bucket's policy, removed by the
    # roll-back of one whose mapping the file cannot fill, and by the API's delete of the other.
    s3_source = example("005")
    granted = dict(s3_source, name="acme-s3-not-a-column", mapping=[
        *s3_source["mapping"][:-1], {"source": "not_a_column", "destination": "_id"}])
    assert [r["status"] for r in stack.provision([s3_source, granted])] == ["ACTIVE", "FAILED"]
    policy = json.loads(s3.get_bucket_policy(Bucket=s3_source["source"]["bucket"])["Policy"])
    assert len(policy["Statement"]) == 2, policy  # the failed one's pair is gone
    assert _api(stack, "DELETE", f"/dataflows/{s3_source['name']}")[1]["deleted"][-1]["kind"] == "bucketGrant"


def _roles(stack):
    """Each function's statements with the local stack's names and ARNs in place of the intrinsics."""
    refs = dict(stack.refs)
    machine = stack.state_machines["ProvisionDataflowStateMachine"]
    refs.update({"DataflowsTable.Arn": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{refs['DataflowsTable']}",
                 "ProvisionDataflowStateMachine.Name": machine.rsplit(":", 1)[-1],
                 "AWS::StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/aepflow-local/1"})
    roles = {name: cfn.resolve(cfn.role_statements(stack.template, name), refs)
             for name in cfn.resources_of_type(stack.template, "AWS::Serverless::Function")}
    # Managed policies attached from their side (Roles: SAM's <function>Role), when their Condition holds:
    # the source buckets' policies (S3SourceBuckets).
    for policy in cfn.resources_of_type(stack.template, "AWS::IAM::ManagedPolicy").values():
        attached = [role["Ref"].removesuffix("Role") for role in policy["Properties"].get("Roles", [])]
        if attached and _holds(stack, policy.get("Condition")):
            for name in attached:
                roles[name] += _resolve(policy["Properties"]["PolicyDocument"]["Statement"], refs)
    return refs, roles


def _holds(stack, condition):
    """The source buckets' Condition: S3SourceBuckets lists buckets (the local stack lists examples/files')."""
    assert condition in (None, "ChangeSourceBucketPolicies"), condition
    return condition is None or stack.refs["S3SourceBuckets"] != ""


def _resolve(value, refs):
    """cfn.resolve, and the Fn::Split and Fn::Join that build the source buckets' ARNs."""
    if isinstance(value, list):
        return [_resolve(v, refs) for v in value]
    if isinstance(value, dict) and set(value) == {"Fn::Split"}:
        delimiter, text = value["Fn::Split"]
        return str(_resolve(text, refs)).split(delimiter)
    if isinstance(value, dict) and set(value) == {"Fn::Join"}:
        delimiter, items = value["Fn::Join"]
        return delimiter.join(_resolve(items, refs))
    if isinstance(value, dict) and set(value) == {"Fn::Sub"} and isinstance(value["Fn::Sub"], list):
        text, extra = value["Fn::Sub"]
        return cfn.resolve({"Fn::Sub": [text, {k: _resolve(v, refs) for k, v in extra.items()}]}, refs)
    if isinstance(value, dict) and not {"Ref", "Fn::GetAtt", "Fn::Sub"} & set(value):
        return {k: _resolve(v, refs) for k, v in value.items()}
    return cfn.resolve(value, refs)


def test_every_call_each_function_makes_is_allowed_by_its_role(recorded):
    stack, recorder = recorded
    _, roles = _roles(stack)
    denied, seen = [], set()
    for function, action, resource, key in recorder.requests():
        seen.add(function)
        if not _role_allows(roles[function], action, resource, key):
            denied.append((function, action, resource, key))
    assert not denied, "\n".join(map(str, sorted(set(denied))))
    # The scenario reached every function (the failing provisioning creates its target schema while
    # the base connection it names is checked).
    assert seen == set(roles), set(roles) - seen


def test_the_evaluator_refuses_what_a_role_does_not_grant(recorded):
    # The same judge, on calls the roles must refuse: not a judge that says yes to everything.
    stack, recorder = recorded
    refs, roles = _roles(stack)
    table = refs["DataflowsTable.Arn"]
    credentials = recorder.secret_arn(refs["AepCredentialsSecretName"])
    assert _role_allows(roles["FindExistingFunction"], "secretsmanager:GetSecretValue", credentials, None)
    assert not _role_allows(roles["ValidateSpecFunction"], "secretsmanager:GetSecretValue", credentials, None)
    assert not _role_allows(roles["FindExistingFunction"], "dynamodb:PutItem", table, "EXECUTION#x")
    assert _role_allows(roles["CreateDatasetFunction"], "dynamodb:PutItem", table, "EXECUTION#x")
    assert not _role_allows(roles["CreateDatasetFunction"], "dynamodb:PutItem", table, "DATAFLOW#x")
    spec_file = f"arn:aws:s3:::{refs['SpecsBucket']}/dataflows/a.yaml"
    assert _role_allows(roles["SpecIntakeFunction"], "s3:GetObject", spec_file, None)
    assert not _role_allows(roles["ApiFunction"], "s3:GetObject", spec_file, None)
    kept = f"arn:aws:s3:::{refs['FailedRecordsBucket']}/dataflows/crm/runs/r1/summary.json"
    assert _role_allows(roles["MonitorCheckFunction"], "s3:PutObject", kept, None)  # the monitor alone writes:
    assert _role_allows(roles["MonitorEventsFunction"], "s3:PutObject", kept, None)  # the check, or the event
    assert not _role_allows(roles["MonitorCheckFunction"], "s3:PutObject", spec_file, None)
    assert not _role_allows(roles["SpecIntakeFunction"], "s3:PutObject", kept, None)
    assert _role_allows(roles["ApiFunction"], "s3:GetObject", kept, None)  # GET .../runs/{runId}/errors reads
    assert not _role_allows(roles["ApiFunction"], "s3:PutObject", kept, None)
    source_bucket = f"arn:aws:s3:::{refs['S3SourceBuckets'].split(',')[0]}"
    assert _role_allows(roles["GrantBucketReadFunction"], "s3:PutBucketPolicy", source_bucket, None)
    assert not _role_allows(roles["GrantBucketReadFunction"], "s3:DeleteBucketPolicy", source_bucket, None)
    assert _role_allows(roles["ApiFunction"], "s3:DeleteBucketPolicy", source_bucket, None)
    assert not _role_allows(roles["ApiFunction"], "s3:PutBucketPolicy", f"arn:aws:s3:::{refs['SpecsBucket']}", None)
    assert not _role_allows(roles["CreateSourceConnectionFunction"], "s3:GetBucketPolicy", source_bucket, None)
    elsewhere = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:elsewhere/db-AbCdEf"
    assert not _role_allows(roles["CreateBaseConnectionFunction"], "secretsmanager:GetSecretValue", elsewhere, None)
