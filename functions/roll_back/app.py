"""Roll back what this execution created, newest first, record the outcome, and
return the failure notification the state machine publishes to SNS."""

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from aepflow.core import settings
from aepflow.core.settings import RollBackSettings
from aepflow.steps.context import StepEvent
from aepflow.steps.handler import count_roll_back, logger, metrics, tracer
from aepflow.steps.rollback import failure_notification, roll_back

# This function's settings, validated at its cold start: a missing or wrong variable fails here, named.
SETTINGS = settings.load(RollBackSettings)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    step_event = StepEvent.parse(event)
    result = roll_back(step_event.state, step_event.execution)
    count_roll_back(result)
    raw = step_event.state.get("spec")
    spec: dict[str, Any] = raw if isinstance(raw, dict) else {}
    return {**asdict(result), **failure_notification(result, spec.get("sandbox"))}
