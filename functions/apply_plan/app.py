"""Apply the plan in place: the dataflow's flow exists, so the spec is planned against the record and
AEP and what AEP can change is changed in place (PATCH with If-Match); what it cannot is deleted here
and made anew by the create path. The logic is aepflow.ops.apply.step's."""

from aepflow.core import settings
from aepflow.core.settings import Settings
from aepflow.ops.apply.step import apply_plan
from aepflow.steps.handler import step_handler

# This function's settings, validated at its cold start: a missing or wrong variable fails here, named.
SETTINGS = settings.load(Settings)

lambda_handler = step_handler(apply_plan)
