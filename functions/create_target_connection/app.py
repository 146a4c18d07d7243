"""Create the Data Lake target connection (Flow Service POST /targetConnections)."""

from aepflow.handlers import step_handler
from aepflow.target_steps import create_target_connection

lambda_handler = step_handler(create_target_connection)
