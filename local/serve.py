"""`python -m local serve`: the local stack kept up, with two doors open on 127.0.0.1:

- the API: every HTTP request becomes an API Gateway (REST, proxy) event for the function
  that template.yaml routes it to, and the function's answer becomes the HTTP response;
- AWS: moto's server, sharing the in-process backends, so a boto3 client (or the aws CLI, with
  --endpoint-url) in another process can put spec objects in the specs bucket (which reach the
  intake through EventBridge) or source secrets in Secrets Manager (`python -m local secret put`).

Local-only controls, which are not the product's API (not in openapi.json; under /_local/, a path
template.yaml routes nothing to, so a deployed stack answers 403 Missing Authentication Token):

- GET /_local/clock: the emulated clock; POST /_local/clock {"minutes": N}: time passes (the
  emulator makes the runs that became due, the run monitor polls at each of its intervals:
  local/clock.py ScheduleClock), so `aepflow runs NAME` and the monitor's alerts show something.
  `serve --clock-speed N` moves it N emulated minutes per real second instead, in the background.

API Gateway's IAM authorization is emulated as far as the signature goes (local/sigv4.py): every
request must be signed with Signature Version 4 for execute-api in us-east-1 with the local key
`testing`/`testing` (local.sigv4.LOCAL_ACCESS_KEY), as a deployed stack wants it signed with the
caller's own; IAM policies are not evaluated."""

from __future__ import annotations

import base64
import json
import signal
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from local import sigv4
from local.clock import ScheduleClock
from local.stack import ACCOUNT, REGION, LocalStack

STAGE = "v1"
# Where the local-only controls live (see the module docstring).
LOCAL_CONTROLS = "/_local/"
# The most one POST /_local/clock moves the clock: a week, polled at the monitor's every interval.
MAX_CLOCK_MINUTES = 7 * 24 * 60


def proxy_event(method: str, path: str, *, query: list[tuple[str, str]] | None = None,
                headers: dict[str, str] | None = None, body: bytes | str | None = None,
                resource: str | None = None, path_parameters: dict[str, str] | None = None,
                source_ip: str = "127.0.0.1") -> dict[str, Any]:
    """An API Gateway REST proxy event, as Lambda receives it."""
    headers = dict(headers or {})
    query = list(query or [])
    multi_query: dict[str, list[str]] = {}
    for key, value in query:
        multi_query.setdefault(key, []).append(value)
    encoded = False
    text: str | None = None
    if isinstance(body, bytes) and body:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            text, encoded = base64.b64encode(body).decode(), True
    elif isinstance(body, str) and body:
        text = body
    now = time.time()
    return {
        "resource": resource or path,
        "path": path,
        "httpMethod": method.upper(),
        "headers": headers or None,
        "multiValueHeaders": {k: [v] for k, v in headers.items()} or None,
        "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": path_parameters or None,
        "stageVariables": None,
        "requestContext": {
            "resourceId": "local", "resourcePath": resource or path, "httpMethod": method.upper(),
            "extendedRequestId": uuid.uuid4().hex[:16],
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "path": f"/{STAGE}{path}", "accountId": ACCOUNT, "protocol": "HTTP/1.1", "stage": STAGE,
            "domainPrefix": "local", "requestTimeEpoch": int(now * 1000), "requestId": str(uuid.uuid4()),
            "identity": {"sourceIp": source_ip, "userAgent": headers.get("User-Agent") or headers.get("user-agent"),
                         "accountId": ACCOUNT, "caller": "local", "user": "local",
                         "userArn": f"arn:aws:iam::{ACCOUNT}:user/local", "accessKey": None,
                         "cognitoIdentityPoolId": None, "cognitoIdentityId": None,
                         "cognitoAuthenticationType": None, "cognitoAuthenticationProvider": None},
            "domainName": "127.0.0.1", "apiId": "local",
        },
        "body": text,
        "isBase64Encoded": encoded,
    }


def _answer(status: int, payload: Any) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": "application/json"}, json.dumps(payload).encode()


