"""Validate the dataflow spec: the pydantic model, the connector catalog, and the
credentials secret it names. A bad spec fails here, before any AEP call."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from aepflow.core import settings
from aepflow.core.errors import scrubbed_errors
from aepflow.core.observability import logger, tracer
from aepflow.core.settings import Settings
from aepflow.steps.validate import validate_input

# This function's settings, validated at its cold start: a missing or wrong variable fails here, named.
SETTINGS = settings.load(Settings)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return scrubbed_errors(lambda: validate_input(event["state"]))
