"""Bring the whole local stack up in one process: the AEP emulator, moto for AWS, and the
state machine of template.yaml on moto's Step Functions interpreter, whose Lambda tasks
are dispatched in-process to the handlers template.yaml names."""

from __future__ import annotations

import copy
import importlib.util
import io
import json
import os
import sys
import threading
import time
import traceback
import uuid
import zipfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from unittest import mock

import boto3

from . import template as cfn
from .moto_patches import (atomic_dynamodb_writes, one_client_per_service_for_step_functions, parse_each_json_path_once,
                           parse_each_state_machine_once)

ROOT = cfn.ROOT
LAYER = ROOT / "layers" / "aepflow"
FIXTURE_SECRETS = Path(__file__).resolve().parent / "fixtures" / "secrets.json"
REGION = "us-east-1"
ACCOUNT = "123456789012"
# A bound on how long one provisioning may take locally, so a hung execution fails loudly.
EXECUTION_TIMEOUT_SECONDS = 600


def _clone_state_machine(self, memo):
    """moto deep-copies the state machine on every StartExecution, finished executions
    (and their locks) included, which fails from the second execution on. A clone
    needs the definition, not the history."""
    clone = self.__class__.__new__(self.__class__)
    memo[id(self)] = clone
    for key, value in self.__dict__.items():
        setattr(clone, key, [] if key == "executions" else copy.deepcopy(value, memo))
    return clone


_rule_lock = threading.Lock()


def _deliver_rules_to_lambda(stack: "LocalStack"):
    """moto's EventBridge rules deliver to SQS, logs and buses but not to Lambda; here a
    Lambda target is invoked in-process, asynchronously in spirit (retries, then the DLQ)."""
    from moto.events.models import Rule

    original = Rule.send_to_targets

    def send_to_targets(rule, event, transform_input=True):
        if not rule.event_pattern.matches_event(event):
            return None
        lambdas = [t for t in rule.targets if ":lambda:" in t.get("Arn", "")]
        others = [t for t in rule.targets if t not in lambdas]
        if others:
            with _rule_lock:
                saved, rule.targets = rule.targets, others
                try:
                    original(rule, event, transform_input)
                finally:
                    rule.targets = saved
        for target in lambdas:
            stack.deliver_async(target["Arn"], copy.deepcopy(event))
        return None

    return mock.patch.object(Rule, "send_to_targets", send_to_targets)


class FakeLambdaContext:
    """The attributes Powertools reads from a real LambdaContext."""

    def __init__(self, function_name: str, memory_mb: int, timeout_s: int):
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = memory_mb
        self.invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function_name}"
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


_load_lock = threading.Lock()


def load_handler(code_uri: str, handler: str):
    """The handler function template.yaml names (CodeUri + Handler), imported once."""
    with _load_lock:  # parallel branches must not see a half-imported module
        return _load_handler_unlocked(code_uri, handler)


def _load_handler_unlocked(code_uri: str, handler: str):
    module_name, func_name = handler.rsplit(".", 1)
    path = ROOT / code_uri / f"{module_name.replace('.', '/')}.py"
    unique = "aepflow_fn_" + code_uri.strip("/").replace("/", "_")
    if unique in sys.modules:
        return getattr(sys.modules[unique], func_name)
    spec = importlib.util.spec_from_file_location(unique, path)
    assert spec and spec.loader, path
    module = importlib.util.module_from_spec(spec)
    sys.modules[unique] = module
    spec.loader.exec_module(module)
    return getattr(module, func_name)


