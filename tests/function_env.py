"""The variables the template's Globals set in every function, with values of no real account: the
environment a handler is imported in when a test imports it as Lambda would (core/settings.py
validates them at each handler's import)."""

FUNCTION_ENVIRONMENT = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "DATAFLOWS_TABLE": "aepflow-unit-dataflows",
    "AEP_CREDENTIALS_SECRET": "aepflow/aep-credentials",
    "AEP_TOKEN_CACHE_SECRET": "aepflow/aep-token-cache",
    "SOURCE_SECRETS_PREFIX": "aep/sources/",
    "ALERTS_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:aepflow-unit-alerts",
    "AEPFLOW_STACK_NAME": "aepflow-unit",
    "AEPFLOW_ACCOUNT_ID": "123456789012",
    "TEARDOWN_ON_SPEC_DELETE": "false",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_DISABLED": "true",
}
