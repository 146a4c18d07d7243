"""The push path by webhook: Adobe I/O Events delivers AEP's flow-run events to an API route that
has no IAM authorization (Adobe cannot sign SigV4), so the delivery authenticates itself, as Adobe's
webhook contract says (developer.adobe.com/events/docs/guides/ "The challenge request";
developer.adobe.com/events/docs/guides/sdk/sdk-signature-verification; adobe/aio-lib-events
src/signatureUtils.js, verifyDigitalSignature and isTargetRecipient):

- the challenge: registering the webhook, Adobe sends a GET with a `challenge` query parameter and
  expects it back (answered as JSON {"challenge": ...}, content type application/json);
- each POST carries two RSA-SHA256 signatures of its raw body (base64, headers
  x-adobe-digital-signature-1 and -2) and the relative paths of the two public keys
  (x-adobe-public-key1-path and x-adobe-public-key2-path), served from static.adobeioevents.com;
  the delivery is Adobe's when EITHER signature verifies with its key (the SDK's rule: keys rotate
  one at a time);
- the payload's `recipient_client_id` must be our client id (the AEP credentials' clientId).

A POST that fails any of these is answered 401 and nothing else is done: no event is decided, no
alert claimed. A verified one is handed to monitor/events.py, the EventBridge path's decision, so
a run is alerted once across the webhook, the partner bus and the poll.

Hostile until checked: the body bounded (MAX_BODY_BYTES) before anything is read, the signatures
and key paths matched against strict patterns (a path can only name a .pem under the configured
base URL: no '..', no query, no host), the keys fetched over HTTPS with a timeout, bounded, parsed
by monitor/rsa_verify.py, and cached per process (at most MAX_KEYS, the oldest dropped first).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from aepflow.aep.client import aep_client
from aepflow.aep.transport import HttpSession
from aepflow.core import aws, settings
from aepflow.core.observability import logger
from aepflow.core.settings import WebhookSettings
from aepflow.monitor import events
from aepflow.monitor.rsa_verify import KeyRefused, PublicKey, load_public_key, verify

MAX_BODY_BYTES = 256 * 1024
MAX_KEYS = 16
MAX_KEY_BYTES = 4096
KEY_HEADERS = (("x-adobe-digital-signature-1", "x-adobe-public-key1-path"),
               ("x-adobe-digital-signature-2", "x-adobe-public-key2-path"))
# Adobe's paths look like /prod/keys/pub-key-voy5XEbWmT.pem: segments of letters, digits, '_' and '-'.
KEY_PATH = re.compile(r"^(?:/[A-Za-z0-9_-]{1,64}){1,4}\.pem$")
# The base64 of a 2048- to 4096-bit signature (256 to 512 bytes).
SIGNATURE = re.compile(r"^[A-Za-z0-9+/]{340,684}={0,2}$")
CHALLENGE = re.compile(r"^[A-Za-z0-9._~-]{1,256}$")

Handle = Callable[[Any], Any]     # a verified payload -> monitor/events.py's report (a pydantic model)


def _answer(status: int, payload: dict[str, Any]) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"Content-Type": "application/json"}, "body": json.dumps(payload)}


class KeyCache:
    """Public keys by relative path, fetched once per process (at most MAX_KEYS kept)."""

    def __init__(self, fetch: Callable[[str], bytes]):
        self._fetch, self._keys, self._lock = fetch, OrderedDict[str, PublicKey](), threading.Lock()

    def get(self, path: str) -> PublicKey:
        """The key at `path` (KEY_PATH-checked by the caller); KeyRefused when it is not a fit key."""
        with self._lock:
            if path in self._keys:
                return self._keys[path]
        raw = self._fetch(path)
        if len(raw) > MAX_KEY_BYTES:
            raise KeyRefused("public key answer too long")
        key = load_public_key(raw)
        with self._lock:
            self._keys[path] = key
            while len(self._keys) > MAX_KEYS:
                self._keys.popitem(last=False)
        return key


class Webhook:
    """Answers one API Gateway proxy event of the webhook route. Collaborators injected (unit tests
    use fakes): `client_id` our recipient id, `keys` the public keys, `handle` the events decision."""

    def __init__(self, *, client_id: Callable[[], str], keys: KeyCache, handle: Handle):
        self.client_id, self.keys, self.handle = client_id, keys, handle

    def answer(self, event: dict[str, Any]) -> dict[str, Any]:
        method = str(event.get("httpMethod") or "").upper()
        if method == "GET":
            challenge = (event.get("queryStringParameters") or {}).get("challenge")
            if not isinstance(challenge, str) or not CHALLENGE.match(challenge):
                return _answer(400, {"message": "challenge: missing, or not 1-256 URL-safe characters"})
            return _answer(200, {"challenge": challenge})
        if method != "POST":
            return _answer(405, {"message": "GET (the challenge) or POST (an event) only"})
        body = self._body(event)
        if body is None:
            return _answer(413, {"message": f"body: more than {MAX_BODY_BYTES} bytes, or not readable"})
        headers = {str(k).lower(): v for k, v in (event.get("headers") or {}).items()}
        refused = self._refusal(headers, body)
        if refused is not None:
            logger.info("webhook delivery refused", extra={"reason": refused})
            return _answer(401, {"message": "not a verified Adobe I/O Events delivery"})
        payload = json.loads(body)   # valid JSON: _refusal checked it
        report = self.handle(payload)
        return _answer(200, {"report": report.model_dump(mode="json")})

    @staticmethod
    def _body(event: dict[str, Any]) -> bytes | None:
        raw = event.get("body") or ""
        if not isinstance(raw, str) or len(raw) > MAX_BODY_BYTES * 4 // 3 + 4:
            return None
        try:
            body = base64.b64decode(raw, validate=True) if event.get("isBase64Encoded") else raw.encode("utf-8")
        except (binascii.Error, ValueError):
            return None
        return body if len(body) <= MAX_BODY_BYTES else None

    def _refusal(self, headers: dict[str, Any], body: bytes) -> str | None:
        """Why the delivery is not Adobe's for us, or None."""
        if not self._signed(headers, body):
            return "no signature verifies"
        try:
            payload = json.loads(body)
        except ValueError:
            return "body not JSON"
        recipient = payload.get("recipient_client_id") if isinstance(payload, dict) else None
        if not isinstance(recipient, str) or recipient != self.client_id():
            return "recipient_client_id is not our client id"
        return None

    def _signed(self, headers: dict[str, Any], body: bytes) -> bool:
        for signature_header, path_header in KEY_HEADERS:
            signature, path = headers.get(signature_header), headers.get(path_header)
            if not (isinstance(signature, str) and SIGNATURE.match(signature)
                    and isinstance(path, str) and KEY_PATH.match(path)):
                continue
            try:
                key = self.keys.get(path)
            except KeyRefused as exc:
                logger.info("webhook public key refused", extra={"path": path, "reason": str(exc)})
                continue
            if verify(key, body, base64.b64decode(signature)):
                return True
        return False


# ------------------------------------------------------------------ wiring
def _fetcher(cfg: WebhookSettings) -> Callable[[str], bytes]:
    session = HttpSession()

    def fetch(path: str) -> bytes:
        answer = session.request("GET", cfg.public_keys_url + path,
                                       timeout=(cfg.connect_timeout, cfg.keys_read_timeout))
        if answer.status_code != 200:
            raise KeyRefused(f"GET {path}: HTTP {answer.status_code}")
        return answer.content
    return fetch


def handle(event: dict[str, Any], *, lease_seconds: float) -> dict[str, Any]:
    """One request of the webhook route, answered as API Gateway's proxy integration expects."""
    cfg = settings.load(WebhookSettings)
    keys = aws.cached("webhook-public-keys", lambda: KeyCache(_fetcher(cfg)))
    return Webhook(client_id=lambda: aep_client().credentials.client_id, keys=keys,
                   handle=lambda payload: events.handle(payload, lease_seconds=lease_seconds)).answer(event)
