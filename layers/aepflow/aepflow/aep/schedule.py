"""A spec's schedule as AEP takes it: scheduleParams as the flow spec's scheduleSpec defines them,
and as flow-service.yaml types them in a request."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the steps pass its spec_view, which reads the same
    from aepflow.spec.model import DataflowSpec


def schedule_params(spec: DataflowSpec) -> dict[str, Any]:
    """scheduleParams as the flow spec's scheduleSpec defines them (integers, boolean)."""
    return spec.schedule.model_dump(exclude_none=True)


def schedule_params_for_request(params: dict[str, Any]) -> dict[str, Any]:
    """flow-service.yaml types scheduleParams.interval as a string while every flow spec's
    scheduleSpec types it as an integer; the request follows the OpenAPI spec."""
    body = dict(params)
    if "interval" in body:
        body["interval"] = str(body["interval"])
    return body
