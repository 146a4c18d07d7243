"""Apply the plan in place: the dataflow's flow exists, so the spec is planned against the record and
AEP and what AEP can change is changed in place (PATCH with If-Match); what it cannot is deleted here
and made anew by the create path. The logic is aepflow.apply's."""

from aepflow.ops.apply.step import apply_plan
from aepflow.steps.handler import step_handler

lambda_handler = step_handler(apply_plan)
