"""Adobe I/O Events' webhook deliveries, as tests make them: an RSA key pair whose public key is served
on 127.0.0.1 as static.adobeioevents.com serves Adobe's, and a delivery signed with it (two
RSA-SHA256 signatures of the raw body and the keys' relative paths, in Adobe's headers:
developer.adobe.com/events/docs/guides/sdk/sdk-signature-verification). The `cryptography` package
(moto's dependency) signs here; the function verifies with the standard library (monitor/rsa_verify.py)."""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

KEY_PATH = "/prod/keys/pub-key-local.pem"
FUNCTION = "aepflow-local-MonitorWebhookFunction"


@contextmanager
def key_server() -> Iterator[tuple[Any, str]]:
    """(the private key, the base URL its public key is served under at KEY_PATH)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    class Keys(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            found = self.path == KEY_PATH
            self.send_response(200 if found else 404)
            self.end_headers()
            self.wfile.write(pem if found else b"")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Keys)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield key, f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def deliver(stack: Any, key: Any, body: bytes, *, signed_body: bytes | None = None) -> dict[str, Any]:
    """POST `body` to the webhook function (in-process, as API Gateway's proxy event), signed as Adobe
    signs it; `signed_body`: what the signatures are of, when a test forges the body."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    from local.serve import proxy_event

    signature = base64.b64encode(key.sign(signed_body or body, padding.PKCS1v15(), hashes.SHA256())).decode()
    headers = {"Content-Type": "application/json", "x-adobe-digital-signature-1": signature,
               "x-adobe-digital-signature-2": signature, "x-adobe-public-key1-path": KEY_PATH,
               "x-adobe-public-key2-path": KEY_PATH}
    answer, failed = stack.invoke(FUNCTION, proxy_event("POST", "/aep-events", headers=headers, body=body))
    assert not failed, answer
    return answer
