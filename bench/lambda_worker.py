"""A warm Lambda container for the benchmarks: one process per function, one invocation at a time.

Reads JSON lines on stdin ({code_uri, handler, name, memory, timeout, event}), runs the handler
template.yaml names, and writes one JSON line per invocation: the result (or the error), the
handler's wall time, and the process's peak resident memory during the invocation (VmHWM,
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


def main() -> int:
    from local.stack import FakeLambdaContext, load_handler

    out = sys.stdout
    sys.stdout = sys.stderr  # handlers' prints and logs stay off the protocol channel
    for line in sys.stdin:
        request = json.loads(line)
        handler = load_handler(request["code_uri"], request["handler"])
        context = FakeLambdaContext(request["name"], request["memory"], request["timeout"])
        profile = cProfile.Profile() if PROFILE_DIR else None
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
        if profile:
            profile.dump_stats(os.path.join(PROFILE_DIR, f"{request['name']}-{time.time_ns()}.prof"))
        answer["peakMb"] = _hwm_kb() / 1024
        out.write(json.dumps(answer, default=str) + "\n")
        out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
