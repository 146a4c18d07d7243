"""Create the dataflow (Flow Service POST /flows), schedule checked against the flow spec's scheduleSpec first."""

from aepflow.core import settings
from aepflow.core.settings import Settings
from aepflow.steps.flow import create_dataflow
from aepflow.steps.handler import step_handler

# This function's settings, validated at its cold start: a missing or wrong variable fails here, named.
SETTINGS = settings.load(Settings)

lambda_handler = step_handler(create_dataflow)
