"""Adobe IMS: the token endpoint (POST /ims/token/v3, client credentials) and the tokens it gave.

The gateway (app.py) asks `_token_valid` of every bearer token before a request reaches a service."""
from __future__ import annotations

import secrets
import time

TOKEN_SECONDS = 86399


class ImsMixin:
    """Mixed into AepEmulator. State: `client_id`, `client_secret`, `_lock` (set by the emulator)."""

    def _ims_init(self) -> None:
        self.ims_token_requests = 0
        self._tokens: dict[str, float] = {}

    def _ims(self, req, query, form):
        if req.method != "POST":
            return 405, {"error": "invalid_request", "error_description": "POST required"}, {}
        params = dict(query)
        if isinstance(form, dict):
            params.update(form)
        for p in ("grant_type", "client_id", "client_secret", "scope"):
            if not params.get(p):
                return 400, {"error": "invalid_request", "error_description": f"missing {p} parameter"}, {}
        if params["grant_type"] != "client_credentials":
            return 400, {"error": "unsupported_grant_type", "error_description": "unsupported grant_type"}, {}
        if params["client_id"] != self.client_id:
            return 401, {"error": "invalid_client", "error_description": "invalid client_id parameter"}, {}
        if params["client_secret"] != self.client_secret:
            return 401, {"error": "invalid_client", "error_description": "invalid client_secret parameter"}, {}
        token = "eyJ" + secrets.token_urlsafe(48)
        with self._lock:
            self._tokens[token] = time.time() + TOKEN_SECONDS
            self.ims_token_requests += 1
        return 200, {"access_token": token, "token_type": "bearer", "expires_in": TOKEN_SECONDS}, {}

    def _token_valid(self, token: str | None) -> bool:
        """Whether IMS gave `token` and it has not expired."""
        with self._lock:
            expires = self._tokens.get(token) if token else None
        return bool(expires) and expires >= time.time()
