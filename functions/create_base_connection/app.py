"""Create the base connection (Flow Service POST /connections) from the spec's credentialsSecret."""

from aepflow.core import settings
from aepflow.core.settings import Settings
from aepflow.steps.handler import step_handler
from aepflow.steps.source import create_base_connection

# This function's settings, validated at its cold start: a missing or wrong variable fails here, named.
SETTINGS = settings.load(Settings)

lambda_handler = step_handler(create_base_connection)
