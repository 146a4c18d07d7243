"""Secrets Manager rotation (EventBridge, CloudTrail's PutSecretValue/UpdateSecret/RotationSucceeded):
the base connections made from that secret get its new auth params. The logic is aepflow.ops.rotation's."""

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from aepflow.core import settings
from aepflow.core.observability import logger, metrics, tracer
from aepflow.core.settings import RotationSettings
from aepflow.ops import rotation

# This function's settings, validated at its cold start: a missing or wrong variable fails here, named.
SETTINGS = settings.load(RotationSettings)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    result = rotation.handle(event)
    metrics.add_metric(name="CredentialsRotated", unit=MetricUnit.Count,
                       value=sum(d.get("action") == "rotated" for d in result.get("dataflows") or []))
    return result
