"""The one Logger, Tracer and Metrics of every function, and the log formatter that scrubs each
line of every secret the process has read (aepflow.scrub) before it is written.

The Tracer is Powertools' own, made only when tracing is on: making one, even a disabled one,
imports the X-Ray SDK and botocore through it (0.15 s of every cold start). Off, as everywhere but
in a Lambda function with X-Ray active, `tracer.capture_lambda_handler` returns the handler as it
is and nothing more is imported."""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.metrics import MetricResolution, MetricUnit
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

from aepflow.core import settings
from aepflow.core.scrub import scrub

if TYPE_CHECKING:
    from aws_lambda_powertools.logging.types import LogRecord


class ScrubbingFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON lines, with every remembered secret value replaced by ***."""

    def serialize(self, log: LogRecord) -> str:
        return scrub(super().serialize(log))


class _Metrics(Metrics):
    """Powertools' Metrics, keeping nothing while metrics are off or have no namespace (the local
    stack sets POWERTOOLS_METRICS_DISABLED; unit tests set no namespace). Powertools itself keeps
    every value then, never flushes, and prints them all to stdout once 100 accumulate. Values are
    added under a lock: Powertools' store is a plain dict, and find-existing adds from threads."""

    _lock = threading.Lock()

    def add_metric(self, name: str, unit: MetricUnit | str, value: float,
                   resolution: MetricResolution | int = 60) -> None:
        if is_metrics_disabled() or not self.namespace:
            return
        with self._lock:
            super().add_metric(name=name, unit=unit, value=value, resolution=resolution)


# With nothing kept while metrics are off, every flush would warn that it has nothing to publish.
warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)

class _Tracer:
    """Powertools' Tracer when tracing is on (made on first use), nothing when it is off."""

    def __init__(self) -> None:
        self._tracer: Any = None
        self._lock = threading.Lock()

    def _powertools(self) -> Any:
        with self._lock:
            if self._tracer is None:
                from aws_lambda_powertools import Tracer

                self._tracer = Tracer()
            return self._tracer

    def capture_lambda_handler(self, lambda_handler: Callable | None = None, capture_response: bool | None = None,
                               capture_error: bool | None = None) -> Callable:
        if settings.tracing_enabled():
            return self._powertools().capture_lambda_handler(lambda_handler, capture_response=capture_response,
                                                             capture_error=capture_error)
        if lambda_handler is None:  # used as @tracer.capture_lambda_handler(...)
            return lambda handler: handler
        return lambda_handler

    def __getattr__(self, name: str) -> Any:  # any other Tracer method: Powertools' own
        return getattr(self._powertools(), name)


# The one Logger: every module logs through it (`from aepflow.core.observability import logger`), as
# a child Logger of Powertools (child=True) would be named `<service>.<module>`, which under
# the package aepflow reads `aepflow.aepflow.monitor.finish`; where a line comes from is its
# `location`. The service is named here, as template.yaml's POWERTOOLS_SERVICE_NAME names it (a test
# holds them equal), not read from that variable: imported before the variable is set (the local
# stack does), Powertools would call it `service_undefined`, and a module's child Logger, left without
# its parent, would print plain lines through whatever handler the root logger has.
SERVICE = "aepflow"
logger = Logger(service=SERVICE, logger_formatter=ScrubbingFormatter())
tracer = _Tracer()
# Powertools keeps the values of every Metrics object in one store, which the handler's
# log_metrics flushes as EMF at the end of each invocation.
metrics = _Metrics()


@contextmanager
def about(dataflow: str | None, sandbox: str | None = None) -> Iterator[None]:
    """While active, every line this thread logs names the dataflow (and its sandbox) as structured
    keys; the keys it added are removed after (keys are per thread: the local stack runs several
    invocations in one process at once). A worker thread a step starts logs without them."""
    keys = {key: value for key, value in (("dataflow", dataflow), ("sandbox", sandbox)) if value}
    logger.thread_safe_append_keys(**keys)
    try:
        yield
    finally:
        logger.thread_safe_remove_keys(list(keys))
