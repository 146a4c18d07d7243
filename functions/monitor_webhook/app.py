"""Alert a managed flow's failed, partial or delayed run from AEP's flow-run event delivered by
Adobe I/O Events to a webhook: the challenge answered, a delivery whose digital signatures do not
verify or whose recipient is not ours refused (401), a verified one decided as the partner bus's
events are (one alert across the webhook, the bus and the poll)."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from aepflow.core import settings
from aepflow.core.observability import logger, metrics, tracer
from aepflow.core.settings import WebhookSettings
from aepflow.monitor.alerts import lease_seconds
from aepflow.monitor.webhook import handle

# This function's settings, validated at its cold start: a missing or wrong variable fails here, named.
SETTINGS = settings.load(WebhookSettings)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics  # the AEP client's calls (a GET /runs/{id} when an event lacks what the rules read)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return handle(event, lease_seconds=lease_seconds(context))
