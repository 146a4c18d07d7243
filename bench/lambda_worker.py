"""A warm Lambda container for the benchmarks: one process per function, one invocation at a time.

Reads JSON lines on stdin ({code_uri, handler, name, memory, timeout, event}), runs the handler
template.yaml names, and writes one JSON line per invocation: the result (or the error), the
handler's wall time (and how much of it went on waiting for AEP and for AWS), and the
process's peak resident memory during the invocation (VmHWM,
reset before each one through /proc/self/clear_refs), which is what Lambda reports as "Max
Memory Used" for a warm container. AWS calls go to AWS_ENDPOINT_URL (a moto server)."""

from __future__ import annotations

import cProfile
import importlib.util
import json
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# BENCH_PROFILE_DIR=dir: write a cProfile of every invocation there (to find where the time goes).
PROFILE_DIR = os.environ.get("BENCH_PROFILE_DIR")


def _hwm_kb() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))


def _reset_hwm() -> None:
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")  # reset the peak RSS to the current RSS (Linux >= 4.0)
    except OSError:
        pass


class Waits:
    """Seconds spent waiting on AEP (requests to AEP_PLATFORM_URL or AEP_IMS_URL) and on AWS
    (every botocore HTTP request) during an invocation: the rest is the function's own work."""

    def __init__(self) -> None:
        import botocore.httpsession

        from aepflow.aep.transport import HttpSession

        self.aep = self.aws = 0.0
        aep_urls = tuple(u for u in (os.environ.get("AEP_PLATFORM_URL"), os.environ.get("AEP_IMS_URL")) if u)
        real_request, real_send = HttpSession.request, botocore.httpsession.URLLib3Session.send
        waits = self

        def request(session, method, url, *args, **kwargs):
            started = time.perf_counter()
            try:
                return real_request(session, method, url, *args, **kwargs)
            finally:
                if str(url).startswith(aep_urls):
                    waits.aep += time.perf_counter() - started

        def send(http, request):
            started = time.perf_counter()
            try:
                return real_send(http, request)
            finally:
                waits.aws += time.perf_counter() - started

        HttpSession.request = request
        botocore.httpsession.URLLib3Session.send = send

    def reset(self) -> None:
        self.aep = self.aws = 0.0


class Context:
    """What Powertools and the handlers read of a LambdaContext, with a real deadline. (Not the
    local stack's own: importing local.stack would add its modules to the memory measured.)"""

    def __init__(self, name: str, memory_mb: int, timeout_s: int):
        self.function_name, self.memory_limit_in_mb, self.function_version = name, memory_mb, "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
        self.aws_request_id = str(time.time_ns())
        self.log_group_name, self.log_stream_name = f"/aws/lambda/{name}", "bench"
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _handler(code_uri: str, handler: str, loaded: dict):
    """The handler template.yaml names (CodeUri + Handler), imported once, as Lambda does."""
    if (code_uri, handler) not in loaded:
        module_name, func_name = handler.rsplit(".", 1)
        path = os.path.join(ROOT, code_uri, module_name.replace(".", "/") + ".py")
        spec = importlib.util.spec_from_file_location("bench_fn_" + code_uri.strip("/").replace("/", "_"), path)
        assert spec and spec.loader, path
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        loaded[(code_uri, handler)] = getattr(module, func_name)
    return loaded[(code_uri, handler)]


def main() -> int:
    waits = Waits()
    loaded: dict = {}

    out = sys.stdout
    sys.stdout = sys.stderr  # handlers' prints and logs stay off the protocol channel
    for line in sys.stdin:
        request = json.loads(line)
        handler = _handler(request["code_uri"], request["handler"], loaded)
        context = Context(request["name"], request["memory"], request["timeout"])
        profile = cProfile.Profile() if PROFILE_DIR else None
        waits.reset()
        _reset_hwm()
        started = time.perf_counter()
        try:
            if profile:
                profile.enable()
            answer = {"result": handler(request["event"], context)}
        except Exception as exc:  # the Lambda runtime's shape for an unhandled error
            answer = {"error": {"errorType": type(exc).__name__, "errorMessage": str(exc)[:2000]}}
        finally:
            if profile:
                profile.disable()
        answer["wallSeconds"] = time.perf_counter() - started
        answer["aepWaitSeconds"], answer["awsWaitSeconds"] = waits.aep, waits.aws
        if profile:
            profile.dump_stats(os.path.join(PROFILE_DIR, f"{request['name']}-{time.time_ns()}.prof"))
        answer["peakMb"] = _hwm_kb() / 1024
        out.write(json.dumps(answer, default=str) + "\n")
        out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
