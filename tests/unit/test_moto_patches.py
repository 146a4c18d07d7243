"""The local stack's moto gives DynamoDB's guarantee back: a conditional put succeeds for
exactly one of many threads racing on the same key. (Without the patch, with threads
switching every microsecond, about one round in five had two winners.)"""

import sys
import threading

import boto3
from moto import mock_aws

from local.moto_patches import atomic_dynamodb_writes


def test_only_one_of_many_racing_conditional_puts_wins():
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # make the threads interleave inside moto's check-then-write
    try:
        _race()
    finally:
        sys.setswitchinterval(switch)


def _race():
    with mock_aws(), atomic_dynamodb_writes():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        ddb.create_table(TableName="t", BillingMode="PAY_PER_REQUEST",
                         AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                         KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
        for round_ in range(60):
            wins: list[int] = []
            start = threading.Barrier(8)

            def claim(n: int) -> None:
                start.wait()
                try:
                    ddb.put_item(TableName="t", Item={"pk": {"S": f"k{round_}"}, "by": {"N": str(n)}},
                                 ConditionExpression="attribute_not_exists(pk)")
                    wins.append(n)
                except ddb.exceptions.ConditionalCheckFailedException:
                    pass

            threads = [threading.Thread(target=claim, args=(n,)) for n in range(8)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert len(wins) == 1, (round_, wins)
