"""Resolve the flow spec (GET /flowSpecs?property=name==X) and check it accepts the source."""

from aepflow.handlers import step_handler
from aepflow.flow_steps import resolve_flow_spec

lambda_handler = step_handler(resolve_flow_spec)
