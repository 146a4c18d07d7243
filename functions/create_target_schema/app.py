"""Create the target XDM schema (Schema Registry POST /tenant/schemas) when the spec asks for one."""

from aepflow.handlers import step_handler
from aepflow.target_steps import create_target_schema

lambda_handler = step_handler(create_target_schema)
