"""Explore the source (GET /connections/{id}/explore): table columns for CRMs, the JSON schema for REST sources (checked against the mapping)."""

from aepflow.steps.handler import step_handler
from aepflow.steps.source import explore_source

lambda_handler = step_handler(explore_source)