def dispatch(stack: LocalStack, method: str, raw_path: str, headers: dict[str, str],
             body: bytes | None, clock: ScheduleClock | None = None) -> tuple[int, dict[str, str], bytes]:
    """One HTTP request through the template's API routes (or, given the served stack's `clock`,
    to a local-only control): (status, headers, body)."""
    parts = urlsplit(raw_path)
    path = parts.path.rstrip("/") or "/"
    if path.startswith(f"/{STAGE}/"):
        path = path[len(STAGE) + 1:]
    found = stack.api_route(method, path)
    control = clock is not None and (path + "/").startswith(LOCAL_CONTROLS)
    if found is None and not control:
        # What API Gateway answers (through the template's DEFAULT_4XX response) for an unknown route.
        return _answer(403, {"code": "MISSING_AUTHENTICATION_TOKEN", "message": "Missing Authentication Token"})
    refused = sigv4.verify(method, parts.path, parts.query, headers, body or b"", region=REGION,
                           keys={sigv4.LOCAL_ACCESS_KEY: sigv4.LOCAL_SECRET_KEY})
    if refused is not None:  # what the template's DEFAULT_4XX gateway response makes of it
        return _answer(403, {"code": refused[0], "message": refused[1]})
    if found is None:
        assert clock is not None
        return _control(clock, method, path, body)
    route, params = found
    event = proxy_event(method, path, query=parse_qsl(parts.query, keep_blank_values=True), headers=headers,
                        body=body, resource=route["path"], path_parameters=params)
    result, failed = stack.invoke(route["function"], event)
    if failed or not isinstance(result, dict) or "statusCode" not in result:
        payload = {"code": "INTEGRATION_FAILURE", "message": "Internal server error"}
        return 502, {"Content-Type": "application/json"}, json.dumps(payload).encode()
    out_headers = {k: str(v) for k, v in (result.get("headers") or {}).items()}
    for key, values in (result.get("multiValueHeaders") or {}).items():
        out_headers[key] = ", ".join(str(v) for v in values)
    data = result.get("body") or ""
    raw = base64.b64decode(data) if result.get("isBase64Encoded") else str(data).encode()
    return int(result["statusCode"]), out_headers, raw


def _control(clock: ScheduleClock, method: str, path: str, body: bytes | None) -> tuple[int, dict[str, str], bytes]:
    """A local-only control: GET or POST /_local/clock."""
    if path != LOCAL_CONTROLS + "clock":
        return _answer(404, {"code": "NOT_FOUND",
                             "message": f"no local control {path} (there is {LOCAL_CONTROLS}clock)"})
    if method == "GET":
        return _answer(200, clock.now())
    if method != "POST":
        return _answer(405, {"code": "METHOD_NOT_ALLOWED", "message": "GET or POST /_local/clock"})
    try:
        asked = json.loads(body or b"null")
    except ValueError:
        asked = None
    if not isinstance(asked, dict) or set(asked) != {"minutes"}:
        return _answer(400, {"code": "INVALID_REQUEST", "message": '(body): expected {"minutes": N}'})
    minutes = asked["minutes"]
    if isinstance(minutes, bool) or not isinstance(minutes, (int, float)) or not 0 < minutes <= MAX_CLOCK_MINUTES:
        return _answer(400, {"code": "INVALID_REQUEST",
                             "message": f"minutes: expected a number above 0 and at most {MAX_CLOCK_MINUTES} (a week)"})
    return _answer(200, clock.advance(minutes))


def _handler_class(stack: LocalStack, clock: ScheduleClock | None = None):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):  # stdout carries the first JSON line only
            pass

        def _handle(self, with_body: bool = True) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            status, headers, data = dispatch(stack, self.command, self.path, dict(self.headers.items()), body,
                                             clock)
            self.send_response(status)
            for key, value in headers.items():
                if key.lower() not in ("content-length", "connection"):
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if with_body:
                self.wfile.write(data)

        def do_HEAD(self) -> None:  # the answer's headers, without its body
            self._handle(with_body=False)

        do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = do_OPTIONS = _handle

    return Handler


