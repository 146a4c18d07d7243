"""Reserve the dataflow's name for this execution, whichever door started it: another spec being
provisioned under the name is a conflict. The logic is aepflow.steps.reserve's."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from aepflow.core import settings
from aepflow.core.settings import Settings
from aepflow.steps.context import StepEvent
from aepflow.steps.handler import logger, scrubbed_errors, tracer
from aepflow.steps.reserve import reserve_name

# This function's settings, validated at its cold start: a missing or wrong variable fails here, named.
SETTINGS = settings.load(Settings)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    step = StepEvent.parse(event)
    return scrubbed_errors(lambda: reserve_name(step.state, step.execution))
