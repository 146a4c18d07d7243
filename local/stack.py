"""Bring the whole local stack up in one process: the AEP emulator, moto for AWS, and the
state machine of template.yaml on moto's Step Functions interpreter, whose Lambda tasks
are dispatched in-process to the handlers template.yaml names."""

from __future__ import annotations

import copy
import importlib.util
import io
import json
import logging
import os
import sys
import threading
import time
import traceback
import uuid
import warnings
import zipfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest import mock

import boto3

from . import source_files
from . import template as cfn
from .causality import CausalRequests, tracing
from .clock import EmulatedClock, sleeps_on
from .moto_patches import (
    action_names_cached,
    asl_parsed_once,
    atomic_dynamodb,
    declared_timeouts_always_counted,
    one_client_per_service_for_step_functions,
    parse_each_json_path_once,
    stopped_branches_end,
    unsigned_requests,
)

ROOT = cfn.ROOT
LAYER = ROOT / "layers" / "aepflow"
FIXTURE_SECRETS = Path(__file__).resolve().parent / "fixtures" / "secrets.json"
REGION = "us-east-1"
ACCOUNT = "123456789012"
# A bound on how long one provisioning may take locally, so a hung execution fails loudly.
EXECUTION_TIMEOUT_SECONDS = 600
# How long a LocalStack waits, on exit or reset, for what it started to finish.
SETTLE_TIMEOUT_SECONDS = 60
# Connections the layer's HTTP pool keeps per host (aep/transport.py). In Lambda each concurrent
# invocation has a container, and pool, of its own (POOL_SIZE there covers one invocation's fan-out);
# here every invocation runs in this process and shares one pool to the emulator: the demo's seven
# executions at once, each with parallel branches whose lookups fan out 7 ways, and the monitor's
# Map states (MaxConcurrency 16 and 10). Smaller, urllib3 discards the connections that do not fit,
# warning "Connection pool is full" for each.
LOCAL_POOL_SIZE = 64
# How often the emulator's HTTP server looks for a stop request (werkzeug's default: 0.5 s,
# which every stop would wait for).
EMULATOR_POLL_SECONDS = 0.02


def start_emulator(emulator: Any) -> str:
    """emulator.start(), with a server that stops within EMULATOR_POLL_SECONDS."""
    from werkzeug.serving import BaseWSGIServer

    serve_forever = BaseWSGIServer.serve_forever

    def serve_polling_often(server, poll_interval: float = EMULATOR_POLL_SECONDS) -> None:
        serve_forever(server, poll_interval=poll_interval)

    # The server thread binds serve_forever when it starts, so the patch only has to last that long.
    with mock.patch.object(BaseWSGIServer, "serve_forever", serve_polling_often):
        return emulator.start()


@contextmanager
def emulator_running(**kwargs: Any) -> Iterator[Any]:
    """An AepEmulator(**kwargs), started (see start_emulator) and stopped."""
    from local.emulator import AepEmulator

    emulator = AepEmulator(**kwargs)
    start_emulator(emulator)
    try:
        yield emulator
    finally:
        emulator.stop()


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


def _deliver_rules_to_lambda(stack: LocalStack):
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


def _condition_holds(template: dict[str, Any], name: str | None, params: dict[str, Any]) -> bool:
    """A template Condition (Fn::Equals, Fn::Not, Fn::And, Fn::Or, Condition, over Refs of parameters)."""
    def holds(node: Any) -> Any:
        if isinstance(node, dict) and len(node) == 1:
            (op, arg), = node.items()
            if op == "Ref":
                return params.get(arg)
            if op == "Condition":
                return holds(template["Conditions"][arg])
            if op == "Fn::Equals":
                return str(holds(arg[0])) == str(holds(arg[1]))
            if op == "Fn::Not":
                return not holds(arg[0])
            if op in ("Fn::And", "Fn::Or"):
                return (all if op == "Fn::And" else any)(holds(a) for a in arg)
        return node
    return name is None or bool(holds(template["Conditions"][name]))


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


class LeakedWork(RuntimeError):
    """Work a LocalStack started was still running when it exited or was reset."""