class Server:
    """The local stack plus the two HTTP doors; a context manager. Given a running `stack`,
    the doors open on it (and it stays up when they close); otherwise the server makes its own.
    With `clock_speed` (emulated minutes per real second), a thread moves the clock meanwhile."""

    def __init__(self, *, port: int = 0, secrets: dict[str, Any] | None = None, stack: LocalStack | None = None,
                 sources: dict[str, Any] | None = None, clock_speed: float = 0.0,
                 parameters: dict[str, str] | None = None, files: str | None = None):
        if clock_speed < 0:
            raise ValueError("clock_speed: emulated minutes per real second, 0 or more")
        self.port, self.secrets, self.sources, self.clock_speed = port, secrets, sources, clock_speed
        self.parameters = parameters  # the template's (LogLevel, ...), for a stack of its own
        self.files = files  # a folder of one's own S3 buckets (local/source_files.py)
        self.stack: LocalStack | None = stack
        self._own_stack = stack is None
        self._ticking: threading.Thread | None = None
        self._stop_ticking = threading.Event()

    def __enter__(self) -> Server:
        from moto.server import ThreadedMotoServer

        if self._own_stack:
            self.stack = LocalStack(secrets=self.secrets, sources=self.sources,
                                    parameters=self.parameters, files=self.files).__enter__()
        assert self.stack is not None
        try:
            self.moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
            self.moto.start()
            host, s3_port = self.moto.get_host_and_port()
            self.clock = ScheduleClock(self.stack)
            self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), _handler_class(self.stack, self.clock))
            self.httpd.daemon_threads = True
            self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02},
                                            daemon=True)
            self._thread.start()
        except BaseException:
            if self._own_stack:
                self.stack.__exit__(None, None, None)
            raise
        api, aws = f"http://127.0.0.1:{self.httpd.server_address[1]}", f"http://{host}:{s3_port}"
        # "aws": every AWS service's endpoint (S3, Secrets Manager, ...); "s3" is the same, kept for scripts.
        self.info = {"api": api, "aws": aws, "s3": aws, "bucket": self.stack.buckets["SpecsBucket"],
                     "sourceSecretsPrefix": self.stack.refs["SourceSecretsPrefix"], "clock": f"{api}/_local/clock",
                     "clockSpeed": self.clock_speed}
        if self.clock_speed:
            self._ticking = threading.Thread(target=self.clock.run, args=(self.clock_speed, self._stop_ticking),
                                             name="local-clock", daemon=True)
            self._ticking.start()
        return self

    def __exit__(self, *exc) -> None:
        try:
            self._stop_ticking.set()
            if self._ticking is not None:
                self._ticking.join()  # a poll under way ends before the stack does
            self.httpd.shutdown()
            self.httpd.server_close()
            self.moto.stop()
        finally:
            assert self.stack is not None
            if self._own_stack:
                self.stack.__exit__(*exc)


def serve(out, *, port: int = 0, secrets: dict[str, Any] | None = None, ready: threading.Event | None = None,
          stop: threading.Event | None = None, sources: dict[str, Any] | None = None, clock_speed: float = 0.0,
          parameters: dict[str, str] | None = None, files: str | None = None) -> int:
    """Print the doors as one JSON line, then serve until interrupted (or `stop` is set)."""
    with Server(port=port, secrets=secrets, sources=sources, clock_speed=clock_speed,
                parameters=parameters, files=files) as server:
        out.write(json.dumps(server.info) + "\n")
        out.flush()
        if ready:
            ready.set()
        stop = stop or threading.Event()
        if threading.current_thread() is threading.main_thread():
            # SIGINT too: a shell starts background jobs with SIGINT ignored.
            for signum in (signal.SIGINT, signal.SIGTERM):
                signal.signal(signum, lambda *_: stop.set())
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
    return 0
