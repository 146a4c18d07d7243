"""HTTP to `python -m local serve`'s API, signed with SigV4 as API Gateway's IAM authorization
wants it (the local stack's key, testing/testing), the way the aepflow command and AWS SDKs sign."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

from local import sigv4
from local.stack import REGION


def call(method: str, url: str, body: bytes | None = None, content_type: str | None = "application/json", *,
         headers: dict[str, str] | None = None, signed: bool = True) -> tuple[int, Any, dict[str, str], float]:
    """(status, JSON body, response headers, seconds)."""
    sent = dict(headers or {})
    if content_type is not None and body is not None:
        sent["Content-Type"] = content_type
    if signed:
        sent = sigv4.sign(method, url, body, sent, access_key=sigv4.LOCAL_ACCESS_KEY,
                          secret_key=sigv4.LOCAL_SECRET_KEY, region=REGION)
    request = urllib.request.Request(url, data=body, method=method, headers=sent)
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, raw, got = response.status, response.read(), dict(response.headers.items())
    except urllib.error.HTTPError as exc:
        status, raw, got = exc.code, exc.read(), dict(exc.headers.items())
    return status, json.loads(raw or b"null"), got, time.monotonic() - started


def in_process(stack: Any, method: str, path: str, body: Any = None,
               headers: dict[str, str] | None = None) -> tuple[int, Any]:
    """(status, JSON body) of the API of a LocalStack in this process, signed as above and handed to
    `python -m local serve`'s own dispatch (no socket)."""
    from local.serve import dispatch

    data = json.dumps(body).encode() if body is not None else None
    sent = sigv4.sign(method, f"http://127.0.0.1{path}", data, {"Content-Type": "application/json", **(headers or {})},
                      access_key=sigv4.LOCAL_ACCESS_KEY, secret_key=sigv4.LOCAL_SECRET_KEY, region=REGION)
    status, _, raw = dispatch(stack, method, path, sent, data)
    return status, json.loads(raw or b"null")
