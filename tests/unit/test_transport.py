"""aepflow.transport: what the AEP client and the token provider rely on from HTTP, on 127.0.0.1."""

from __future__ import annotations

import gzip
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from aepflow.aep.transport import ConnectFailed, ConnectTimeout, HttpSession, ReadTimeout

TIMEOUT = (1.0, 1.0)


class Echo(BaseHTTPRequestHandler):
    def log_message(self, *args):  # quiet
        pass

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode()
        if self.path.startswith("/redirect"):
            self.send_response(302)
            self.send_header("Location", "/elsewhere")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        payload = json.dumps({"method": self.command, "query": parse_qs(urlsplit(self.path).query),
                              "contentType": self.headers.get("Content-Type"), "body": body,
                              "auth": self.headers.get("Authorization"),
                              "acceptEncoding": self.headers.get("Accept-Encoding")}).encode()
        if "gzip" in (self.headers.get("Accept-Encoding") or ""):
            payload = gzip.compress(payload)
        self.send_response(200)
        if payload[:2] == b"\x1f\x8b":
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Retry-After", "3")
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PATCH = _answer


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_query_json_and_form_bodies_are_sent_as_requests_sent_them(server):
    session = HttpSession()
    got = session.request("GET", f"{server}/flows", params=[("property", "a==1"), ("property", "b==2"),
                                                            ("limit", 5), ("skipped", None)],
                          headers={"Authorization": "Bearer t"}, timeout=TIMEOUT).json()
    assert got["query"] == {"property": ["a==1", "b==2"], "limit": ["5"]} and got["auth"] == "Bearer t"
    assert got["acceptEncoding"] == "gzip, deflate"  # asked compressed, read decoded
    got = session.request("PATCH", f"{server}/flows/x", json={"op": "replace", "n": [1]}, timeout=TIMEOUT).json()
    assert json.loads(got["body"]) == {"op": "replace", "n": [1]} and got["contentType"] == "application/json"
    answer = session.post(f"{server}/ims/token/v3", data={"client_secret": "a&b=c"}, timeout=TIMEOUT)
    assert parse_qs(answer.json()["body"]) == {"client_secret": ["a&b=c"]}
    assert answer.json()["contentType"] == "application/x-www-form-urlencoded"
    assert answer.headers.get("retry-after") == "3" and dict(answer.headers)["Retry-After"] == "3"


def test_a_redirect_is_an_answer_not_something_to_follow_with_a_bearer_token(server):
    answer = HttpSession().request("GET", f"{server}/redirect", headers={"Authorization": "Bearer t"}, timeout=TIMEOUT)
    assert answer.status_code == 302 and answer.content == b""
    with pytest.raises(ValueError):
        answer.json()


def test_a_refused_connection_is_a_failed_connection_not_a_timeout():
    with socket.socket() as bound:  # bound, never listening: the kernel refuses at once
        bound.bind(("127.0.0.1", 0))
        with pytest.raises(ConnectFailed) as raised:
            HttpSession().request("POST", f"http://127.0.0.1:{bound.getsockname()[1]}/flows", json={},
                                  timeout=TIMEOUT)
    assert not isinstance(raised.value, ConnectTimeout)


def test_no_answer_in_time_is_a_read_timeout():
    with socket.socket() as silent:  # accepts (the backlog does), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        with pytest.raises(ReadTimeout):
            HttpSession().request("GET", f"http://127.0.0.1:{silent.getsockname()[1]}/flows", timeout=(1.0, 0.05))

