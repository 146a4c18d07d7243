"""Emulated time for the local stack: a sleep that only waits for time to pass (the AEP
client's backoff and Retry-After, the IMS token retry, moto's Step Functions Retry and Wait)
advances an emulated clock instead of the wall clock.

What the sleep stands for still happens: the retry is made, in the same order, after the same
attempts; only the wait is skipped. Every emulated sleep is recorded (`clock.sleeps`), so a
test can check that a retry waited as long as AEP's Retry-After asked.

The emulator's injected latency (`latency_ms`) stays real: it is what makes concurrent
requests overlap, which tests of the longest sequential chain measure."""

from __future__ import annotations

import threading
import time
import types
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
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
