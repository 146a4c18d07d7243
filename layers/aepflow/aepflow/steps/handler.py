"""Powertools wiring shared by every step Lambda: one Logger, Tracer and Metrics at
module scope, the wrapper that turns a provisioning function into a handler, and the
roll-back's metrics (the dashboard's "rolled back")."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from aepflow.core.errors import StepCrashed, scrubbed_errors  # noqa: F401 - the handlers' names for them
from aepflow.core.observability import about, logger, metrics, tracer
from aepflow.steps.context import Context, StepEvent

if TYPE_CHECKING:
    from aepflow.steps.rollback import RollBackResult


def step_handler(fn: Callable[[Context], Any]) -> Callable[[dict, LambdaContext], Any]:
    """A Lambda handler for one provisioning step. The event is the state machine's
    {state, execution, retryCount}; never logged, as it names secrets (not their values)."""

    @logger.inject_lambda_context(clear_state=True)
    @tracer.capture_lambda_handler(capture_response=False)
    @metrics.log_metrics
    def lambda_handler(event: dict, context: LambdaContext) -> Any:
        step_event = StepEvent.parse(event)
        # Thread-safe keys: the local stack runs several functions in one process at once.
        logger.thread_safe_append_keys(execution=step_event.execution, step=fn.__name__)

        def run() -> Any:
            ctx = Context(step_event)  # the spec parsed: every line the step logs names its dataflow
            with about(ctx.spec.name, ctx.client.sandbox):
                return fn(ctx)

        try:
            result = scrubbed_errors(run)
        finally:
            logger.thread_safe_clear_keys()
        metrics.add_metric(name=f"{fn.__name__}Completed", unit=MetricUnit.Count, value=1)
        return result.model_dump(mode="json") if hasattr(result, "model_dump") else result

    return lambda_handler


def count_roll_back(result: RollBackResult) -> None:
    """A failed provisioning whose roll-back ran, and what it deleted and left behind; an INVALID
    spec (refused before anything was created) is counted apart."""
    if result.status != "FAILED":
        metrics.add_metric(name="ProvisioningsInvalid", unit=MetricUnit.Count, value=1)
        return
    metrics.add_metric(name="ProvisioningsRolledBack", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="ResourcesRolledBack", unit=MetricUnit.Count, value=len(result.rolledBack))
    metrics.add_metric(name="ResourcesLeftBehind", unit=MetricUnit.Count, value=len(result.leftBehind))
