"""What API Gateway's IAM authorization checks before a request reaches the API function: a
Signature Version 4 signature (AWS's "Signature Version 4 signing process": the canonical request,
the string to sign and the signing key) made with a known access key for service execute-api,
within 15 minutes of now. The IAM policy evaluation that follows is not emulated: the local
stack's one key may call everything. Written from the signing process itself, not from botocore,
so that a client signing with botocore (the aepflow command) is checked by an independent
implementation.

Each refusal is the gateway response API Gateway would send: (response type, message), which
the template's DEFAULT_4XX gateway response turns into {"code", "message"} with status 403."""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, quote

SERVICE = "execute-api"
# The one key `python -m local serve` knows (moto's own fake credentials change from run to run).
LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY = "testing", "testing"
ALGORITHM = "AWS4-HMAC-SHA256"
MAX_SKEW = timedelta(minutes=15)
_AUTHORIZATION = re.compile(r"^AWS4-HMAC-SHA256 Credential=(?P<key>[^/\s,]+)/(?P<date>\d{8})/(?P<region>[a-z0-9-]+)/"
                            r"(?P<service>[a-z0-9-]+)/aws4_request,\s*SignedHeaders=(?P<signed>[a-z0-9;-]+),\s*"
                            r"Signature=(?P<signature>[0-9a-f]{64})$")


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()


def _canonical_query(query: str) -> str:
    pairs = [(quote(k, safe="-_.~"), quote(v, safe="-_.~")) for k, v in parse_qsl(query, keep_blank_values=True)]
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))


def verify(method: str, path: str, query: str, headers: dict[str, str], body: bytes, *,
           keys: dict[str, str], region: str, now: datetime | None = None) -> tuple[str, str] | None:
    """None when the request is signed as API Gateway wants it, else (response type, message)."""
    lower = {k.lower(): v for k, v in headers.items()}
    authorization = lower.get("authorization")
    if not authorization:
        return "MISSING_AUTHENTICATION_TOKEN", "Missing Authentication Token"
    match = _AUTHORIZATION.match(authorization.strip())
    if match is None:
        return "INCOMPLETE_SIGNATURE", ("Authorization header requires 'Credential', 'Signature' and "
                                        "'SignedHeaders' parameters of an AWS4-HMAC-SHA256 signature")
    if match["key"] not in keys:
        return "UNAUTHORIZED", "The security token included in the request is invalid."
    if match["region"] != region or match["service"] != SERVICE:
        return "INVALID_SIGNATURE", f"Credential should be scoped to a valid region and service {SERVICE}"
    amz_date = lower.get("x-amz-date", "")
    try:
        signed_at = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        return "INCOMPLETE_SIGNATURE", "The X-Amz-Date header is missing or not in the form yyyyMMddTHHmmssZ"
    if not amz_date.startswith(match["date"]):
        return "INVALID_SIGNATURE", "The credential date does not match the X-Amz-Date header"
    if abs((now or datetime.now(UTC)) - signed_at) > MAX_SKEW:
        return "INVALID_SIGNATURE", "Signature expired: the request is more than 15 minutes away from now"
    signed = match["signed"].split(";")
    if "host" not in signed or any(name not in lower for name in signed):
        return "INVALID_SIGNATURE", "The request signature we calculated does not match the signature you provided."
    payload_hash = lower.get("x-amz-content-sha256") or hashlib.sha256(body or b"").hexdigest()
    canonical = "\n".join([
        method.upper(),
        quote(path or "/", safe="/-_.~"),
        _canonical_query(query),
        "".join(f"{name}:{' '.join(lower[name].split())}\n" for name in signed),
        match["signed"],
        payload_hash,
    ])
    scope = f"{match['date']}/{region}/{SERVICE}/aws4_request"
    to_sign = "\n".join([ALGORITHM, amz_date, scope, hashlib.sha256(canonical.encode("utf-8")).hexdigest()])
    key = _hmac(f"AWS4{keys[match['key']]}".encode(), match["date"])
    for part in (region, SERVICE, "aws4_request"):
        key = _hmac(key, part)
    expected = hmac.new(key, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, match["signature"]):
        return "INVALID_SIGNATURE", "The request signature we calculated does not match the signature you provided."
    return None


def sign(method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None, *,
         access_key: str, secret_key: str, region: str, session_token: str | None = None) -> dict[str, str]:
    """The headers of `method url` signed for execute-api with botocore, as the aepflow command
    and any AWS SDK sign them (the client side of `verify`)."""
    from urllib.parse import urlsplit

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    sent = dict(headers or {})
    if not any(k.lower() == "host" for k in sent):
        sent["Host"] = urlsplit(url).netloc  # signed, so it is sent as signed
    request = AWSRequest(method=method.upper(), url=url, data=body or b"", headers=sent)
    SigV4Auth(Credentials(access_key, secret_key, session_token), SERVICE, region).add_auth(request)
    return dict(request.headers.items())
