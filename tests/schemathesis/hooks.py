"""schemathesis hooks (SCHEMATHESIS_HOOKS): sign the requests that carry the run's explicit
Authorization marker with SigV4, as API Gateway's IAM authorization wants them, with the local
key. A request whose Authorization schemathesis removed or replaced (its probes for ignored
authentication) goes out as schemathesis made it, so the probes see the API refuse it."""

from __future__ import annotations

from urllib.parse import urlsplit

import requests

import schemathesis
from local import sigv4

MARKER = "sigv4-local"


class _SignedForApiGateway(requests.auth.AuthBase):
    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("authorization", "content-length")}
        headers["Host"] = urlsplit(request.url).netloc
        body = request.body.encode() if isinstance(request.body, str) else (request.body or b"")
        signed = sigv4.sign(request.method, request.url, body, headers, access_key=sigv4.LOCAL_ACCESS_KEY,
                            secret_key=sigv4.LOCAL_SECRET_KEY, region="us-east-1")
        request.headers.update({k: v for k, v in signed.items() if k.lower() in ("authorization", "x-amz-date")})
        return request


@schemathesis.auth()
class LocalKey:
    """schemathesis' explicit authentication: the marker, replaced by a signature in before_call."""

    def get(self, case, ctx):
        return MARKER

    def set(self, case, data, ctx):
        case.headers = {**(case.headers or {}), "Authorization": data}


@schemathesis.hook
def before_call(ctx, case, kwargs):
    if {k.lower(): v for k, v in (case.headers or {}).items()}.get("authorization") == MARKER:
        kwargs["auth"] = _SignedForApiGateway()

