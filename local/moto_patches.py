"""Where moto, run in-process with threads, is weaker than the AWS it stands for.

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
the local stack AWS's guarantees back: each request is atomic, as if applied in one order."""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
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
