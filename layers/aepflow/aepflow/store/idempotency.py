"""Where Powertools' idempotency keeps its records (the spec intake's: an event delivered twice is
one provisioning): the dataflows table, keys pk/sk, items `idempotency#<function>#<hash>`, through
the process's DynamoDB client, made once per process (and again after aws.reset())."""

from __future__ import annotations

from aws_lambda_powertools.utilities.idempotency import BasePersistenceLayer, DynamoDBPersistenceLayer

from aepflow.core import aws
from aepflow.store import table


def persistence() -> BasePersistenceLayer:
    return aws.cached("idempotency-persistence", lambda: DynamoDBPersistenceLayer(
        table_name=table.name(), key_attr="pk", sort_key_attr="sk", boto3_client=table.client()))
