"""The monitor's AWS clients: one boto3 session per process (building one loads every model, and
is not thread-safe), and low-level clients, which are. Rebuilt whenever runtime.reset() has
been called (a cold start, or a new local stack), so a stale endpoint is never reused."""

from __future__ import annotations

import threading
from typing import Any

import boto3

from .. import runtime

_lock = threading.Lock()
_cache: dict[str, Any] = {}


def _client(name: str):
    owner = runtime.settings()  # a new object after runtime.reset()
    with _lock:
        if _cache.get("owner") is not owner:
            _cache.clear()
            _cache["owner"] = owner
            _cache["session"] = boto3.session.Session()
        if name not in _cache:
            _cache[name] = _cache["session"].client(name)
        return _cache[name]


def dynamodb():
    return _client("dynamodb")


def sns():
    return _client("sns")


def reset() -> None:
    with _lock:
        _cache.clear()
