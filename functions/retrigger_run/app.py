"""The retry state machine's tasks (statemachine/retry_failed_run.asl.json): `retrigger` re-runs a
failed run once its delay has passed; `alert` sends the failure held back for it when AEP refused
or did not answer the re-trigger."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from aepflow.core import aws, settings
from aepflow.core.observability import logger, metrics, tracer
from aepflow.core.settings import MonitorEventsSettings
from aepflow.monitor.alerts import AlertSender, lease_seconds
from aepflow.monitor.retrigger import HeldBackEvent, RetriggerEvent, alert_held_back, retrigger

# This function's settings, validated at its cold start: a missing or wrong variable fails here, named.
SETTINGS = settings.load(MonitorEventsSettings)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics  # the AEP client's calls
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    action = event.get("action") if isinstance(event, dict) else None
    if action == "retrigger":
        return retrigger(RetriggerEvent.model_validate(event.get("run")), SETTINGS.table_name)
    if action == "alert":
        sender = AlertSender(SETTINGS.table_name, SETTINGS.alerts_topic_arn, lease_seconds=lease_seconds(context),
                             sns=aws.aws_client("sns"))
        return alert_held_back(HeldBackEvent.model_validate(event.get("run")), sender)
    raise ValueError("retrigger_run: action must be 'retrigger' or 'alert'")
