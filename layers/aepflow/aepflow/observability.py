"""The one Logger, Tracer and Metrics of every function, and the log formatter that scrubs each
line of every secret the process has read (aepflow.scrub) before it is written."""

from __future__ import annotations

import threading
import warnings
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

from .scrub import scrub


class ScrubbingFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON lines, with every remembered secret value replaced by ***."""

    def serialize(self, log: dict[str, Any]) -> str:
        return scrub(super().serialize(log))


class _Metrics(Metrics):
    """Powertools' Metrics, keeping nothing while metrics are off or have no namespace (the local
    stack sets POWERTOOLS_METRICS_DISABLED; unit tests set no namespace). Powertools itself keeps
    every value then, never flushes, and prints them all to stdout once 100 accumulate. Values are
    added under a lock: Powertools' store is a plain dict, and find-existing adds from threads."""

    _lock = threading.Lock()

    def add_metric(self, name: str, unit: MetricUnit | str, value: float, resolution: int = 60) -> None:
        if is_metrics_disabled() or not self.namespace:
            return
        with self._lock:
            super().add_metric(name=name, unit=unit, value=value, resolution=resolution)


# With nothing kept while metrics are off, every flush would warn that it has nothing to publish.
warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)

logger = Logger(logger_formatter=ScrubbingFormatter())
tracer = Tracer()
# Powertools keeps the values of every Metrics object in one store, which the handler's
# log_metrics flushes as EMF at the end of each invocation.
metrics = _Metrics()
