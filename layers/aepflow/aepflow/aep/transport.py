"""HTTP to AEP and IMS on urllib3, the library botocore already loads in every handler.

`requests` adds about 0.03 s to a cold start here (its own modules, charset_normalizer, idna,
http.cookiejar: bench/coldstart.py) for what aepflow does not use: redirects, cookies, proxies
from the environment, encoding guesses. What it did use is here: a thread-safe pool, a timeout on
every request (connect, read), and errors that tell "no connection" from "no answer in time".
No retries and no redirects at this level: the AEP client retries what is safe to retry, and an
AEP answer that redirects is an answer, not something to follow with a bearer token.
"""

from __future__ import annotations

import json as jsonlib
from typing import Any
from urllib.parse import urlencode

import urllib3
from botocore.httpsession import get_cert_path
from urllib3.exceptions import ConnectTimeoutError, HTTPError, MaxRetryError, NewConnectionError, ReadTimeoutError

# Connections kept per host. One Lambda invocation sends at most 7 requests at once (find-existing's
# lookups; aep/live.py reads 5 at a time), and a warm container runs one invocation at a time, so 10
# keeps every connection it opens. A process that runs many invocations at once (the local stack)
# sets it to that concurrency, or urllib3 discards the connections that do not fit, warning each time.
POOL_SIZE = 10
# Sent with every request, as requests sent them: AEP's list pages come compressed (urllib3 decodes).
DEFAULT_HEADERS = {"Accept-Encoding": "gzip, deflate", "User-Agent": "aepflow"}


class HttpError(Exception):
    """No HTTP answer came."""


class ConnectFailed(HttpError):
    """The request may not have reached the server (refused, reset, TLS, DNS)."""


class ConnectTimeout(ConnectFailed):
    """No connection within the connect timeout: the server cannot have seen the request."""


class ReadTimeout(HttpError):
    """Connected and sent, but no answer within the read timeout: the server may have acted."""


class HttpResponse:
    """What aepflow reads of an answer: status, headers (case-insensitive), body."""

    def __init__(self, status: int, headers: Any, content: bytes):
        self.status_code, self.headers, self.content = status, headers, content

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        """The body as JSON; ValueError when it is not (json's own error, or a bad encoding)."""
        return jsonlib.loads(self.content)


def _query(params: Any) -> str:
    items = params.items() if isinstance(params, dict) else params
    return urlencode([(k, v) for k, v in items if v is not None], doseq=True)


class HttpSession:
    """One pool of connections, safe to share between threads."""

    def __init__(self) -> None:
        # CA bundle: the one botocore uses (certifi when installed, else botocore's own).
        self._pool = urllib3.PoolManager(maxsize=POOL_SIZE, cert_reqs="CERT_REQUIRED", ca_certs=get_cert_path(True))

    def request(self, method: str, url: str, *, params: Any = None, json: Any = None,
                data: dict[str, str] | None = None, headers: dict[str, str] | None = None,
                timeout: tuple[float, float]) -> HttpResponse:
        headers = {**DEFAULT_HEADERS, **(headers or {})}
        body: bytes | None = None
        if json is not None:
            body = jsonlib.dumps(json, allow_nan=False).encode()
            headers.setdefault("Content-Type", "application/json")
        elif data is not None:
            body = urlencode(data).encode()
            headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        if params:
            query = _query(params)
            url = f"{url}{'&' if '?' in url else '?'}{query}" if query else url
        try:
            answer = self._pool.request(method, url, body=body, headers=headers, redirect=False, retries=False,
                                        timeout=urllib3.Timeout(connect=timeout[0], read=timeout[1]))
        except HTTPError as exc:
            raise _named(exc) from None
        return HttpResponse(answer.status, answer.headers, answer.data)

    def post(self, url: str, *, timeout: tuple[float, float], **kw: Any) -> HttpResponse:
        return self.request("POST", url, timeout=timeout, **kw)


def _named(exc: BaseException) -> HttpError:
    if isinstance(exc, MaxRetryError) and exc.reason is not None:  # not with retries=False; still the cause
        exc = exc.reason
    # urllib3 2 makes NewConnectionError a ConnectTimeoutError: a refused connection is not a timeout.
    if isinstance(exc, ConnectTimeoutError) and not isinstance(exc, NewConnectionError):
        return ConnectTimeout(type(exc).__name__)
    if isinstance(exc, ReadTimeoutError):
        return ReadTimeout(type(exc).__name__)
    return ConnectFailed(type(exc).__name__)
