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


def test_each_state_machine_definition_and_json_path_is_parsed_once():
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
    from moto.stepfunctions.parser.asl.utils import json_path

    from local.moto_patches import parse_each_json_path_once, parse_each_state_machine_once

    definition = '{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}}'
    assert AmazonStateLanguageParser.parse(definition)[0] is not AmazonStateLanguageParser.parse(definition)[0]
    with parse_each_state_machine_once(), parse_each_json_path_once():
        assert AmazonStateLanguageParser.parse(definition) is AmazonStateLanguageParser.parse(definition)
        assert json_path.parse("$.ids.flowId") is json_path.parse("$.ids.flowId")
        assert json_path.extract_json("$.ids.flowId", {"ids": {"flowId": "f"}}) == "f"
    assert AmazonStateLanguageParser.parse(definition)[0] is not AmazonStateLanguageParser.parse(definition)[0]