class LocalStack:
    """Use as a context manager; everything it starts stops on exit."""

    def __init__(self, *, latency_ms: int = 0, fault_rate: float = 0.0, seed: int = 0,
                 secrets: dict[str, Any] | None = None):
        self.latency_ms, self.fault_rate, self.seed = latency_ms, fault_rate, seed
        self.extra_secrets = secrets or {}
        self.template = cfn.load()
        self._exit = ExitStack()
        self.functions: dict[str, dict[str, Any]] = {}  # function name -> {handler, memory, timeout}
        self.invocations: list[str] = []
        self._invocations_lock = threading.Lock()
        self.refs: dict[str, Any] = {}

    # --- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> "LocalStack":
        try:
            self._start()
        except BaseException:
            self._exit.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self._exit.close()

    def _start(self) -> None:
        from moto import mock_aws
        from moto.awslambda_simple.models import LambdaSimpleBackend
        from moto.stepfunctions.models import StateMachine

        from local.emulator import AepEmulator

        if str(LAYER) not in sys.path:
            sys.path.insert(0, str(LAYER))
        self.emulator = AepEmulator(client_secret="local-emulator-client-secret-" + uuid.uuid4().hex[:12],
                                    latency_ms=self.latency_ms, fault_rate=0.0, seed=self.seed)
        self.aep_url = self.emulator.start()
        self._exit.callback(self.emulator.stop)

        saved_env = dict(os.environ)
        self._exit.callback(lambda: (os.environ.clear(), os.environ.update(saved_env)))
        os.environ.update({
            "AWS_DEFAULT_REGION": REGION, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing", "POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_DEV": "false",
            "POWERTOOLS_METRICS_DISABLED": "true",
        })
        os.environ.pop("AWS_PROFILE", None)
        aws = mock_aws(config={"lambda": {"use_docker": False}, "stepfunctions": {"execute_state_machine": True},
                               "core": {"reset_boto3_session": True}})
        aws.start()
        self._exit.callback(aws.stop)
        stack = self
        self._exit.enter_context(mock.patch.object(
            LambdaSimpleBackend, "invoke",
            lambda backend, function_name, qualifier, body, headers, response_headers:
                stack._invoke(function_name, body, response_headers)))
        self._exit.enter_context(mock.patch.object(StateMachine, "__deepcopy__", _clone_state_machine, create=True))
        self._exit.enter_context(atomic_dynamodb_writes())
        self._exit.enter_context(parse_each_state_machine_once())
        self._exit.enter_context(one_client_per_service_for_step_functions())
        self._exit.enter_context(parse_each_json_path_once())
        self._exit.enter_context(_deliver_rules_to_lambda(stack))
        self._create_aws_resources()
        from aepflow import runtime
        runtime.reset()
        self._exit.callback(runtime.reset)
        # Faults start once the stack is built, so they hit provisioning, not the setup.
        self.emulator.set_faults(latency_ms=self.latency_ms, fault_rate=self.fault_rate)

    # --- AWS resources, read from template.yaml ---------------------------------------------

    def _create_aws_resources(self) -> None:
        t = self.template
        params = cfn.parameter_defaults(t)
        params.update({"AepPlatformUrl": self.aep_url, "AepImsUrl": self.aep_url})
        refs: dict[str, Any] = {**params, "AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::Partition": "aws",
                                "AWS::StackName": "aepflow-local"}
        sm = boto3.client("secretsmanager")
        emu = self.emulator
        sm.create_secret(Name=params["AepCredentialsSecretName"], SecretString=json.dumps({
            "clientId": emu.client_id, "clientSecret": emu.client_secret, "orgId": emu.org_id,
            "sandbox": "prod"}))
        secrets = json.loads(FIXTURE_SECRETS.read_text())
        secrets.update(self.extra_secrets)
        for name, value in secrets.items():
            sm.create_secret(Name=name, SecretString=value if isinstance(value, str) else json.dumps(value))
        for name, res in cfn.resources_of_type(t, "AWS::SecretsManager::Secret").items():
            refs[name] = sm.create_secret(Name=f"aepflow-local-{name}")["ARN"]
        ddb = boto3.client("dynamodb")
        for name in cfn.resources_of_type(t, "AWS::DynamoDB::Table"):
            table_name = f"aepflow-local-{name}"
            ddb.create_table(**cfn.table_kwargs(t, name, table_name))
            refs[name] = table_name
        sns = boto3.client("sns")
        sqs = boto3.client("sqs")
        self.topic_queues: dict[str, str] = {}
        for name, res in cfn.resources_of_type(t, "AWS::SNS::Topic").items():
            arn = sns.create_topic(Name=f"aepflow-local-{name}")["TopicArn"]
            refs[name], refs[f"{name}.TopicName"] = arn, arn.rsplit(":", 1)[-1]
            # Locally, an SQS queue subscribed to each topic shows what reached SNS.
            queue_url = sqs.create_queue(QueueName=f"aepflow-local-{name}-inbox")["QueueUrl"]
            queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "false"})
            self.topic_queues[name] = queue_url
        refs["AepflowLayer"] = f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:aepflow:1"
        s3 = boto3.client("s3")
        self.buckets: dict[str, str] = {}
        for name, res in cfn.resources_of_type(t, "AWS::S3::Bucket").items():
            props = res.get("Properties", {})
            bucket = f"aepflow-local-{name.lower()}"
            s3.create_bucket(Bucket=bucket)
            if (props.get("VersioningConfiguration") or {}).get("Status") == "Enabled":
                s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
            if ((props.get("NotificationConfiguration") or {}).get("EventBridgeConfiguration") or {}).get(
                    "EventBridgeEnabled"):
                s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
                    "EventBridgeConfiguration": {}})
            refs[name], refs[f"{name}.Arn"] = bucket, f"arn:aws:s3:::{bucket}"
            self.buckets[name] = bucket
        self.queues: dict[str, str] = {}
        for name, res in cfn.resources_of_type(t, "AWS::SQS::Queue").items():
            queue_url = sqs.create_queue(QueueName=f"aepflow-local-{name}")["QueueUrl"]
            refs[name] = queue_url
            refs[f"{name}.Arn"] = sqs.get_queue_attributes(
                QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            self.queues[name] = queue_url
        for name in cfn.resources_of_type(t, "AWS::Serverless::Api"):
            refs[name] = f"local{name.lower()}"

        globals_fn = t.get("Globals", {}).get("Function", {})
        iam = boto3.client("iam")
        role = iam.create_role(RoleName="aepflow-local-role", AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                    "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
        lam = boto3.client("lambda")
        zipped = io.BytesIO()
        with zipfile.ZipFile(zipped, "w") as archive:
            archive.writestr("app.py", "# dispatched in-process by local/stack.py\n")
        env_values: dict[str, str] = {}
        for name, res in cfn.resources_of_type(t, "AWS::Serverless::Function").items():
            props = {**globals_fn, **res["Properties"]}
            env = {**globals_fn.get("Environment", {}).get("Variables", {}),
                   **res["Properties"].get("Environment", {}).get("Variables", {})}
            function_name = f"aepflow-local-{name}"
            arn = lam.create_function(FunctionName=function_name, Runtime=props["Runtime"], Role=role,
                                      Handler=props["Handler"], Code={"ZipFile": zipped.getvalue()},
                                      Timeout=int(props.get("Timeout", 3)),
                                      MemorySize=int(props.get("MemorySize", 128)))["FunctionArn"]
            refs[name], refs[f"{name}.Arn"] = function_name, arn
            self.functions[function_name] = {"code_uri": props["CodeUri"], "handler": props["Handler"],
                                             "memory": int(props.get("MemorySize", 128)),
                                             "timeout": int(props.get("Timeout", 3)), "env": env, "logical": name,
                                             "arn": arn, "events": props.get("Events") or {},
                                             "dlq": (props.get("DeadLetterQueue") or {}).get("TargetArn"),
                                             "retries": int((props.get("EventInvokeConfig") or {}).get(
                                                 "MaximumRetryAttempts", 2))}
        # Every function shares one process here, so they share one environment: the
        # template keeps function-specific variables out of it (a test checks that).
        for fn in self.functions.values():
            env_values.update({k: str(cfn.resolve(v, refs)) for k, v in fn["env"].items()})
        os.environ.update(env_values)
        self.refs = refs
        self._wire_events(refs)

        sfn = boto3.client("stepfunctions")
        self.state_machines: dict[str, str] = {}
        for name, res in cfn.resources_of_type(t, "AWS::Serverless::StateMachine").items():
            props = res["Properties"]
            definition = (ROOT / props["DefinitionUri"]).read_text()
            subs = {k: str(cfn.resolve(v, refs)) for k, v in props.get("DefinitionSubstitutions", {}).items()}
            definition = cfn.re.sub(r"\$\{([A-Za-z0-9]+)\}", lambda m: subs[m.group(1)], definition)
            arn = sfn.create_state_machine(name=f"aepflow-local-{name}", definition=definition,
                                           roleArn=f"arn:aws:iam::{ACCOUNT}:role/aepflow-local-sfn")["stateMachineArn"]
            refs[name] = arn
            self.state_machines[name] = arn
        if "ProvisionDataflowStateMachine" in self.state_machines:
            # What aepflow.lifecycle would read from CloudFormation (DescribeStackResource).
            os.environ["PROVISION_STATE_MACHINE_ARN"] = self.state_machines["ProvisionDataflowStateMachine"]

    # --- EventBridge rules and API routes, read from the functions' SAM Events ---------------------

    def _wire_events(self, refs: dict[str, Any]) -> None:
        events = boto3.client("events")
        self.api_routes: list[dict[str, Any]] = []
        self.dead_letters: dict[str, str] = {}  # function name -> DLQ ARN
        for function_name, fn in self.functions.items():
            if fn["dlq"]:
                self.dead_letters[function_name] = str(cfn.resolve(fn["dlq"], refs))
            for event_name, event in fn["events"].items():
                props = event.get("Properties") or {}
                if event.get("Type") == "Api":
                    path = props["Path"]
                    pattern = "^" + cfn.re.sub(r"\\\{([A-Za-z0-9_]+)\\\}", r"(?P<\1>[^/]+)", cfn.re.escape(path)) + "$"
                    self.api_routes.append({"method": props["Method"].upper(), "path": path,
                                            "regex": cfn.re.compile(pattern), "function": function_name})
                elif event.get("Type") in ("EventBridgeRule", "CloudWatchEvent"):
                    rule = f"{function_name}-{event_name}"[:64]
                    events.put_rule(Name=rule, EventPattern=json.dumps(cfn.resolve(props["Pattern"], refs)),
                                    EventBusName=props.get("EventBusName", "default"))
                    events.put_targets(Rule=rule, EventBusName=props.get("EventBusName", "default"),
                                       Targets=[{"Id": event_name, "Arn": fn["arn"]}])

    def invoke(self, function_name: str, event: Any) -> tuple[Any, bool]:
        """Invoke a function in-process as Lambda would: (its result, whether it failed)."""
        headers: dict[str, str] = {}
        payload = json.loads(self._invoke(function_name, json.dumps(event), headers) or b"null")
        return payload, "x-amz-function-error" in headers

    def run_monitor(self, at_ms: int | None = None) -> dict[str, Any]:
        """One poll of the run monitor, as its EventBridge schedule would start it, at the
        emulator's clock (or `at_ms`). Returns the monitor's report."""
        scheduled = [name for name, fn in self.functions.items()
                     if any(e.get("Type") in ("Schedule", "ScheduleV2") for e in fn["events"].values())]
        if len(scheduled) != 1:
            raise LookupError(f"expected one scheduled function in template.yaml, found {scheduled}")
        when = self.emulator.now_ms if at_ms is None else at_ms
        event = {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event", "source": "aws.scheduler",
                 "account": ACCOUNT, "region": REGION, "resources": [], "detail": {},
                 "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(when / 1000))}
        result, failed = self.invoke(scheduled[0], event)
        if failed:
            raise RuntimeError(f"monitor poll failed: {result.get('errorType')}: {result.get('errorMessage')}")
        return result

    def deliver_async(self, function_name: str, event: Any) -> Any:
        """An asynchronous invocation (what EventBridge makes): Lambda's retries, then the DLQ."""
        name = function_name.rsplit(":", 1)[-1]
        fn = self.functions[name]
        result, failed = None, True
        for _ in range(1 + fn["retries"]):
            result, failed = self.invoke(name, event)
            if not failed:
                return result
        dlq = self.dead_letters.get(name)
        if dlq:
            sqs = boto3.client("sqs")
            url = sqs.get_queue_url(QueueName=dlq.rsplit(":", 1)[-1])["QueueUrl"]
            sqs.send_message(QueueUrl=url, MessageBody=json.dumps(event), MessageAttributes={
                "ErrorMessage": {"DataType": "String", "StringValue": str((result or {}).get("errorType"))}})
        return result

    def api_route(self, method: str, path: str) -> tuple[dict[str, Any], dict[str, str]] | None:
        for route in self.api_routes:
            match = route["regex"].match(path)
            if match and route["method"] in (method.upper(), "ANY"):
                return route, match.groupdict()
        return None

    # --- Lambda dispatch ------------------------------------------------------------------------

    def _invoke(self, function_name: str, body: Any, response_headers: dict) -> bytes:
        name = function_name.rsplit(":", 1)[-1] if function_name.startswith("arn:") else function_name
        fn = self.functions[name]
        with self._invocations_lock:
            self.invocations.append(fn["logical"])
        event = json.loads(body) if isinstance(body, (str, bytes)) and body else (body or {})
        handler = load_handler(fn["code_uri"], fn["handler"])
        try:
            result = handler(event, FakeLambdaContext(name, fn["memory"], fn["timeout"]))
        except Exception as exc:  # the Lambda runtime's own shape for an unhandled error
            if os.environ.get("AEPFLOW_LOCAL_DEBUG"):
                traceback.print_exc(file=sys.stderr)
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps({"errorType": type(exc).__name__, "errorMessage": str(exc),
                               "stackTrace": traceback.format_tb(exc.__traceback__)[-3:]}).encode()
        return json.dumps(result).encode()

    # --- provisioning -----------------------------------------------------------------------------

    def start_provisioning(self, spec: Any, *, name: str | None = None) -> str:
        sfn = boto3.client("stepfunctions")
        if name is None:
            label = spec.get("name") if isinstance(spec, dict) and isinstance(spec.get("name"), str) else "spec"
            name = f"{cfn.re.sub(r'[^A-Za-z0-9_-]', '-', label)[:60]}-{uuid.uuid4().hex[:12]}"
        return sfn.start_execution(stateMachineArn=self.state_machines["ProvisionDataflowStateMachine"],
                                   name=name, input=json.dumps({"spec": spec}))["executionArn"]

    def wait(self, execution_arn: str, timeout: float = EXECUTION_TIMEOUT_SECONDS) -> dict[str, Any]:
        sfn = boto3.client("stepfunctions")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            described = sfn.describe_execution(executionArn=execution_arn)
            if described["status"] != "RUNNING":
                return described
            time.sleep(0.05)
        raise TimeoutError(f"execution {execution_arn} still running after {timeout}s")

    def provision(self, specs: list[Any]) -> list[dict[str, Any]]:
        """Provision every spec through the state machine, concurrently; one result each."""
        from local.results import result_of
        arns = [self.start_provisioning(spec) for spec in specs]
        return [result_of(self, spec, arn, self.wait(arn)) for spec, arn in zip(specs, arns)]

    def messages(self, topic: str = "AlertsTopic") -> list[dict[str, Any]]:
        """Every SNS message that reached `topic` since the last call (Subject, Message, attributes)."""
        sqs = boto3.client("sqs")
        found: list[dict[str, Any]] = []
        for _ in range(1000):
            batch = sqs.receive_message(QueueUrl=self.topic_queues[topic], MaxNumberOfMessages=10).get("Messages", [])
            if not batch:
                return found
            for message in batch:
                envelope = json.loads(message["Body"])
                found.append({"Subject": envelope.get("Subject"), "Message": envelope.get("Message"),
                              "MessageAttributes": {k: v.get("Value") for k, v in
                                                    (envelope.get("MessageAttributes") or {}).items()}})
                sqs.delete_message(QueueUrl=self.topic_queues[topic], ReceiptHandle=message["ReceiptHandle"])
        return found
