"""Plan a poll of the run monitor (first step of "Poll the runs"): re-send pending alerts,
sync the registry when due, split the work by sandbox and shard."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from aepflow.core import settings
from aepflow.core.observability import logger, tracer
from aepflow.core.settings import MonitorSettings
from aepflow.monitor.alerts import lease_seconds
from aepflow.monitor.models import PlanEvent
from aepflow.monitor.poll_plan import plan_poll

# This function's settings, validated at its cold start: a missing or wrong variable fails here, named.
SETTINGS = settings.load(MonitorSettings)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    report = plan_poll(PlanEvent.model_validate(event or {}), lease_seconds=lease_seconds(context))
    return report.model_dump(mode="json")
