"""Finish a poll of the run monitor: one report of every unit, and the poll's metrics."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from aepflow.core import settings
from aepflow.core.observability import logger, metrics, tracer
from aepflow.core.settings import MonitorSettings
from aepflow.monitor.finish import finish_poll
from aepflow.monitor.models import FinishEvent

# This function's settings, validated at its cold start: a missing or wrong variable fails here, named.
SETTINGS = settings.load(MonitorSettings)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return finish_poll(FinishEvent.model_validate(event)).model_dump(mode="json")
