"""Create the mapping set (Data Prep POST /mappingSets) from the spec's mapping list."""

from aepflow.steps.handler import step_handler
from aepflow.steps.target import create_mapping_set

lambda_handler = step_handler(create_mapping_set)
