"""Let Adobe's IAM role read an S3 source's files (source.access: iam-role): its statements in the bucket's policy."""

from aepflow.core import settings
from aepflow.core.settings import GrantBucketReadSettings
from aepflow.steps.bucket import grant_bucket_read
from aepflow.steps.handler import step_handler

# This function's settings, validated at its cold start: a missing or wrong variable fails here, named.
SETTINGS = settings.load(GrantBucketReadSettings)

lambda_handler = step_handler(grant_bucket_read)
