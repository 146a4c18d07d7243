"""Check one unit of a poll (a sandbox's shards first..last): their flows' runs, each problem
sent to SNS once."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from aepflow.core import settings
from aepflow.core.observability import logger, metrics, tracer
from aepflow.core.settings import MonitorSettings
from aepflow.monitor.alerts import lease_seconds
from aepflow.monitor.check import check_unit
from aepflow.monitor.models import CheckEvent

# This function's settings, validated at its cold start: a missing or wrong variable fails here, named.
SETTINGS = settings.load(MonitorSettings)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics  # the AEP client's calls, errors, throttles and latency per service
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return check_unit(CheckEvent.model_validate(event), lease_seconds=lease_seconds(context)).model_dump(mode="json")
