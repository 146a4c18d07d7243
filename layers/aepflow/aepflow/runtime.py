"""Process-wide singletons: settings, credentials, the token provider and AEP clients.
Built on first use and kept while the Lambda container is warm."""

from __future__ import annotations

import threading

from aws_lambda_powertools.utilities import parameters

from .client import AepClient
from .credentials import TokenProvider, load_credentials
from .settings import Settings

_lock = threading.Lock()
_state: dict[str, object] = {}


def settings() -> Settings:
    with _lock:
        if "settings" not in _state:
            _state["settings"] = Settings.from_env()
        return _state["settings"]  # type: ignore[return-value]


def aep_client(sandbox: str | None = None) -> AepClient:
    cfg = settings()
    with _lock:
        base = _state.get("client")
        if base is None:
            credentials = load_credentials(cfg)
            base = AepClient(cfg, credentials, TokenProvider(cfg, credentials))
            _state["client"] = base
    return base.with_sandbox(sandbox)  # type: ignore[union-attr]


def reset() -> None:
    """Forget every cached object, secrets included (a cold start; used by the local stack and tests)."""
    with _lock:
        _state.clear()
        parameters.clear_caches()
