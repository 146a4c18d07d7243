"""Create the target XDM schema (Schema Registry POST /tenant/schemas) when the spec asks for one."""

from aepflow.steps.handler import step_handler
from aepflow.steps.target import create_target_schema

lambda_handler = step_handler(create_target_schema)
