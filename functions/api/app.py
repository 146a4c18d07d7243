"""The REST API (API Gateway, IAM authorization): POST/GET/PATCH/DELETE /dataflows.
Routing, validation and errors live in aepflow.doors.api; this module only wires Powertools."""

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from aepflow.core import settings
from aepflow.core.observability import logger, metrics, tracer
from aepflow.core.settings import ApiSettings
from aepflow.doors.api.handler import handle

# This function's settings, validated at its cold start: a missing or wrong variable fails here, named.
SETTINGS = settings.load(ApiSettings)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    metrics.add_metric(name="ApiRequests", unit=MetricUnit.Count, value=1)
    return handle(event, context)
