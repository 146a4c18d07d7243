"""Create the Data Lake target connection (Flow Service POST /targetConnections)."""

from aepflow.core import settings
from aepflow.core.settings import Settings
from aepflow.steps.handler import step_handler
from aepflow.steps.target import create_target_connection

# This function's settings, validated at its cold start: a missing or wrong variable fails here, named.
SETTINGS = settings.load(Settings)

lambda_handler = step_handler(create_target_connection)
