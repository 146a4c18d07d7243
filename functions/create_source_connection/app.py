"""Create the source connection (Flow Service POST /sourceConnections)."""

from aepflow.steps.handler import step_handler
from aepflow.steps.source import create_source_connection

lambda_handler = step_handler(create_source_connection)
