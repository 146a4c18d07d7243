"""Explore the source (GET /connections/{id}/explore): table columns for CRMs, the JSON schema for
REST sources (checked against the mapping)."""

from aepflow.core import settings
from aepflow.core.settings import Settings
from aepflow.steps.handler import step_handler
from aepflow.steps.source import explore_source

# This function's settings, validated at its cold start: a missing or wrong variable fails here, named.
SETTINGS = settings.load(Settings)


lambda_handler = step_handler(explore_source)
