"""Create the mapping set (Data Prep POST /mappingSets) from the spec's mapping list."""

from aepflow.core import settings
from aepflow.core.settings import Settings
from aepflow.steps.handler import step_handler
from aepflow.steps.target import create_mapping_set

# This function's settings, validated at its cold start: a missing or wrong variable fails here, named.
SETTINGS = settings.load(Settings)

lambda_handler = step_handler(create_mapping_set)
