"""Create the base connection (Flow Service POST /connections) from the spec's credentialsSecret."""

from aepflow.steps.handler import step_handler
from aepflow.steps.source import create_base_connection

lambda_handler = step_handler(create_base_connection)
