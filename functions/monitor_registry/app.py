"""Enter managed flows in the run monitor's registry: one segment of the Dataflows index (a
poll's registry sync), or the flow an aepflow.DataflowProvisioned event announces."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from aepflow.core import settings
from aepflow.core.observability import logger, tracer
from aepflow.core.settings import MonitorSettings
from aepflow.monitor.models import Segment
from aepflow.monitor.registry import register_provisioned, sync_segment

# This function's settings, validated at its cold start: a missing or wrong variable fails here, named.
SETTINGS = settings.load(MonitorSettings)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    if isinstance(event, dict) and "detail-type" in event:
        return register_provisioned(event)
    return sync_segment(Segment.model_validate(event)).model_dump(mode="json")
