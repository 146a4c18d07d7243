"""Emulated time for the local stack: a sleep that only waits for time to pass (the AEP
client's backoff and Retry-After, the IMS token retry, moto's Step Functions Retry and Wait)
advances an emulated clock instead of the wall clock.

What the sleep stands for still happens: the retry is made, in the same order, after the same
attempts; only the wait is skipped. Every emulated sleep is recorded (`clock.sleeps`), so a
test can check that a retry waited as long as AEP's Retry-After asked.

The emulator's injected latency (`latency_ms`) stays real: it is what makes concurrent
requests overlap, which tests of the longest sequential chain measure.

ScheduleClock is the other time, that of the served stack's schedules: the emulator's clock
(which makes the flows' runs) moved on, and the run monitor polled at its interval."""

from __future__ import annotations

import logging
import threading
import time
import types
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any
from unittest import mock


class EmulatedClock:
    """Sleeps that return at once and are counted. Safe to share between threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        seconds = max(0.0, float(seconds))
        with self._lock:
            self.sleeps.append(seconds)
        time.sleep(0)  # let other threads run, as a real sleep would

    @property
    def slept(self) -> float:
        """Emulated seconds slept so far, by every thread together."""
        with self._lock:
            return sum(self.sleeps)

    def clear(self) -> None:
        with self._lock:
            self.sleeps.clear()


def _time_module_with(sleep) -> types.SimpleNamespace:
    """The `time` module as a module that calls `time.sleep(...)` sees it, with another sleep."""
    return types.SimpleNamespace(**{**vars(time), "sleep": sleep})


@contextmanager
def sleeps_on(clock: EmulatedClock) -> Iterator[EmulatedClock]:
    """While active, the layer's and moto's waits are emulated sleeps on `clock`."""
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction

    from aepflow.aep import ims
    from aepflow.aep.client import AepClient

    real_init = AepClient.__init__

    def client_init(client, *args, sleep=None, **kwargs):
        # A client built with the default (real) sleep gets the clock's; an explicit one is kept.
        real_init(client, *args, sleep=clock.sleep if sleep in (None, time.sleep) else sleep, **kwargs)

    def wait_state(function, env, wait_seconds):  # a Wait state: emulated, then on to the next state
        clock.sleep(wait_seconds)

    with ExitStack() as patches:
        patches.enter_context(mock.patch.object(AepClient, "__init__", client_init))
        patches.enter_context(mock.patch.object(ims, "time", _time_module_with(clock.sleep)))
        patches.enter_context(mock.patch.object(retrier_decl, "time", _time_module_with(clock.sleep)))
        patches.enter_context(mock.patch.object(WaitFunction, "_wait_interval", wait_state))
        yield clock


class ScheduleClock:
    """The served stack's time passing, as a deployed stack's would: the emulator's clock (which
    makes each flow's runs as it passes their schedule's intervals) moves on, and the run monitor
    polls each time its schedule's interval (template.yaml's MonitorIntervalMinutes) goes by, as
    EventBridge Scheduler would start it (LocalStack.run_monitor).

    Moved by `advance(minutes)` (POST /_local/clock) or, with `run(speed, stop)`, by a thread at
    `speed` emulated minutes per real second. One advance at a time (a lock); the HTTP server's
    threads go on serving meanwhile, as AEP and the monitor would."""

    def __init__(self, stack: Any, poll_minutes: int | None = None):
        """`poll_minutes`: the monitor's interval (default: the template's MonitorIntervalMinutes)."""
        self.stack = stack
        self.poll_minutes = poll_minutes or int(stack.refs["MonitorIntervalMinutes"])
        self._lock = threading.Lock()
        self._since_poll = 0.0  # emulated minutes since the monitor last polled

    def now(self) -> dict[str, Any]:
        now_ms = self.stack.emulator.now_ms
        return {"nowMs": now_ms, "now": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now_ms / 1000)),
                "monitorIntervalMinutes": self.poll_minutes}

    def advance(self, minutes: float) -> dict[str, Any]:
        """Move the clock `minutes` on, the monitor polling at each of its intervals passed; the
        clock's new time and how many polls ran (each poll's report is the monitor's own log line)."""
        polls = 0
        with self._lock:
            left = float(minutes)
            while left > 0:
                step = min(left, self.poll_minutes - self._since_poll)
                self.stack.emulator.advance(minutes=step)
                left -= step
                self._since_poll += step
                if self._since_poll >= self.poll_minutes:
                    self._since_poll = 0.0
                    self.stack.run_monitor()
                    polls += 1
        return {**self.now(), "polls": polls}

    def run(self, speed: float, stop: threading.Event) -> None:
        """Advance one monitor interval at a time, `speed` emulated minutes per real second, until
        `stop` is set. A poll that fails is written to stderr and the clock goes on, as the
        schedule would start the next poll."""
        interval = self.poll_minutes / speed
        while not stop.wait(interval):
            try:
                self.advance(self.poll_minutes)
            except Exception:  # noqa: BLE001 - reported, as a failed scheduled poll would be; the next one runs
                logging.getLogger(__name__).exception("local clock: the monitor's poll failed")


def speed_argument(text: str) -> float:
    """`serve --clock-speed N`: emulated minutes per real second, 0 (the clock stands still) or more."""
    import argparse

    try:
        speed = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 <= speed <= 100_000:  # more than 100,000 (ten weeks a second) would only queue polls
        raise argparse.ArgumentTypeError("emulated minutes per real second, from 0 to 100000")
    return speed
