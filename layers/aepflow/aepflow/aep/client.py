"""The AEP HTTP client: headers, timeouts, bounded retries, named errors, paging, and the
metrics of every HTTP attempt (calls, errors, throttles and latency per AEP service)."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from aws_lambda_powertools.metrics import MetricUnit

from aepflow.aep.ims import AepCredentials, TokenProvider, load_credentials
from aepflow.aep.transport import ConnectFailed, ConnectTimeout, HttpSession, ReadTimeout
from aepflow.core import aws, settings
from aepflow.core.errors import AepTimeout, error_for_status, parse_error_body
from aepflow.core.observability import metrics
from aepflow.core.settings import Settings

SERVICES = {
    "flowservice": "/data/foundation/flowservice",
    "catalog": "/data/foundation/catalog",
    "schemaregistry": "/data/foundation/schemaregistry",
    "conversion": "/data/foundation/conversion",
    # Data Access: a batch's error diagnostics (help/ingestion/quality/error-diagnostics.md,
    # retrieve-failed-batches.md: GET /export/batches/{BATCH_ID}/failed and /meta?path=row_errors).
    "export": "/data/foundation/export",
}
# What each service's metrics are called: Aep<Name>Calls, ...Errors (5xx or no answer),
# ...Throttled (429) and ...Latency (ms), one value per HTTP attempt. template.yaml's dashboard
# shows them by these names.
SERVICE_METRIC_NAMES = {"flowservice": "FlowService", "catalog": "Catalog", "schemaregistry": "SchemaRegistry",
                        "conversion": "DataPrep", "export": "DataAccess"}
XED_ID = "application/vnd.adobe.xed-id+json"
XED = "application/vnd.adobe.xed+json; version=1"
# Bound on pages followed through _links.next, so a misbehaving server cannot loop us.
MAX_PAGES = 1000


def record_attempt(service: str, elapsed_ms: float, outcome: str) -> None:
    """Count one HTTP attempt. `outcome`: "ok" (any answer below 500 but 429), "error" (5xx,
    timeout, no connection) or "throttled" (429)."""
    name = f"Aep{SERVICE_METRIC_NAMES[service]}"
    metrics.add_metric(name=f"{name}Calls", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name=f"{name}Latency", unit=MetricUnit.Milliseconds, value=round(elapsed_ms, 1))
    if outcome == "error":
        metrics.add_metric(name=f"{name}Errors", unit=MetricUnit.Count, value=1)
    elif outcome == "throttled":
        metrics.add_metric(name=f"{name}Throttled", unit=MetricUnit.Count, value=1)


def segment(value: Any) -> str:
    """One path segment, percent-encoded: an id read from a spec, a record or an AEP answer can
    never add a segment, climb with .. or start a query (`../../flowservice/flows`, `x?limit=1`)."""
    return quote(str(value), safe="")


def _check_path(path: str) -> None:
    """Defence in depth behind segment(): what aepflow builds is /a/b/c, nothing more."""
    if not path.startswith("/") or any(c in path for c in "?#\\") or any(
            part in (".", "..") for part in path.split("/")[1:]) or "//" in path:
        raise ValueError(f"refusing to send a request to the unsafe path {path!r}")


class AepClient:
    """One sandbox, one token provider. Safe to share between threads."""

    def __init__(self, settings: Settings, credentials: AepCredentials, tokens: TokenProvider, *,
                 sandbox: str | None = None, session: HttpSession | None = None, sleep=time.sleep,
                 rng: random.Random | None = None):
        self.settings = settings
        self.credentials = credentials
        self.tokens = tokens
        self.sandbox = (sandbox or credentials.sandbox).lower()
        self.session = session or HttpSession()
        self._sleep = sleep
        self._rng = rng or random.Random()
        self.calls = 0

    def with_sandbox(self, sandbox: str | None) -> AepClient:
        if not sandbox or sandbox.lower() == self.sandbox:
            return self
        return AepClient(self.settings, self.credentials, self.tokens, sandbox=sandbox, session=self.session,
                         sleep=self._sleep, rng=self._rng)

    def _headers(self, service: str, extra: dict[str, str] | None, has_body: bool) -> dict[str, str]:
        headers = {
            "Authorization": f"Bearer {self.tokens.token()}",
            "x-api-key": self.credentials.client_id,
            "x-gw-ims-org-id": self.credentials.org_id,
            "x-sandbox-name": self.sandbox,
        }
        if has_body:
            headers["Content-Type"] = "application/json"
        if service == "schemaregistry":
            headers["Accept"] = XED_ID
        headers.update(extra or {})
        return headers

    def _backoff(self, attempt: int, retry_after: str | None = None) -> None:
        cap = self.settings.backoff_cap_seconds
        if retry_after:
            try:
                self._sleep(min(cap, max(0.0, float(retry_after))) + self._rng.uniform(0, 0.1))
                return
            except ValueError:
                pass
        # Full jitter: spread retries of concurrent callers instead of synchronising them.
        self._sleep(self._rng.uniform(0, min(cap, self.settings.backoff_base_seconds * 2 ** attempt)))

    def request(self, method: str, service: str, path: str, *, params: Any = None, json: Any = None,
                headers: dict[str, str] | None = None, retry_unsafe: bool | None = None) -> Any:
        """Send one request; retry what is safe to retry. A POST is retried only when AEP
        cannot have applied it (429, or no connection); a 5xx or a timeout on a POST is
        raised so the caller can look the resource up before trying again."""
        method = method.upper()
        _check_path(path)
        url = f"{self.settings.platform_url}{SERVICES[service]}{path}"
        safe = method in ("GET", "HEAD", "PUT", "DELETE") if retry_unsafe is None else retry_unsafe
        refreshed_token = False
        last: Exception | None = None
        for attempt in range(self.settings.max_attempts):
            self.calls += 1
            sent = time.perf_counter()
            try:
                response = self.session.request(
                    method, url, params=params, json=json, headers=self._headers(service, headers, json is not None),
                    timeout=(self.settings.connect_timeout, self.settings.read_timeout))
            except ConnectFailed as exc:
                record_attempt(service, (time.perf_counter() - sent) * 1000, "error")
                last = AepTimeout(f"{method} {SERVICES[service]}{path}: connection failed ({type(exc).__name__})")
                if not safe and not isinstance(exc, ConnectTimeout):
                    raise last from None
                self._backoff(attempt)
                continue
            except ReadTimeout:
                record_attempt(service, (time.perf_counter() - sent) * 1000, "error")
                last = AepTimeout(f"{method} {SERVICES[service]}{path}: no answer in {self.settings.read_timeout}s")
                if not safe:
                    raise last from None
                self._backoff(attempt)
                continue
            status = response.status_code
            record_attempt(service, (time.perf_counter() - sent) * 1000,
                           "throttled" if status == 429 else "error" if status >= 500 else "ok")
            if status < 400:
                if status == 204 or not response.content:
                    return None
                try:
                    return response.json()
                except ValueError:
                    return response.text
            try:
                body = response.json()
            except ValueError:
                body = response.text
            code, message, request_id = parse_error_body(status, body, dict(response.headers))
            error = error_for_status(status)(
                f"{method} {SERVICES[service]}{path}: {message}", code=code, status=status, request_id=request_id)
            if status == 401 and not refreshed_token:
                # A token revoked or expired early: ask once for a new one.
                refreshed_token = True
                self.tokens.invalidate()
                last = error
                continue
            if status == 429:
                last = error
                self._backoff(attempt, response.headers.get("Retry-After"))
                continue
            if status >= 500 and safe:
                last = error
                self._backoff(attempt)
                continue
            raise error
        assert last is not None
        raise last

    def get(self, service: str, path: str, **kw: Any) -> Any:
        return self.request("GET", service, path, **kw)

    def post(self, service: str, path: str, **kw: Any) -> Any:
        return self.request("POST", service, path, **kw)

    def patch(self, service: str, path: str, **kw: Any) -> Any:
        return self.request("PATCH", service, path, **kw)

    def delete(self, service: str, path: str, **kw: Any) -> Any:
        return self.request("DELETE", service, path, **kw)

    def paginate(self, service: str, path: str, *, params: Any = None, items_key: str = "items",
                 **kw: Any) -> Iterator[dict]:
        """Yield every item of a Flow Service style list, following `_links.next`."""
        params = list(params.items()) if isinstance(params, dict) else list(params or [])
        for _ in range(MAX_PAGES):
            page = self.get(service, path, params=params, **kw) or {}
            yield from page.get(items_key, [])
            href = ((page.get("_links") or {}).get("next") or {}).get("href")
            if not href:
                return
            token = parse_qs(urlsplit(href).query).get("continuationToken")
            if not token:
                return
            params = [(k, v) for k, v in params if k != "continuationToken"] + [("continuationToken", token[0])]
        raise AepTimeout(f"GET {path}: more than {MAX_PAGES} pages")


def aep_client(sandbox: str | None = None) -> AepClient:
    """The process's AEP client (its credentials read once from Secrets Manager, its token provider),
    for `sandbox` (default: the credentials secret's)."""
    def make() -> AepClient:
        cfg = settings.load(Settings)
        credentials = load_credentials(cfg, aws.secrets())
        return AepClient(cfg, credentials, TokenProvider(cfg, credentials,
                                                         secrets_client=aws.aws_client("secretsmanager")))

    return aws.cached("aep-client", make).with_sandbox(sandbox)
