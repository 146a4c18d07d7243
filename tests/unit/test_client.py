"""The AEP client against a scripted server on 127.0.0.1: headers, named errors,
what is retried and what is not, Retry-After, paging."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from aepflow.aep.client import AepClient
from aepflow.aep.ims import AepCredentials
from aepflow.core.errors import (
    AepAuthError,
    AepNotFound,
    AepPreconditionFailed,
    AepServerError,
    AepThrottled,
    AepValidationError,
)
from aepflow.core.settings import Settings


class Script:
    """Answers requests from a queue of (status, body, headers); records what arrived."""

    def __init__(self):
        self.answers: list[tuple[int, object, dict]] = []
        self.seen: list[dict] = []


@pytest.fixture()
def server():
    script = Script()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else None
            script.seen.append({"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body})
            status, payload, headers = script.answers.pop(0) if script.answers else (200, {}, {})
            data = json.dumps(payload).encode() if payload is not None else b""
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = do_DELETE = _answer

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    # Polled every 20 ms for shutdown (the default 0.5 s is waited for by every test's teardown).
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    script.url = f"http://127.0.0.1:{httpd.server_port}"
    yield script
    httpd.shutdown()
    httpd.server_close()


class StaticTokens:
    def __init__(self):
        self.invalidated = 0

    def token(self):
        return "token-1" if not self.invalidated else "token-2"

    def invalidate(self):
        self.invalidated += 1


def client_for(script, sleeps=None):
    settings = Settings(platform_url=script.url, ims_url=script.url, credentials_secret="c", token_cache_secret="t",
                        table_name="x", connect_timeout=2, read_timeout=5, max_attempts=4, backoff_base_seconds=0.01,
                        backoff_cap_seconds=5)
    creds = AepCredentials("client-id", "client-secret", "ORG@AdobeOrg", "openid", "prod")
    recorded = sleeps if sleeps is not None else []
    return AepClient(settings, creds, StaticTokens(), sandbox="Dev", sleep=recorded.append)


FLOW_404 = {"type": "https://ns.adobe.com/aep/errors/FLOW-1439-404", "title": "Resource not found", "status": 404,
            "report": {"detailed-message": "Flow x not found", "request-id": "req-123"}}


def test_every_call_carries_the_aep_headers(server):
    client_for(server).post("flowservice", "/flows", json={"name": "x"})
    headers = {k.lower(): v for k, v in server.seen[0]["headers"].items()}
    assert server.seen[0]["path"] == "/data/foundation/flowservice/flows"
    assert headers["authorization"] == "Bearer token-1" and headers["x-api-key"] == "client-id"
    assert headers["x-gw-ims-org-id"] == "ORG@AdobeOrg" and headers["x-sandbox-name"] == "dev"
    assert headers["content-type"] == "application/json"


def test_schema_registry_calls_send_an_accept_header(server):
    client_for(server).get("schemaregistry", "/tenant/schemas")
    assert server.seen[0]["headers"]["Accept"] == "application/vnd.adobe.xed-id+json"


@pytest.mark.parametrize("status, body, error, code", [
    (404, FLOW_404, AepNotFound, "FLOW-1439-404"),
    (400, {"type": "http://ns.adobe.com/aep/errors/XDM-1521-400", "title": "Bad", "report": {"registryRequestId": "r"},
           "detail": "title exists"}, AepValidationError, "XDM-1521-400"),
    (401, {"error_code": "401013", "message": "Oauth token is not valid"}, AepAuthError, "401013"),
    (412, {"type": "https://ns.adobe.com/aep/errors/FLOW-1404-412", "title": "Version not matching", "status": 412},
     AepPreconditionFailed, "FLOW-1404-412"),
])
def test_error_bodies_become_named_errors_with_code_and_request_id(server, status, body, error, code):
    server.answers = [(status, body, {})] * 3
    with pytest.raises(error) as caught:
        client_for(server).get("flowservice", "/flows/x")
    assert caught.value.code == code and caught.value.status == status
    if status == 404:
        assert caught.value.request_id == "req-123" and "Flow x not found" in caught.value.message


def test_a_401_refreshes_the_token_once(server):
    server.answers = [(401, {"error_code": "401013", "message": "Oauth token is not valid"}, {}), (200, {"ok": 1}, {})]
    assert client_for(server).get("flowservice", "/flows") == {"ok": 1}
    assert server.seen[1]["headers"]["Authorization"] == "Bearer token-2"


def test_get_is_retried_on_5xx_and_429_honouring_retry_after(server):
    sleeps: list[float] = []
    server.answers = [(503, None, {}), (429, {"error_code": "429"}, {"Retry-After": "2"}), (200, {"items": []}, {})]
    assert client_for(server, sleeps).get("flowservice", "/flows") == {"items": []}
    assert len(server.seen) == 3 and 2.0 <= sleeps[1] <= 2.1


def test_post_is_not_retried_on_5xx_so_the_caller_can_look_it_up(server):
    server.answers = [(504, None, {}), (201, {"id": "x"}, {})]
    with pytest.raises(AepServerError):
        client_for(server).post("flowservice", "/flows", json={})
    assert len(server.seen) == 1


def test_post_is_retried_on_429_because_aep_did_not_apply_it(server):
    server.answers = [(429, None, {"Retry-After": "0"}), (201, {"id": "x"}, {})]
    assert client_for(server).post("flowservice", "/flows", json={}) == {"id": "x"}


def test_retries_are_bounded(server):
    server.answers = [(429, None, {"Retry-After": "0"})] * 10
    with pytest.raises(AepThrottled):
        client_for(server).get("flowservice", "/flows")
    assert len(server.seen) == 4


def test_paginate_follows_links_next(server):
    server.answers = [
        (200, {"items": [{"id": 1}], "_links": {"next": {"href": "/flows?continuationToken=abc&property=x"}}}, {}),
        (200, {"items": [{"id": 2}], "_links": {}}, {})]
    items = list(client_for(server).paginate("flowservice", "/flows", params=[("property", "name==a")]))
    assert [i["id"] for i in items] == [1, 2]
    assert "continuationToken=abc" in server.seen[1]["path"] and "property=name%3D%3Da" in server.seen[1]["path"]


def test_ids_become_one_encoded_segment_and_unsafe_paths_are_refused():
    from aepflow.aep.client import _check_path, segment

    assert segment("../../flowservice/flows") == "..%2F..%2Fflowservice%2Fflows"
    assert segment("x?properties=x&limit=1") == "x%3Fproperties%3Dx%26limit%3D1"
    assert segment("https://ns.adobe.com/acme/schemas/1") == "https%3A%2F%2Fns.adobe.com%2Facme%2Fschemas%2F1"
    _check_path(f"/dataSets/{segment('../../flowservice/flows')}")
    for unsafe in ("/dataSets/../flows", "/dataSets/./x", "/a//b", "/flows?limit=1", "/flows#x", "flows"):
        with pytest.raises(ValueError):
            _check_path(unsafe)


class _OneSecret:
    """A stand-in for Powertools' SecretsProvider holding one value, as its JSON transform returns it."""

    def __init__(self, value):
        self.value = value

    def get(self, name, transform=None, max_age=None):
        return self.value


@pytest.mark.parametrize("value, says", [
    (["clientId", "clientSecret"], "is not a JSON object with clientId, clientSecret and orgId"),
    ("s3cr3t-value", "is not a JSON object"),
    ({"clientId": "c", "orgId": "o"}, "lacks clientSecret"),
    ({"clientId": "c", "clientSecret": {"nested": "s3cr3t-value"}, "orgId": "o"}, "clientSecret must be text"),
])
def test_a_malformed_aep_credentials_secret_says_what_is_wrong_never_its_value(value, says):
    from aepflow.aep.ims import load_credentials
    from aepflow.core.errors import AepAuthError

    settings = Settings(platform_url="http://127.0.0.1:9", ims_url="http://127.0.0.1:9", credentials_secret="aep/x",
                        token_cache_secret="t", table_name="x", connect_timeout=2, read_timeout=5, max_attempts=4,
                        backoff_base_seconds=0.01, backoff_cap_seconds=5)
    with pytest.raises(AepAuthError) as refused:
        load_credentials(settings, _OneSecret(value))
    assert says in refused.value.message and "s3cr3t" not in refused.value.message
