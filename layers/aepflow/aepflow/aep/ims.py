"""The AEP credentials (one Secrets Manager secret) and the IMS access token.

The token is cached twice: in memory for a warm Lambda, and in its own Secrets
Manager secret (encrypted at rest) so every function of a provisioning shares one
token and IMS is asked at most once until shortly before it expires."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass

from aws_lambda_powertools.utilities import parameters

from aepflow.aep.transport import HttpError, HttpSession
from aepflow.core import scrub
from aepflow.core.errors import AepAuthError, AepTimeout, error_for_status, parse_error_body
from aepflow.core.observability import logger
from aepflow.core.settings import Settings

# Refresh this long before expiry so no call starts with a token about to lapse.
REFRESH_MARGIN_SECONDS = 600
DEFAULT_SCOPES = "openid,session,AdobeID,read_organizations,additional_info.projectedProductContext"


@dataclass(frozen=True)
class AepCredentials:
    client_id: str
    client_secret: str
    org_id: str
    scopes: str
    sandbox: str

    @classmethod
    def from_secret(cls, value: dict) -> AepCredentials:
        missing = [k for k in ("clientId", "clientSecret", "orgId") if not value.get(k)]
        if missing:
            raise AepAuthError(f"AEP credentials secret lacks {', '.join(missing)}")
        # Its keys by name, never its values (a value here may be the secret itself).
        not_text = [k for k in ("clientId", "clientSecret", "orgId", "sandbox") if k in value
                    and not isinstance(value[k], str)]
        if not_text or not isinstance(value.get("scopes", ""), str | list):
            raise AepAuthError("AEP credentials secret: " + ", ".join(not_text or ["scopes"]) + " must be text")
        scopes = value.get("scopes") or DEFAULT_SCOPES
        if isinstance(scopes, list):
            scopes = ",".join(scopes)
        return cls(value["clientId"], value["clientSecret"], value["orgId"], scopes,
                   value.get("sandbox") or "prod")

    def __repr__(self) -> str:  # never print the secret
        return f"AepCredentials(client_id={self.client_id!r}, org_id={self.org_id!r}, sandbox={self.sandbox!r})"


def load_credentials(settings: Settings, secrets: parameters.SecretsProvider) -> AepCredentials:
    """aepflow's AEP credentials, read through `secrets` (runtime.secrets(): its cache and client)."""
    value = secrets.get(settings.credentials_secret, transform="json", max_age=300)
    if not isinstance(value, dict):  # a JSON list, text or number: what it holds is not repeated
        raise AepAuthError(f"AEP credentials secret {settings.credentials_secret!r} is not a JSON object with "
                           "clientId, clientSecret and orgId")
    scrub.remember(value.get("clientSecret"))
    return AepCredentials.from_secret(value)


class TokenProvider:
    """Hands out a bearer token; thread-safe, one IMS request per refresh."""

    def __init__(self, settings: Settings, credentials: AepCredentials, *, secrets_client,
                 session: HttpSession | None = None, clock=time.time):
        """`secrets_client`: the Secrets Manager client of the shared token cache (runtime's own)."""
        self._settings = settings
        self._credentials = credentials
        self._session = session or HttpSession()
        self._secrets = secrets_client
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_at = 0.0

    def _fresh(self, expires_at: float) -> bool:
        return expires_at - REFRESH_MARGIN_SECONDS > self._clock()

    def token(self) -> str:
        if self._token and self._fresh(self._expires_at):
            return self._token
        with self._lock:
            if self._token and self._fresh(self._expires_at):
                return self._token
            cached = self._read_shared_cache()
            if cached and self._fresh(cached[1]):
                scrub.remember(cached[0])
                self._token, self._expires_at = cached
                return self._token
            token, expires_at = self._ask_ims()
            scrub.remember(token)
            self._token, self._expires_at = token, expires_at
            self._write_shared_cache(token, expires_at)
            return token

    def invalidate(self) -> None:
        with self._lock:
            self._token, self._expires_at = None, 0.0

    def _read_shared_cache(self) -> tuple[str, float] | None:
        try:
            raw = self._secrets.get_secret_value(SecretId=self._settings.token_cache_secret)["SecretString"]
            value = json.loads(raw)
        except Exception as exc:  # an empty or missing cache only means we ask IMS
            logger.debug("token cache unavailable", extra={"reason": type(exc).__name__})
            return None
        if value.get("clientId") != self._credentials.client_id or not value.get("accessToken"):
            return None
        return value["accessToken"], float(value.get("expiresAt", 0))

    def _write_shared_cache(self, token: str, expires_at: float) -> None:
        payload = json.dumps({"clientId": self._credentials.client_id, "accessToken": token, "expiresAt": expires_at})
        try:
            self._secrets.put_secret_value(SecretId=self._settings.token_cache_secret, SecretString=payload)
        except Exception as exc:
            # The token still works for this invocation; the next cold start asks IMS again.
            logger.warning("could not store the token cache", extra={"reason": type(exc).__name__})

    def _ask_ims(self) -> tuple[str, float]:
        creds = self._credentials
        url = f"{self._settings.ims_url}/ims/token/v3"
        form = {"grant_type": "client_credentials", "client_id": creds.client_id,
                "client_secret": creds.client_secret, "scope": creds.scopes}
        last: Exception | None = None
        for attempt in range(self._settings.max_attempts):
            try:
                response = self._session.post(url, data=form, timeout=(self._settings.connect_timeout,
                                                                        self._settings.read_timeout))
            except HttpError as exc:
                last = AepTimeout(f"IMS did not answer: {type(exc).__name__}", step="ims-token")
            else:
                if response.status_code == 200:
                    body = response.json()
                    # expires_in is in seconds for the OAuth server-to-server v3 token (FACTS §7).
                    return body["access_token"], self._clock() + float(body.get("expires_in", 0))
                try:
                    body = response.json()
                except ValueError:
                    body = response.text
                code, message, request_id = parse_error_body(response.status_code, body, dict(response.headers))
                last = error_for_status(response.status_code)(
                    f"IMS refused the token request: {message}", code=code, status=response.status_code,
                    request_id=request_id, step="ims-token")
                if response.status_code < 500 and response.status_code != 429:
                    raise last
            time.sleep(min(self._settings.backoff_cap_seconds, self._settings.backoff_base_seconds * 2 ** attempt))
        assert last is not None
        raise last
