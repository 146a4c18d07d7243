"""Create the target dataset (Catalog POST /dataSets) when the spec asks for one."""

from aepflow.handlers import step_handler
from aepflow.target_steps import create_dataset

lambda_handler = step_handler(create_dataset)
