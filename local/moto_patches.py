"""Where moto, run in-process with threads, is weaker or slower than the AWS it stands for.

Real DynamoDB applies a conditional write atomically. moto checks the condition and then
writes, so two threads can both pass `attribute_not_exists(pk)` for the same key; the run
monitor's exactly-once claims rest on that condition. Serialising moto's DynamoDB writes
gives the local stack AWS's guarantee back.

moto's Step Functions interpreter parses the state machine's ASL (with ANTLR) on every
StartExecution: half a second for provision_dataflow.asl.json, more than Step Functions takes
for a whole execution's transitions. Its parsed program is only read while it runs (each
execution keeps its state in its own Environment), so one parse per definition serves them all.
It also builds a new boto3 client for every Lambda task and service integration it runs, and
parses every JSONPath of a state's Parameters, ResultSelector and Choices again each time it
evaluates it (tens of milliseconds each, which Step Functions does not spend). boto3 clients are
thread-safe and parsed JSONPaths are only read, so one of each serves every execution."""

from __future__ import annotations

import functools
import sys
import threading
from contextlib import ExitStack, contextmanager
from collections.abc import Iterator
from typing import Any
from unittest import mock

_WRITES = ("put_item", "update_item", "delete_item", "transact_write_items")
_lock = threading.RLock()


def _serialised(method):
    @functools.wraps(method)
    def locked(*args, **kwargs):
        with _lock:
            return method(*args, **kwargs)
    return locked


@contextmanager
def atomic_dynamodb_writes() -> Iterator[None]:
    from moto.dynamodb.models import DynamoDBBackend

    with ExitStack() as stack:
        for name in _WRITES:
            stack.enter_context(mock.patch.object(DynamoDBBackend, name, _serialised(getattr(DynamoDBBackend, name))))
        yield


@contextmanager
def parse_each_state_machine_once() -> Iterator[None]:
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    parse = AmazonStateLanguageParser.parse
    parsed: dict[str, Any] = {}
    lock = threading.Lock()

    def cached(definition: str):
        with lock:
            if definition not in parsed:
                parsed[definition] = parse(definition)
            return parsed[definition]

    with mock.patch.object(AmazonStateLanguageParser, "parse", staticmethod(cached)):
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
             if getattr(m, "__name__", "").startswith("moto.stepfunctions.") and getattr(m, "boto_client_for", None) is build]
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
