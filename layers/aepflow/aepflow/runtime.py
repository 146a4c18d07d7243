"""Process-wide singletons: settings, credentials, the token provider, AEP clients and the
DynamoDB client. Built on first use and kept while the Lambda container is warm. The AEP client's
modules are imported with it, so a function that never calls AEP (validate-spec) never loads them."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities import parameters

from .settings import Settings

if TYPE_CHECKING:
    from .client import AepClient

_lock = threading.Lock()
_state: dict[str, object] = {}


def settings() -> Settings:
    with _lock:
        if "settings" not in _state:
            _state["settings"] = Settings.from_env()
        return _state["settings"]  # type: ignore[return-value]


def aep_client(sandbox: str | None = None) -> AepClient:
    from .client import AepClient
    from .credentials import TokenProvider, load_credentials

    cfg = settings()
    with _lock:
        base = _state.get("client")
        if base is None:
            credentials = load_credentials(cfg)
            base = AepClient(cfg, credentials, TokenProvider(cfg, credentials))
            _state["client"] = base
    return base.with_sandbox(sandbox)  # type: ignore[union-attr]


def dynamodb() -> Any:
    """The low-level DynamoDB client (thread-safe, unlike a boto3 resource), made once."""
    with _lock:
        if "dynamodb" not in _state:
            import boto3

            _state["dynamodb"] = boto3.client("dynamodb")
        return _state["dynamodb"]


def reset() -> None:
    """Forget every cached object, secrets included (a cold start; used by the local stack and tests)."""
    with _lock:
        _state.clear()
        parameters.clear_caches()
