"""Scheduled run monitor (EventBridge schedule): one poll of every managed dataflow's runs."""

from datetime import datetime

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict

from aepflow import monitor
from aepflow.observability import logger, metrics, tracer

# Margin past this invocation's own deadline before another poll may re-publish an alert it
# claimed (see aepflow.alerts): a living invocation is never overtaken.
LEASE_MARGIN_SECONDS = 60


class ScheduledEvent(BaseModel):
    """The EventBridge "Scheduled Event"; `time` is when the schedule fired. The local stack
    sets it to the emulator's clock."""
    model_config = ConfigDict(extra="allow")
    time: datetime | None = None


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    scheduled = ScheduledEvent.model_validate(event or {})
    now_ms = int(scheduled.time.timestamp() * 1000) if scheduled.time else None
    lease = context.get_remaining_time_in_millis() / 1000 + LEASE_MARGIN_SECONDS
    report = monitor.poll(now_ms=now_ms, lease_seconds=lease)
    for problem, sent in report.alerts_sent.items():  # the dashboard's "alerts by problem"
        metrics.add_metric(name=f"Alerts{problem[:1].upper()}{problem[1:]}", unit=MetricUnit.Count, value=sent)
    return report.model_dump(mode="json")
