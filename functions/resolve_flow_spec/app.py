"""Resolve the flow spec (GET /flowSpecs?property=name==X) and check it accepts the source."""

from aepflow.core import settings
from aepflow.core.settings import Settings
from aepflow.steps.flow import resolve_flow_spec
from aepflow.steps.handler import step_handler

# This function's settings, validated at its cold start: a missing or wrong variable fails here, named.
SETTINGS = settings.load(Settings)


lambda_handler = step_handler(resolve_flow_spec)
