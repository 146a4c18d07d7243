"""Secrets Manager rotation (EventBridge, CloudTrail's PutSecretValue/UpdateSecret/RotationSucceeded):
the base connections made from that secret get its new auth params. The logic is aepflow.rotation's."""

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from aepflow.ops import rotation
from aepflow.core.observability import logger, metrics, tracer


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    result = rotation.handle(event)
    metrics.add_metric(name="CredentialsRotated", unit=MetricUnit.Count,
                       value=sum(d.get("action") == "rotated" for d in result.get("dataflows") or []))
    return result
