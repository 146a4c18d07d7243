"""Create the dataflow (Flow Service POST /flows), schedule checked against the flow spec's scheduleSpec first."""

from aepflow.steps.handler import step_handler
from aepflow.steps.flow import create_dataflow

lambda_handler = step_handler(create_dataflow)
