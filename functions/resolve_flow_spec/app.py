"""Resolve the flow spec (GET /flowSpecs?property=name==X) and check it accepts the source."""

from aepflow.steps.handler import step_handler
from aepflow.steps.flow import resolve_flow_spec

lambda_handler = step_handler(resolve_flow_spec)
