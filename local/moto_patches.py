"""Where moto, run in-process with threads, is weaker or slower than the AWS it stands for.

Real DynamoDB applies a conditional write atomically, and a read never fails because a write
happens at the same moment. moto does neither:

- it checks a condition and then writes, so two threads can both pass
  `attribute_not_exists(pk)` for the same key (the run monitor's exactly-once claims rest on
  that condition);
- a Query or Scan iterates the table's item dictionaries, so a put or delete of another key
  in another thread raises `RuntimeError: dictionary changed size during iteration` out of
  the reading client (two overlapping monitor polls did that: one poll's claims while the
  other read its state).

Serialising every DynamoDB request (reads, writes and the serialisation of the answer) gives
the local stack AWS's guarantees back: each request is atomic, as if applied in one order.

moto's Step Functions interpreter parses the state machine's ASL (with ANTLR) on every
StartExecution (see asl_parsed_once). It also builds a new boto3 client for every Lambda task
and service integration it runs, and parses every JSONPath of a state's Parameters,
ResultSelector and Choices again each time it evaluates it (tens of milliseconds each, which
Step Functions does not spend). boto3 clients are thread-safe and parsed JSONPaths are only
read, so one of each serves every execution."""

from __future__ import annotations

import functools
import sys
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any
from unittest import mock

_lock = threading.RLock()


def _serialised(method):
    @functools.wraps(method)
    def locked(*args, **kwargs):
        with _lock:
            return method(*args, **kwargs)
    return locked


@contextmanager
def atomic_dynamodb() -> Iterator[None]:
    """Every DynamoDB request moto answers is answered under one lock."""
    from moto.dynamodb.responses import DynamoHandler

    with mock.patch.object(DynamoHandler, "call_action", _serialised(DynamoHandler.call_action)):
        yield


# The name the local stack and older tests use; reads are serialised too now.
atomic_dynamodb_writes = atomic_dynamodb


# --- and where it is slow -----------------------------------------------------------------------

_asl_trees: dict[str, object] = {}
_asl_lock = threading.Lock()
_ASL_CACHE_SIZE = 16


@contextmanager
def asl_parsed_once() -> Iterator[None]:
    """moto parses a state machine's ASL with ANTLR on CreateStateMachine and again on every
    StartExecution (about 0.35 s of CPU for template.yaml's machine). The parse tree of a
    definition is kept, and a definition already parsed is not preprocessed again only to be
    validated (a third of what a local stack's reset cost); every execution still gets its own
    evaluation components, built from the tree by moto's Preprocessor, so no state is shared
    between executions."""
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
    from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    parse = AmazonStateLanguageParser.parse

    def parse_once(definition: str):
        with _asl_lock:
            tree = _asl_trees.get(definition)
            if tree is not None:
                return Preprocessor().visit(tree), tree
        program, tree = parse(definition)  # raises on a syntax error: nothing is kept
        with _asl_lock:
            if len(_asl_trees) >= _ASL_CACHE_SIZE:
                _asl_trees.clear()
            _asl_trees[definition] = tree
        return program, tree

    validate = StepFunctionsParserBackend._validate_definition

    def validate_once(definition: str):
        # CreateStateMachine parses the definition only to validate it, and drops what it built: a
        # definition whose parse (and preprocessing) succeeded before is as valid as it was then.
        with _asl_lock:
            if definition in _asl_trees:
                return None
        return validate(definition)

    with mock.patch.object(AmazonStateLanguageParser, "parse", staticmethod(parse_once)), \
            mock.patch.object(StepFunctionsParserBackend, "_validate_definition", staticmethod(validate_once)):
        yield


@contextmanager
def action_names_cached() -> Iterator[None]:
    """moto lists a response class's methods with inspect.getmembers on every request, to
    find the action to call (about 0.7 ms a request); the list of a class is kept instead."""
    from moto.core import responses

    names = responses.method_names_from_class
    cache: dict[type, list[str]] = {}

    def cached(clazz):
        found = cache.get(clazz)
        if found is None:
            found = cache[clazz] = names(clazz)
        return found

    with mock.patch.object(responses, "method_names_from_class", cached):
        yield


