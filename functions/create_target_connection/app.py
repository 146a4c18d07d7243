"""Create the Data Lake target connection (Flow Service POST /targetConnections)."""

from aepflow.steps.handler import step_handler
from aepflow.steps.target import create_target_connection

lambda_handler = step_handler(create_target_connection)
