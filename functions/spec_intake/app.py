"""The spec intake: S3 "Object Created"/"Object Deleted" events for spec files under
dataflows/ (via EventBridge) and custom "aepflow.DataflowRequested" events. The logic,
idempotency included, lives in aepflow.doors.intake."""

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from aepflow.core import settings
from aepflow.core.observability import logger, metrics, tracer
from aepflow.core.settings import IntakeSettings
from aepflow.doors.intake import handle

# This function's settings, validated at its cold start: a missing or wrong variable fails here, named.
SETTINGS = settings.load(IntakeSettings)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    metrics.add_metric(name="SpecIntakeEvents", unit=MetricUnit.Count, value=1)
    return handle(event, context)
