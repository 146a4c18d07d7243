"""Create the source connection (Flow Service POST /sourceConnections)."""

from aepflow.handlers import step_handler
from aepflow.source_steps import create_source_connection

lambda_handler = step_handler(create_source_connection)
