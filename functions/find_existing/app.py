"""Look up what already exists when an earlier execution may have created some of it: every resource
the spec would create, by its deterministic name, and every resource it references (which must
exist), in one round of concurrent GETs. Or check one resource the spec names (its base connection,
its dataset) in the branch that needs it."""

from aepflow.core import settings
from aepflow.core.settings import Settings
from aepflow.steps.handler import step_handler
from aepflow.steps.lookup import find_existing

# This function's settings, validated at its cold start: a missing or wrong variable fails here, named.
SETTINGS = settings.load(Settings)


lambda_handler = step_handler(find_existing)