@contextmanager
def one_client_per_service_for_step_functions() -> Iterator[None]:
    import moto.stepfunctions.parser.asl.parse.preprocessor  # noqa: F401 - loads every task component
    from moto.stepfunctions.parser.asl.utils import boto_client

    build = boto_client.boto_client_for
    clients: dict[tuple, Any] = {}
    lock = threading.Lock()

    def cached(region: str, service: str, state_credentials: Any = None):
        # moto's own function ignores the credentials too (it signs with fixed test keys).
        from moto.core.models import botocore_stubber
        from moto.settings import moto_server_port

        key = (region, service, botocore_stubber.enabled, moto_server_port())
        with lock:
            if key not in clients:
                clients[key] = build(region, service)
            return clients[key]

    users = [m for m in list(sys.modules.values())
             if getattr(m, "__name__", "").startswith("moto.stepfunctions.")
             and getattr(m, "boto_client_for", None) is build]
    with ExitStack() as stack:
        for module in users:
            stack.enter_context(mock.patch.object(module, "boto_client_for", cached))
        yield


@contextmanager
def parse_each_json_path_once() -> Iterator[None]:
    from moto.stepfunctions.parser.asl.component.common.path import result_path
    from moto.stepfunctions.parser.asl.utils import json_path

    with ExitStack() as stack:
        for module in (json_path, result_path):
            stack.enter_context(mock.patch.object(module, "parse", functools.lru_cache(maxsize=4096)(module.parse)))
        yield


@contextmanager
def stopped_branches_end() -> Iterator[None]:
    """When a Parallel branch fails, Step Functions stops the others. moto stops their
    environments, but a nested Parallel that starts its branches in a stopped environment copies
    the stopped state into them, and each branch thread then dies on its first step
    (`Could not set NextState value when in state ProgramStopped`) without telling its pool, so
    the nested Parallel waits forever and the execution never ends. A branch that cannot run
    ends instead, and its pool hears of it, as every branch of a stopped Parallel does in AWS."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_parallel.branch_worker import BranchWorker

    routine = BranchWorker._thread_routine

    def always_reports(worker):
        try:
            routine(worker)
        except RuntimeError:
            if worker.env.is_running():
                raise
            worker._branch_worker_comm.on_terminated(env=worker.env)  # stopped: it ends, and says so

    with mock.patch.object(BranchWorker, "_thread_routine", always_reports):
        yield


@contextmanager
def declared_timeouts_always_counted() -> Iterator[None]:
    """moto skips ("prunes") every component's evaluation once its environment is stopped, and a
    task pops what its TimeoutSeconds should have pushed. When a sibling Parallel branch fails
    while a task's Lambda is being scheduled, the task pops the state's input instead of its
    timeout, and writes it into the history event's timeoutInSeconds: GetExecutionHistory then
    fails to serialise (`int() argument must be ... not 'dict'`; seen once in a clean clone's
    make test, test_secrets_stay_secret). A timeout written as a number in the definition is
    that number, stopped or not: the stack stays balanced and the history is what AWS shows."""
    from moto.stepfunctions.parser.asl.component.common.timeouts.heartbeat import HeartbeatSeconds
    from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import TimeoutSeconds

    with ExitStack() as stack:
        for declared, field in ((TimeoutSeconds, "timeout_seconds"), (HeartbeatSeconds, "heartbeat_seconds")):
            stack.enter_context(mock.patch.object(
                declared, "eval", lambda self, env, field=field: env.stack.append(getattr(self, field))))
        yield


@contextmanager
def unsigned_requests() -> Iterator[None]:
    """boto3 signs every request (SigV4, through awscrt when it is installed): 0.5 to 1 ms of a
    1.5 to 2 ms DynamoDB call to moto, which never checks a signature and, without one, reads the
    default account, the local stack's. In-process calls go unsigned but S3's (moto's S3 reads the
    signed payload headers) and presigned URLs. What the API's callers sign is local/sigv4.py's."""
    from botocore.signers import RequestSigner

    sign = RequestSigner.sign

    def standard_unsigned(self, operation_name, request, region_name=None, signing_type="standard", *args, **kwargs):
        if signing_type == "standard" and self._service_id.hyphenize() != "s3":
            return None
        return sign(self, operation_name, request, region_name, signing_type, *args, **kwargs)

    with mock.patch.object(RequestSigner, "sign", standard_unsigned):
        yield
