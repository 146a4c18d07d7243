"""The one Logger, Tracer and Metrics of every function, and the log formatter that scrubs each
line of every secret the process has read (aepflow.scrub) before it is written."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

from .scrub import scrub


class ScrubbingFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON lines, with every remembered secret value replaced by ***."""

    def serialize(self, log: dict[str, Any]) -> str:
        return scrub(super().serialize(log))


logger = Logger(logger_formatter=ScrubbingFormatter())
tracer = Tracer()
metrics = Metrics()
