"""Look up what already exists: every resource the spec would create, by its deterministic name, and every resource it references (which must exist). One round of concurrent GETs."""

from aepflow.handlers import step_handler
from aepflow.lookup_steps import find_existing

lambda_handler = step_handler(find_existing)
