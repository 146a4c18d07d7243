"""The webhook's door (monitor/webhook.py) without AWS or AEP: the challenge answered; a delivery
handed to the events decision only when one of its two signatures verifies (keys signed with the
`cryptography` package, served by a fake) and its recipient is our client id; anything else 401
with nothing decided."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from aepflow.core.settings import SettingsError, WebhookSettings
from aepflow.monitor.events import EventsReport
from aepflow.monitor.rsa_verify import KeyRefused
from aepflow.monitor.webhook import MAX_BODY_BYTES, MAX_KEYS, KeyCache, Webhook

CLIENT = "our-client-id"
PATH1, PATH2 = "/prod/keys/pub-key-one.pem", "/prod/keys/pub-key-two.pem"


@pytest.fixture(scope="module")
def signers():
    return [rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(3)]


def _pem(private) -> bytes:
    return private.public_key().public_bytes(serialization.Encoding.PEM,
                                             serialization.PublicFormat.SubjectPublicKeyInfo)


class Door:
    def __init__(self, signers):
        self.served = {PATH1: _pem(signers[0]), PATH2: _pem(signers[1]), "/prod/keys/junk.pem": b"junk"}
        self.fetched: list[str] = []
        self.handled: list[Any] = []
        self.webhook = Webhook(client_id=lambda: CLIENT, keys=KeyCache(self.fetch), handle=self.handle)

    def fetch(self, path: str) -> bytes:
        self.fetched.append(path)
        if path not in self.served:
            raise KeyRefused(f"GET {path}: HTTP 404")
        return self.served[path]

    def handle(self, payload: Any) -> EventsReport:
        self.handled.append(payload)
        return EventsReport(notifications=1)


def _sig(private, body: bytes) -> str:
    return base64.b64encode(private.sign(body, padding.PKCS1v15(), hashes.SHA256())).decode()


def delivery(body: bytes, sig1: str | None, sig2: str | None, path1: str = PATH1, path2: str = PATH2,
             **extra: Any) -> dict[str, Any]:
    headers = {"X-Adobe-Public-Key1-Path": path1, "x-adobe-public-key2-path": path2}
    if sig1 is not None:
        headers["x-adobe-digital-signature-1"] = sig1
    if sig2 is not None:
        headers["X-Adobe-Digital-Signature-2"] = sig2
    return {"httpMethod": "POST", "headers": headers, "body": body.decode(), "isBase64Encoded": False, **extra}


BODY = json.dumps({"event_id": "e1", "recipient_client_id": CLIENT, "event": {"id": "run"}}).encode()


def test_the_challenge_is_answered_and_a_bad_one_refused(signers):
    door = Door(signers)
    ok = door.webhook.answer({"httpMethod": "GET", "queryStringParameters": {"challenge": "8ec8d794-e0ab"}})
    assert (ok["statusCode"], json.loads(ok["body"])) == (200, {"challenge": "8ec8d794-e0ab"})
    for query in (None, {}, {"challenge": ""}, {"challenge": "<script>"}, {"challenge": "a" * 257}):
        assert door.webhook.answer({"httpMethod": "GET", "queryStringParameters": query})["statusCode"] == 400
    assert door.webhook.answer({"httpMethod": "DELETE"})["statusCode"] == 405
    assert door.handled == [] and door.fetched == []


def test_either_signature_verifying_hands_the_payload_on(signers):
    door = Door(signers)
    for sig1, sig2 in ((_sig(signers[0], BODY), _sig(signers[1], BODY)),
                       (_sig(signers[2], BODY), _sig(signers[1], BODY)),    # the first key rotated away
                       (None, _sig(signers[1], BODY)),
                       (_sig(signers[0], BODY), "A" * 344)):
        got = door.webhook.answer(delivery(BODY, sig1, sig2))
        assert got["statusCode"] == 200, got
        assert json.loads(got["body"])["report"]["notifications"] == 1
    assert door.handled == [json.loads(BODY)] * 4
    assert sorted(set(door.fetched)) == [PATH1, PATH2] and len(door.fetched) == 2   # each key fetched once


@pytest.mark.parametrize("case", ["forged", "swapped", "other-body", "none", "bad-path", "unknown-key",
                                  "junk-key", "other-recipient", "no-recipient"])
def test_a_delivery_that_is_not_ours_is_refused_and_nothing_is_decided(signers, case):
    door = Door(signers)
    good1, good2 = _sig(signers[0], BODY), _sig(signers[1], BODY)
    other = json.dumps({"recipient_client_id": "someone-else", "event": {}}).encode()
    event = {
        "forged": delivery(BODY, _sig(signers[2], BODY), _sig(signers[2], BODY)),
        "swapped": delivery(BODY, good2, good1),
        "other-body": delivery(BODY.replace(b"e1", b"e2"), good1, good2),
        "none": delivery(BODY, None, None),
        "bad-path": delivery(BODY, good1, good2, path1="/../keys/a.pem", path2="https://evil.example/k.pem"),
        "unknown-key": delivery(BODY, _sig(signers[2], BODY), None, path1="/prod/keys/pub-key-nope.pem"),
        "junk-key": delivery(BODY, good1, None, path1="/prod/keys/junk.pem"),
        "other-recipient": delivery(other, _sig(signers[0], other), None),
        "no-recipient": delivery(b'{"event": {}}', _sig(signers[0], b'{"event": {}}'), None),
    }[case]
    got = door.webhook.answer(event)
    assert got["statusCode"] == 401, got
    assert door.handled == []
    assert all(".." not in p and p.startswith("/prod/") for p in door.fetched)


def test_a_body_over_the_bound_is_refused_before_any_key_is_fetched(signers):
    door = Door(signers)
    big = json.dumps({"recipient_client_id": CLIENT, "pad": "x" * MAX_BODY_BYTES}).encode()
    assert door.webhook.answer(delivery(big, _sig(signers[0], big), None))["statusCode"] == 413
    encoded = {**delivery(BODY, _sig(signers[0], BODY), None), "isBase64Encoded": True,
               "body": base64.b64encode(BODY).decode()}
    assert door.webhook.answer(encoded)["statusCode"] == 200       # the same bytes, base64 through API Gateway
    assert door.webhook.answer({**encoded, "body": "%%%"})["statusCode"] == 413
    assert door.handled == [json.loads(BODY)]


def test_the_key_cache_is_bounded(signers):
    fetched: list[str] = []
    cache = KeyCache(lambda path: fetched.append(path) or _pem(signers[0]))
    for i in range(MAX_KEYS + 5):
        cache.get(f"/k/{i}.pem")
    cache.get(f"/k/{MAX_KEYS + 4}.pem")
    cache.get("/k/0.pem")                               # dropped, fetched again
    assert len(fetched) == MAX_KEYS + 6


def test_the_key_url_is_https_except_on_the_local_loopback(monkeypatch):
    monkeypatch.setenv("ALERTS_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:alerts")
    base = {"table_name": "t", "credentials_secret": "c", "token_cache_secret": "k",
            "alerts_topic_arn": "arn:aws:sns:us-east-1:123456789012:alerts"}
    assert WebhookSettings(**base).public_keys_url == "https://static.adobeioevents.com"
    assert WebhookSettings(**base, public_keys_url="http://127.0.0.1:8123/").public_keys_url == "http://127.0.0.1:8123"
    for url in ("http://static.adobeioevents.com", "http://127.0.0.1.evil.example"):
        with pytest.raises(SettingsError, match="AEP_EVENTS_PUBLIC_KEYS_URL"):
            WebhookSettings(**base, public_keys_url=url)
