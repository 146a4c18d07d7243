"""The one AWS client factory, and the process's other singletons (the Secrets Manager
provider, the AEP client that aep.client makes through cached()). Built on first use and kept while
the Lambda container is warm: making a boto3 client loads its service model (tens of milliseconds),
so a warm invocation reuses them."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools.utilities import parameters

from aepflow.core import settings as settings_mod
from aepflow.core.settings import Settings

T = TypeVar("T")
# Re-entrant: what cached() makes may ask for the process's other objects (secrets, clients).
_lock = threading.RLock()
# Objects that hold secret values or tokens: a least-privilege test forgets them as a cold start would.
SECRET_HOLDERS = ("aep-client", "secrets")
_state: dict[str, object] = {}
_local = threading.local()


def _session():
    """The process's boto3 session; call with _lock held."""
    if "aws-session" not in _state:
        import boto3

        _state["aws-session"] = boto3.session.Session()
    return _state["aws-session"]


def _client(service: str):
    """The process's client of `service`; call with _lock held."""
    key = f"aws:{service}"
    if key not in _state:
        _state[key] = _session().client(service)
    return _state[key]


def aws_client(service: str):
    """One boto3 client per service for the process (clients are thread-safe; making one is
    not, hence the lock and a session of our own)."""
    with _lock:
        return _client(service)


def secrets() -> parameters.SecretsProvider:
    """Powertools' Secrets Manager provider (its cache of values, max_age, transform) on the
    process's own client. `parameters.get_secret` would make its provider with a boto3 session of
    its own, which loads its endpoints and Secrets Manager's model again in every new container.
    Forgotten, with the values it holds, by forget_secrets(); the client stays."""
    with _lock:
        return _secrets()


def _secrets() -> parameters.SecretsProvider:
    if "secrets" not in _state:
        _state["secrets"] = parameters.SecretsProvider(boto3_client=_client("secretsmanager"))
    return _state["secrets"]  # type: ignore[return-value]


def table():
    """The dataflows table (DATAFLOWS_TABLE) as a boto3 Table, one per thread: resources are not
    thread-safe. Forgotten by reset(), like the clients."""
    name = settings_mod.load(Settings).table_name
    generation = _state.get("generation", 0)
    cached = getattr(_local, "table", None)
    if cached is None or cached[0] != (name, generation):
        with _lock:
            resource = _session().resource("dynamodb")
        cached = _local.table = ((name, generation), resource.Table(name))
    return cached[1]


def cached(key: str, make: Callable[[], T]) -> T:
    """The process's object under `key`, made by `make` on first use (the AEP client is one); forgotten
    by reset(), and by forget_secrets() when it holds secrets (see SECRET_HOLDERS)."""
    with _lock:
        if key not in _state:
            _state[key] = make()
        return _state[key]  # type: ignore[return-value]


def dynamodb() -> Any:
    """The low-level DynamoDB client (thread-safe, unlike a boto3 resource), made once."""
    return aws_client("dynamodb")


def forget_secrets() -> None:
    """Forget what a new container would have to read again: the AEP credentials, the token and
    every cached secret value. The AWS clients, which hold none, are kept (a least-privilege test
    starts each function cold this way, without paying for new clients)."""
    with _lock:
        for key in SECRET_HOLDERS:
            _state.pop(key, None)
        parameters.clear_caches()


def reset() -> None:
    """Forget every cached object, secrets included (a cold start; used by the local stack and tests)."""
    with _lock:
        generation = int(_state.get("generation", 0)) + 1  # type: ignore[call-overload]
        _state.clear()
        _state["generation"] = generation
        parameters.clear_caches()
    settings_mod.forget()
