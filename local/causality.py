"""Which AEP request could only start after which other one ended, read from the program's own
synchronisation instead of the wall clock.

A test that asks "do independent requests overlap?" by timing them with an injected latency
passes or fails with the machine's load: a parallel branch that a busy CPU (or a garbage
collection) delays by more than the latency starts after its sibling ended, and the chain
looks one step longer. Here each thread carries a logical clock (Lamport's): an AEP request
starts at its thread's time and ends one step later; the time flows from thread to thread only
along the edges that order work in the program:

- a thread starts at the time of the thread that started it, and a join takes the joined
  thread's end time (moto's Program.eval joins its worker);
- the branches of a Parallel state hand their end times to the state through moto's
  BranchWorkerPool, which the state waits on;
- ThreadPoolExecutor: a task starts at the time of its submitter, and `future.result()` takes
  the task's end time (aepflow.provisioning's find-existing);
- a set Event hands its setter's time to whoever its wait returned for;
- an IMS token is ready at the time its request ended; whoever uses the token waits for it.

The longest chain over these requests is the depth of AEP's dependent calls, the same on an
idle machine and a loaded one. A lock that serialised independent requests would not show
here (no edge is drawn through locks): wall-clock timings belong in bench/."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from typing import Any
from unittest import mock

_clock = threading.local()


def now() -> int:
    return getattr(_clock, "t", 0)


def _at_least(t: int) -> None:
    if t > now():
        _clock.t = t


class CausalRequests:
    """The AEP requests made while `tracing()` is active, each with logical startedAt/endedAt."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def add(self, method: str, url: str, start: int) -> None:
        with self._lock:
            self.requests.append({"method": method.upper(), "path": url[len(self.base_url):].split("?", 1)[0],
                                  "startedAt": start, "endedAt": start + 1})


Patch = tuple[Any, str, Any]  # (owner, attribute, replacement)


def _thread_patches() -> list[Patch]:
    """A thread starts at the time of the thread that started it; a join takes its end time."""
    thread_start, thread_join = threading.Thread.start, threading.Thread.join

    def start(thread):
        begin, run = now(), thread.run

        def run_from_begin():
            _clock.t = begin
            try:
                run()
            finally:
                thread._causal_end = now()
        thread.run = run_from_begin
        thread_start(thread)

    def join(thread, timeout=None):
        thread_join(thread, timeout)
        if not thread.is_alive():
            _at_least(getattr(thread, "_causal_end", 0))

    return [(threading.Thread, "start", start), (threading.Thread, "join", join)]


def _event_patches() -> list[Patch]:
    """A set Event hands its setter's time to whoever its wait returned for."""
    event_set, event_wait = threading.Event.set, threading.Event.wait

    def set_event(event):
        event._causal_time = max(getattr(event, "_causal_time", 0), now())
        event_set(event)

    def wait_event(event, timeout=None):
        happened = event_wait(event, timeout)
        if happened:
            _at_least(getattr(event, "_causal_time", 0))
        return happened

    return [(threading.Event, "set", set_event), (threading.Event, "wait", wait_event)]


def _executor_patches() -> list[Patch]:
    """A task starts at the time of its submitter, and `future.result()` takes the task's end time."""
    submit, result = ThreadPoolExecutor.submit, Future.result

    def submit_task(pool, fn, /, *args, **kwargs):
        begin, end = now(), {}

        def task(*a, **k):
            _clock.t = begin  # a pool thread is reused: it works at its submitter's time
            try:
                return fn(*a, **k)
            finally:
                end["t"] = now()
        future = submit(pool, task, *args, **kwargs)
        future._causal_end = end
        return future

    def task_result(future, timeout=None):
        try:
            return result(future, timeout)
        finally:
            _at_least(getattr(future, "_causal_end", {}).get("t", 0))

    return [(ThreadPoolExecutor, "submit", submit_task), (Future, "result", task_result)]


def _branch_patches() -> list[Patch]:
    """The branches of a Parallel state hand their end times to the state, which waits on them."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_parallel.branches_decl import BranchWorkerPool

    branch_done, branches_wait = BranchWorkerPool.on_terminated, BranchWorkerPool.wait

    def branch_terminated(pool, env):
        pool._causal_time = max(getattr(pool, "_causal_time", 0), now())
        return branch_done(pool, env)

    def branches_done(pool):
        branches_wait(pool)
        _at_least(getattr(pool, "_causal_time", 0))

    return [(BranchWorkerPool, "on_terminated", branch_terminated), (BranchWorkerPool, "wait", branches_done)]


def _aep_patches(log: CausalRequests) -> list[Patch]:
    """AEP requests are logged at their thread's time; an IMS token is ready when its request ended."""
    from aepflow.aep.ims import TokenProvider
    from aepflow.aep.transport import HttpSession

    send, ask_ims, token = HttpSession.request, TokenProvider._ask_ims, TokenProvider.token
    ready: dict[str, int] = {}  # IMS token -> the time it became available

    def request(session, method, url, *args, **kwargs):
        if not str(url).startswith(log.base_url):
            return send(session, method, url, *args, **kwargs)
        begin = now()
        try:
            return send(session, method, url, *args, **kwargs)
        finally:
            log.add(method, str(url), begin)
            _at_least(begin + 1)

    def ims(provider):
        answer = ask_ims(provider)
        ready[answer[0]] = now()
        return answer

    def use_token(provider):
        value = token(provider)
        _at_least(ready.get(value, 0))
        return value

    return [(HttpSession, "request", request), (TokenProvider, "_ask_ims", ims),
            (TokenProvider, "token", use_token)]


@contextmanager
def tracing(log: CausalRequests) -> Iterator[CausalRequests]:
    replacements = [*_thread_patches(), *_event_patches(), *_executor_patches(), *_branch_patches(),
                    *_aep_patches(log)]
    with ExitStack() as patches:
        for owner, name, replacement in replacements:
            patches.enter_context(mock.patch.object(owner, name, replacement))
        yield log
