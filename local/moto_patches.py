"""Where moto, run in-process with threads, is weaker than the AWS it stands for.

Real DynamoDB applies a conditional write atomically. moto checks the condition and then
writes, so two threads can both pass `attribute_not_exists(pk)` for the same key; the run
monitor's exactly-once claims rest on that condition. Serialising moto's DynamoDB writes
gives the local stack AWS's guarantee back."""

from __future__ import annotations

import functools
import threading
from contextlib import ExitStack, contextmanager
from collections.abc import Iterator
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
