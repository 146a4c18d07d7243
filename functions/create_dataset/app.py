"""Create the target dataset (Catalog POST /dataSets) when the spec asks for one."""

from aepflow.steps.handler import step_handler
from aepflow.steps.target import create_dataset

lambda_handler = step_handler(create_dataset)
