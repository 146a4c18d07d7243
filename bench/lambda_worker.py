"""A warm Lambda container for the benchmarks: one process per function, one invocation at a time.

Reads JSON lines on stdin ({code_uri, handler, name, memory, timeout, event}), runs the handler
template.yaml names, and writes one JSON line per invocation: the result (or the error), the
handler's wall time (and how much of it went on waiting for AEP and for AWS), and the
process's peak resident memory during the invocation (VmHWM,
reset before each one through /proc/self/clear_refs), which is what Lambda reports as "Max
Memory Used" for a warm container. AWS calls go to AWS_ENDPOINT_URL (a moto server)."""

from __future__ import annotations

import cProfile
import json
import os
import sys
import time

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
        import requests

        self.aep = self.aws = 0.0
        aep_urls = tuple(u for u in (os.environ.get("AEP_PLATFORM_URL"), os.environ.get("AEP_IMS_URL")) if u)
        real_request, real_send = requests.Session.request, botocore.httpsession.URLLib3Session.send
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

        requests.Session.request = request
        botocore.httpsession.URLLib3Session.send = send

    def reset(self) -> None:
        self.aep = self.aws = 0.0


def main() -> int:
    from local.stack import FakeLambdaContext, load_handler

    waits = Waits()

    out = sys.stdout
    sys.stdout = sys.stderr  # handlers' prints and logs stay off the protocol channel
    for line in sys.stdin:
        request = json.loads(line)
        handler = load_handler(request["code_uri"], request["handler"])
        context = FakeLambdaContext(request["name"], request["memory"], request["timeout"])
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
