"""Plan a poll of the run monitor (first step of "Poll the runs"): re-send pending alerts,
sync the registry when due, split the work by sandbox and shard."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from aepflow.monitor.config import lease_seconds
from aepflow.monitor.models import PlanEvent
from aepflow.monitor.poll_plan import plan_poll
from aepflow.core.observability import logger, tracer


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return plan_poll(PlanEvent.model_validate(event or {}), lease_seconds=lease_seconds(context)).model_dump(mode="json")
