"""Scheduled drift check (EventBridge Scheduler, DriftCheckSchedule): compares every managed flow and
its connections with aepflow's record and alerts once per change. The logic is aepflow.ops.drift's."""

from dataclasses import asdict

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from aepflow.core import settings
from aepflow.core.observability import logger, metrics, tracer
from aepflow.core.settings import DriftSettings
from aepflow.ops import drift

# This function's settings, validated at its cold start: a missing or wrong variable fails here, named.
SETTINGS = settings.load(DriftSettings)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    report = drift.check()
    metrics.add_metric(name="DriftChecked", unit=MetricUnit.Count, value=report.checked)
    metrics.add_metric(name="AlertsDrift", unit=MetricUnit.Count, value=report.alerted)
    return asdict(report)
