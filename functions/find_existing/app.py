"""Look up what already exists when an earlier execution may have created some of it: every resource the spec would create, by its deterministic name, and every resource it references (which must exist), in one round of concurrent GETs. Or check one resource the spec names (its base connection, its dataset) in the branch that needs it."""

from aepflow.steps.handler import step_handler
from aepflow.steps.lookup import find_existing

lambda_handler = step_handler(find_existing)