class LocalStack:
    """Use as a context manager; everything it starts stops on exit.

    moto, the environment variables and aepflow's cached clients are process-wide, so one
    LocalStack runs at a time in a process. `reset(...)` takes a running stack back to what a
    new `LocalStack(...)` with the same arguments would be, at a fraction of the cost (tests
    share one stack per module through the `stack` fixture of tests/conftest.py).

    On exit (and on reset) nothing it started may still be running: it waits, at most
    SETTLE_TIMEOUT_SECONDS, for every Step Functions execution, every thread of moto's
    interpreter and every Lambda invocation in flight, then stops what is left and raises
    LeakedWork. Left running, such work would reach the next stack through the process-wide
    environment (its AEP_PLATFORM_URL) and count in that stack's emulator.

    Waits for time to pass (backoff, Retry-After, Step Functions Retry and Wait) advance
    `clock` instead of sleeping (local/clock.py; emulate_sleep=False for real ones). With
    trace_causality, `causal.requests` orders the AEP requests by the program's own
    synchronisation (local/causality.py)."""

    _active: LocalStack | None = None
    _active_lock = threading.Lock()

    def __init__(self, *, latency_ms: int = 0, fault_rate: float = 0.0, seed: int = 0,
                 secrets: dict[str, Any] | None = None, emulate_sleep: bool = True, trace_causality: bool = False,
                 sources: dict[str, Any] | None = None, parameters: dict[str, str] | None = None,
                 files: str | Path | None = None):
        self.latency_ms, self.fault_rate, self.seed = latency_ms, fault_rate, seed
        # The template's parameters, as `sam deploy --parameter-overrides` gives them (LogLevel, ...).
        self.parameters = dict(parameters or {})
        self.extra_secrets = secrets or {}
        # What one's own source systems hold, beside the seeds' tables (a --sources file's object:
        # local/emulator/sources_file.py); the emulator refuses a malformed one (SourcesInvalid).
        self.sources = sources
        # A folder of one's own S3 buckets (local/source_files.py), beside examples/files/.
        self.files = files
        self.trace_causality = trace_causality
        self.causal: CausalRequests | None = None  # with trace_causality: every AEP request, in logical time
        self.emulate_sleep = emulate_sleep
        self.clock = EmulatedClock()
        self.template = cfn.load()
        self._exit = ExitStack()   # process-wide mocks and patches, entered once
        self._built = ExitStack()  # the emulator, the environment, the AWS resources: rebuilt by reset()
        self.functions: dict[str, dict[str, Any]] = {}  # function name -> {handler, memory, timeout}
        self.invocations: list[str] = []
        self._invocations_lock = threading.Lock()
        self._in_flight = 0
        self.refs: dict[str, Any] = {}
        self._clients: dict[str, Any] = {}
        self._clients_lock = threading.Lock()

    # --- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> LocalStack:
        with LocalStack._active_lock:
            if LocalStack._active is not None:
                raise RuntimeError("a LocalStack is already running in this process (moto and the environment are "
                                   "process-wide): reset it with other arguments instead, e.g. through the `stack` "
                                   "fixture's @pytest.mark.stack(...)")
            LocalStack._active = self
        try:
            self._start()
            self._build()
        except BaseException:
            self._close()
            raise
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            leaked = self._settle()
        finally:
            self._close()
        if leaked and exc_type is None:
            raise LeakedWork(leaked)
        if leaked:
            warnings.warn(f"LocalStack: {leaked}", RuntimeWarning, stacklevel=2)

    def reset(self, *, latency_ms: int = 0, fault_rate: float = 0.0, seed: int = 0,
              secrets: dict[str, Any] | None = None, trace_causality: bool = False,
              sources: dict[str, Any] | None = None, files: str | Path | None = None) -> LocalStack:
        """Back to a fresh stack with these arguments: a new emulator, moto's every backend
        emptied and the template's resources created again, aepflow's caches dropped, the
        invocation log and the emulated clock cleared. Raises LeakedWork (after stopping it)
        if work of the previous use is still running."""
        leaked = self._settle()
        self._built.close()
        self._built = ExitStack()
        from moto.core.base_backend import BackendDict
        BackendDict.reset()
        self.latency_ms, self.fault_rate, self.seed = latency_ms, fault_rate, seed
        self.extra_secrets = secrets or {}
        self.sources = sources
        self.files = files
        self.trace_causality = trace_causality
        self.functions, self.refs = {}, {}
        with self._invocations_lock:
            self.invocations.clear()
        self.clock.clear()
        self._build()
        if leaked:
            raise LeakedWork(leaked)
        return self

    def _close(self) -> None:
        try:
            self._built.close()
            self._exit.close()
        finally:
            with LocalStack._active_lock:
                if LocalStack._active is self:
                    LocalStack._active = None

    def _start(self) -> None:
        """What stays for the stack's whole life: moto's mock and the patches of moto and aepflow."""
        from moto import mock_aws
        from moto.awslambda_simple.models import LambdaSimpleBackend
        from moto.stepfunctions.models import StateMachine

        if str(LAYER) not in sys.path:
            sys.path.insert(0, str(LAYER))
        saved_env = dict(os.environ)
        self._exit.callback(lambda: (os.environ.clear(), os.environ.update(saved_env)))
        # One boto3 session for every stack of the process: a new one re-reads every service model.
        aws = mock_aws(config={"lambda": {"use_docker": False}, "stepfunctions": {"execute_state_machine": True},
                               "core": {"reset_boto3_session": False}})
        aws.start()
        self._exit.callback(aws.stop)
        stack = self
        self._exit.enter_context(mock.patch.object(
            LambdaSimpleBackend, "invoke",
            lambda backend, function_name, qualifier, body, headers, response_headers:
                stack._invoke(function_name, body, response_headers)))
        self._exit.enter_context(mock.patch.object(StateMachine, "__deepcopy__", _clone_state_machine, create=True))
        self._exit.enter_context(atomic_dynamodb())
        self._exit.enter_context(asl_parsed_once())
        self._exit.enter_context(action_names_cached())
        self._exit.enter_context(one_client_per_service_for_step_functions())
        self._exit.enter_context(parse_each_json_path_once())
        self._exit.enter_context(stopped_branches_end())
        self._exit.enter_context(declared_timeouts_always_counted())
        self._exit.enter_context(unsigned_requests())
        self._exit.enter_context(_deliver_rules_to_lambda(stack))
        from aepflow.aep import transport
        self._exit.enter_context(mock.patch.object(transport, "POOL_SIZE", LOCAL_POOL_SIZE))
        if self.emulate_sleep:
            self._exit.enter_context(sleeps_on(self.clock))

    def client(self, service: str) -> Any:
        """The stack's boto3 client of `service`, made once (inside moto's mock: it outlives every
        reset, which empties the backends behind it). Making one costs about 14 ms, and a reset
        alone used nine."""
        with self._clients_lock:
            if service not in self._clients:
                self._clients[service] = boto3.client(service)
            return self._clients[service]

    def _build(self) -> None:
        """What reset() makes anew: the emulator, the environment and the AWS resources."""
        from local.emulator import AepEmulator

        self.emulator = AepEmulator(client_secret="local-emulator-client-secret-" + uuid.uuid4().hex[:12],
                                    latency_ms=self.latency_ms, fault_rate=0.0, seed=self.seed, sources=self.sources,
                                    object_store=lambda: self.client("s3"))
        self.aep_url = start_emulator(self.emulator)
        self._built.callback(self.emulator.stop)
        self.causal = None
        if self.trace_causality:  # see local/causality.py
            self.causal = self._built.enter_context(tracing(CausalRequests(self.aep_url)))
        saved_env = dict(os.environ)
        self._built.callback(lambda: (os.environ.clear(), os.environ.update(saved_env)))
        os.environ.update({
            "AWS_DEFAULT_REGION": REGION, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing", "POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_DEV": "false",
            "POWERTOOLS_METRICS_DISABLED": "true",
        })
        os.environ.pop("AWS_PROFILE", None)
        self._create_aws_resources()
        from aepflow.core import aws
        aws.reset()
        self._built.callback(aws.reset)
        # Faults start once the stack is built, so they hit provisioning, not the setup.
        self.emulator.set_faults(latency_ms=self.latency_ms, fault_rate=self.fault_rate)

    # --- nothing left running ------------------------------------------------------------------

    def settle(self, timeout: float | None = None) -> None:
        """Wait until nothing this stack started is still running; raise LeakedWork (after
        stopping the executions) if something still is after `timeout` (SETTLE_TIMEOUT_SECONDS)."""
        leaked = self._settle(timeout)
        if leaked:
            raise LeakedWork(leaked)

    def busy(self) -> list[str]:
        """What this stack started that is still running: Step Functions executions, threads of
        moto's interpreter, Lambda invocations in flight."""
        from moto.stepfunctions.parser.utils import TMP_THREADS

        found = [f"execution {e.execution_arn}" for e in self._executions() if e.status == "RUNNING"]
        # moto names a branch's thread after its whole parsed program: the start of it says enough.
        found += [f"interpreter thread {t.name[:120]}" for t in list(TMP_THREADS) if t.is_alive()]
        with self._invocations_lock:
            if self._in_flight:
                found.append(f"{self._in_flight} Lambda invocation(s)")
        return found

    def _settle(self, timeout: float | None = None) -> str | None:
        """Wait until busy() is empty; past `timeout`, stop the executions and describe what was left."""
        from moto.stepfunctions.parser.utils import TMP_THREADS

        deadline = time.monotonic() + (SETTLE_TIMEOUT_SECONDS if timeout is None else timeout)
        while True:
            left = self.busy()
            if not left:
                TMP_THREADS[:] = [t for t in TMP_THREADS if t.is_alive()]  # moto never empties it
                return None
            if time.monotonic() >= deadline:
                break
            time.sleep(0.005)
        for execution in self._executions():
            self._stop(execution)
        return (f"still running {timeout or SETTLE_TIMEOUT_SECONDS}s after the test: {', '.join(left[:10])}"
                f"{' ...' if len(left) > 10 else ''}; a test that starts executions waits for them "
                f"(stack.wait(arn))")

    @staticmethod
    def _stop(execution: Any, timeout: float = 5.0) -> None:
        """Stop a RUNNING execution; one whose worker has not built its environment yet (it is
        still parsing the definition) is given `timeout` to do so first."""
        deadline = time.monotonic() + timeout
        while execution.status == "RUNNING" and time.monotonic() < deadline:
            worker = execution.exec_worker
            if worker is not None and worker.env is not None:
                execution.stop(stop_date=datetime.now(UTC), error="LeakedWork",
                               cause="still running when its LocalStack exited or was reset")
                return
            time.sleep(0.005)

    def _executions(self) -> list[Any]:
        try:
            from moto.stepfunctions.parser.models import stepfunctions_parser_backends
            backend = stepfunctions_parser_backends[ACCOUNT][REGION]
        except KeyError:
            return []
        return [e for machine in list(backend.state_machines) for e in list(machine.executions)]

    # --- AWS resources, read from template.yaml ---------------------------------------------

    def _create_aws_resources(self) -> None:
        t = self.template
        params = {**cfn.parameter_defaults(t), **self.parameters}
        source_buckets = self._source_buckets(params)
        params.update({"AepPlatformUrl": self.aep_url, "AepImsUrl": self.aep_url})
        refs: dict[str, Any] = {**params, "AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::Partition": "aws",
                                "AWS::StackName": "aepflow-local"}
        sm = self.client("secretsmanager")
        emu = self.emulator
        sm.create_secret(Name=params["AepCredentialsSecretName"], SecretString=json.dumps({
            "clientId": emu.client_id, "clientSecret": emu.client_secret, "orgId": emu.org_id,
            "sandbox": "prod"}))
        secrets = json.loads(FIXTURE_SECRETS.read_text())
        secrets.update(self.extra_secrets)
        for name, value in secrets.items():
            sm.create_secret(Name=name, SecretString=value if isinstance(value, str) else json.dumps(value))
        for name, _res in cfn.resources_of_type(t, "AWS::SecretsManager::Secret").items():
            refs[name] = sm.create_secret(Name=f"aepflow-local-{name}")["ARN"]
        ddb = self.client("dynamodb")
        for name in cfn.resources_of_type(t, "AWS::DynamoDB::Table"):
            table_name = f"aepflow-local-{name}"
            ddb.create_table(**cfn.table_kwargs(t, name, table_name))
            refs[name] = table_name
        sns = self.client("sns")
        sqs = self.client("sqs")
        self.topic_queues: dict[str, str] = {}
        for name, _res in cfn.resources_of_type(t, "AWS::SNS::Topic").items():
            arn = sns.create_topic(Name=f"aepflow-local-{name}")["TopicArn"]
            refs[name], refs[f"{name}.TopicName"] = arn, arn.rsplit(":", 1)[-1]
            # Locally, an SQS queue subscribed to each topic shows what reached SNS.
            queue_url = sqs.create_queue(QueueName=f"aepflow-local-{name}-inbox")["QueueUrl"]
            queue_arn = sqs.get_queue_attributes(
                QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "false"})
            self.topic_queues[name] = queue_url
        refs["AepflowLayer"] = f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:aepflow:1"
        s3 = self.client("s3")
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
        self.source_buckets = source_files.put(s3, source_buckets)
        self.queues: dict[str, str] = {}
        for name, _res in cfn.resources_of_type(t, "AWS::SQS::Queue").items():
            queue_url = sqs.create_queue(QueueName=f"aepflow-local-{name}")["QueueUrl"]
            refs[name] = queue_url
            refs[f"{name}.Arn"] = sqs.get_queue_attributes(
                QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            self.queues[name] = queue_url
        for name in cfn.resources_of_type(t, "AWS::Serverless::Api"):
            refs[name] = f"local{name.lower()}"
        events = self.client("events")
        for name, res in cfn.resources_of_type(t, "AWS::Events::EventBus").items():
            bus = str(cfn.resolve(res["Properties"]["Name"], refs))
            refs[name], refs[f"{name}.Arn"] = bus, events.create_event_bus(Name=bus)["EventBusArn"]
        self._partner_bus(params.get("AepEventsBusName") or "")

        globals_fn = t.get("Globals", {}).get("Function", {})
        iam = self.client("iam")
        role = iam.create_role(RoleName="aepflow-local-role", AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                    "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
        lam = self.client("lambda")
        zipped = io.BytesIO()
        with zipfile.ZipFile(zipped, "w") as archive:
            archive.writestr("app.py", "# dispatched in-process by local/stack.py\n")
        env_values: dict[str, str] = {}
        # Only those whose Condition holds (the push path's function needs its AepEventsBusName).
        made = {name: res for name, res in cfn.resources_of_type(t, "AWS::Serverless::Function").items()
                if _condition_holds(t, res.get("Condition"), params)}
        for name, res in made.items():
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
        # A function reads POWERTOOLS_LOG_LEVEL (the LogLevel parameter) when its Logger is made, at its
        # cold start; here every function shares the process's one Logger, which may have been made
        # before this stack set the variable.
        logging.getLogger("aepflow").setLevel(os.environ.get("POWERTOOLS_LOG_LEVEL") or "INFO")
        self.refs = refs
        self._wire_events(refs)

        sfn = self.client("stepfunctions")
        self.state_machines: dict[str, str] = {}
        for name, res in cfn.resources_of_type(t, "AWS::Serverless::StateMachine").items():
            props = res["Properties"]
            definition = (ROOT / props["DefinitionUri"]).read_text()
            subs = {k: str(cfn.resolve(v, refs)) for k, v in props.get("DefinitionSubstitutions", {}).items()}
            definition = cfn.re.sub(r"\$\{([A-Za-z0-9]+)\}", lambda m, subs=subs: subs[m.group(1)], definition)
            arn = sfn.create_state_machine(name=f"aepflow-local-{name}", definition=definition,
                                           roleArn=f"arn:aws:iam::{ACCOUNT}:role/aepflow-local-sfn")["stateMachineArn"]
            refs[name] = arn
            self.state_machines[name] = arn
        if "ProvisionDataflowStateMachine" in self.state_machines:
            # What ops/executions.py would read from CloudFormation (DescribeStackResource).
            os.environ["PROVISION_STATE_MACHINE_ARN"] = self.state_machines["ProvisionDataflowStateMachine"]

    def _source_buckets(self, params: dict[str, Any]) -> dict[str, dict[str, Path]]:
        """The buckets of examples/files and --files (local/source_files.py), put in the local S3 once the
        template's resources are made. Locally, the stack may change the policy of those buckets
        (S3SourceBuckets), unless the parameter is given."""
        buckets = source_files.merged(self.files)
        if "S3SourceBuckets" in params and "S3SourceBuckets" not in self.parameters:
            params["S3SourceBuckets"] = ",".join(buckets)
        return buckets

    def _partner_bus(self, bus: str) -> None:
        """AepEventsBusName: the partner event source Adobe I/O Events would create, its bus, and the
        emulator's run notifications put on it (local/emulator/run_events.py) as Adobe's would be."""
        if not bus:
            return
        events = self.client("events")
        events.create_partner_event_source(Name=bus, Account=ACCOUNT)
        events.create_event_bus(Name=bus, EventSourceName=bus)
        # moto's PutRule reads a bus name after its last '/' (an ARN's); AWS takes a partner bus's
        # name whole. The same bus under that last part too, so the template's rule finds it.
        from moto.events.models import events_backends
        backend = events_backends[ACCOUNT][REGION]
        backend.event_buses.setdefault(bus.rsplit("/", 1)[-1], backend.event_buses[bus])

        def put(payload: dict[str, Any]) -> None:
            kind = payload["messages"][0]["_eventNotificationMeta"]["type"]
            events.put_events(Entries=[{"Source": bus, "DetailType": kind, "Detail": json.dumps(payload),
                                        "EventBusName": bus}])
        self.emulator.run_events.listen(put)

    # --- EventBridge rules and API routes, read from the functions' SAM Events ---------------------

    def _wire_events(self, refs: dict[str, Any]) -> None:
        events = self.client("events")
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
                    bus = str(cfn.resolve(props.get("EventBusName", "default"), refs))
                    events.put_rule(Name=rule, EventPattern=json.dumps(cfn.resolve(props["Pattern"], refs)),
                                    EventBusName=bus)
                    events.put_targets(Rule=rule, EventBusName=bus, Targets=[{"Id": event_name, "Arn": fn["arn"]}])

    def invoke(self, function_name: str, event: Any) -> tuple[Any, bool]:
        """Invoke a function in-process as Lambda would: (its result, whether it failed)."""
        headers: dict[str, str] = {}
        payload = json.loads(self._invoke(function_name, json.dumps(event), headers) or b"null")
        return payload, "x-amz-function-error" in headers

    def run_monitor(self, at_ms: int | None = None, *, timeout: float = EXECUTION_TIMEOUT_SECONDS) -> dict[str, Any]:
        """One poll of the run monitor, as its schedule would start it (the one function or
        state machine of template.yaml with a Schedule/ScheduleV2 event; a state machine is
        started and waited for), at the emulator's clock (or `at_ms`). Returns the monitor's report."""

        def schedules(resource: dict[str, Any]) -> list[dict[str, Any]]:
            return [e for e in (resource.get("Properties", {}).get("Events") or {}).values()
                    if e.get("Type") in ("Schedule", "ScheduleV2")]

        scheduled = [name for name, res in self.template["Resources"].items() if schedules(res)]
        if len(scheduled) != 1:
            raise LookupError(f"expected one scheduled function or state machine in template.yaml, found {scheduled}")
        when = self.emulator.now_ms if at_ms is None else at_ms
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(when / 1000))
        if scheduled[0] in self.state_machines:
            # EventBridge Scheduler starts it with the schedule's Input, its context attributes filled in.
            text = schedules(self.template["Resources"][scheduled[0]])[0].get("Properties", {}).get("Input") or "{}"
            text = text.replace("<aws.scheduler.scheduled-time>", stamp).replace(
                "<aws.scheduler.execution-id>", str(uuid.uuid4()))
            arn = self.client("stepfunctions").start_execution(
                stateMachineArn=self.state_machines[scheduled[0]], name=f"poll-{uuid.uuid4().hex}",
                input=text)["executionArn"]
            done = self.wait(arn, timeout)
            if done["status"] != "SUCCEEDED":
                raise RuntimeError(f"monitor poll failed: {done.get('error')}: {done.get('cause')}")
            return json.loads(done["output"])
        event = {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event", "source": "aws.scheduler",
                 "account": ACCOUNT, "region": REGION, "resources": [], "detail": {}, "time": stamp}
        result, failed = self.invoke(self.refs[scheduled[0]], event)
        if failed:
            raise RuntimeError(f"monitor poll failed: {result.get('errorType')}: {result.get('errorMessage')}")
        return result

    def deliver_async(self, function_name: str, event: Any) -> Any:
        """An asynchronous invocation (what EventBridge makes): Lambda's retries, then the DLQ."""
        with self._working():
            return self._deliver(function_name, event)

    def _deliver(self, function_name: str, event: Any) -> Any:
        name = function_name.rsplit(":", 1)[-1]
        fn = self.functions[name]
        result, failed = None, True
        for _ in range(1 + fn["retries"]):
            result, failed = self.invoke(name, event)
            if not failed:
                return result
        dlq = self.dead_letters.get(name)
        if dlq:
            sqs = self.client("sqs")
            url = sqs.get_queue_url(QueueName=dlq.rsplit(":", 1)[-1])["QueueUrl"]
            sqs.send_message(QueueUrl=url, MessageBody=json.dumps(event), MessageAttributes={
                "ErrorMessage": {"DataType": "String", "StringValue": str((result or {}).get("errorType"))}})
        return result

    @contextmanager
    def _working(self) -> Iterator[None]:
        """Counts work in flight (an invocation, a delivery), which exit and reset wait for."""
        with self._invocations_lock:
            self._in_flight += 1
        try:
            yield
        finally:
            with self._invocations_lock:
                self._in_flight -= 1

    def api_route(self, method: str, path: str) -> tuple[dict[str, Any], dict[str, str]] | None:
        for route in self.api_routes:
            match = route["regex"].match(path)
            if match and route["method"] in (method.upper(), "ANY"):
                return route, match.groupdict()
        return None

    # --- Lambda dispatch ------------------------------------------------------------------------

    def _invoke(self, function_name: str, body: Any, response_headers: dict) -> bytes:
        with self._working():
            return self._invoke_now(function_name, body, response_headers)

    def _invoke_now(self, function_name: str, body: Any, response_headers: dict) -> bytes:
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
        sfn = self.client("stepfunctions")
        if name is None:
            label = spec.get("name") if isinstance(spec, dict) and isinstance(spec.get("name"), str) else "spec"
            name = f"{cfn.re.sub(r'[^A-Za-z0-9_-]', '-', label)[:60]}-{uuid.uuid4().hex[:12]}"
        return sfn.start_execution(stateMachineArn=self.state_machines["ProvisionDataflowStateMachine"],
                                   name=name, input=json.dumps({"spec": spec}))["executionArn"]

    def wait(self, execution_arn: str, timeout: float = EXECUTION_TIMEOUT_SECONDS) -> dict[str, Any]:
        """DescribeExecution once the execution has ended (watched in moto, not polled through its API)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [e for e in self._executions() if e.execution_arn == execution_arn]
            if not found:
                raise LookupError(f"no execution {execution_arn} in this stack")
            if found[0].status != "RUNNING":
                return self.client("stepfunctions").describe_execution(executionArn=execution_arn)
            time.sleep(0.005)
        raise TimeoutError(f"execution {execution_arn} still running after {timeout}s")

    def provision(self, specs: list[Any]) -> list[dict[str, Any]]:
        """Provision every spec through the state machine, concurrently; one result each."""
        from local.results import result_of
        arns = [self.start_provisioning(spec) for spec in specs]
        ended = [self.wait(arn) for arn in arns]
        # A branch's Lambda may outlive its execution (Step Functions stops branches, not a Lambda
        # already invoked): what it undoes after a roll-back is in the journal once it returns.
        self._await_invocations()
        return [result_of(self, spec, arn, done) for spec, arn, done in zip(specs, arns, ended, strict=True)]

    def _await_invocations(self, timeout: float = EXECUTION_TIMEOUT_SECONDS) -> None:
        """Wait (at most `timeout`) until no Lambda invocation is in flight."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._invocations_lock:
                if not self._in_flight:
                    return
            time.sleep(0.005)

    def messages(self, topic: str = "AlertsTopic") -> list[dict[str, Any]]:
        """Every SNS message that reached `topic` since the last call (Subject, Message, attributes)."""
        sqs = self.client("sqs")
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
