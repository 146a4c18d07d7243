"""The local stack's moto gives DynamoDB's guarantees back: a conditional put succeeds for
exactly one of many threads racing on the same key, and a Query never fails because another
thread writes at the same moment. (Without the patch, with threads switching every
microsecond, about one round in five had two winners, and two or more of the 30 queries
below raised `dictionary changed size during iteration`.)"""

import json
import sys
import threading
from contextlib import contextmanager
from unittest import mock

import boto3
import botocore.exceptions
import pytest
from moto import mock_aws

from local.moto_patches import atomic_dynamodb

KEYS = {"AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}]}


@contextmanager
def _threads_switching_every_microsecond():
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # make the threads interleave inside moto's check-then-write
    try:
        yield
    finally:
        sys.setswitchinterval(switch)


def test_only_one_of_many_racing_conditional_puts_wins():
    with _threads_switching_every_microsecond(), mock_aws(), atomic_dynamodb():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        ddb.create_table(TableName="t", BillingMode="PAY_PER_REQUEST", **KEYS)
        for round_ in range(60):
            wins: list[int] = []
            start = threading.Barrier(8)

            def claim(n: int, start=start, round_=round_, wins=wins) -> None:
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


def test_a_query_never_fails_while_another_thread_writes():
    with _threads_switching_every_microsecond(), mock_aws(), atomic_dynamodb():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        ddb.create_table(TableName="t", BillingMode="PAY_PER_REQUEST", **KEYS)
        for first in range(0, 1000, 25):
            ddb.batch_write_item(RequestItems={"t": [{"PutRequest": {"Item": {"pk": {"S": f"old-{i}"}}}}
                                                     for i in range(first, first + 25)]})
        ddb.put_item(TableName="t", Item={"pk": {"S": "kept"}})
        stop, errors = threading.Event(), []

        def write() -> None:
            n = 0
            while not stop.is_set():
                ddb.put_item(TableName="t", Item={"pk": {"S": f"new-{n}"}})
                ddb.delete_item(TableName="t", Key={"pk": {"S": f"old-{n}"}})
                n += 1

        writer = threading.Thread(target=write)
        writer.start()
        try:
            found = []
            for _ in range(30):
                try:
                    found.append(len(ddb.query(TableName="t", KeyConditionExpression="pk = :p",
                                               ExpressionAttributeValues={":p": {"S": "kept"}})["Items"]))
                except RuntimeError as exc:  # what moto raised out of the client without the patch
                    errors.append(exc)
        finally:
            stop.set()
            writer.join(timeout=30)
        assert not writer.is_alive()
        assert errors == [] and found == [1] * 30


def test_each_json_path_is_parsed_once_and_still_reads_right():
    from moto.stepfunctions.parser.asl.utils import json_path

    from local.moto_patches import parse_each_json_path_once

    assert json_path.parse("$.ids.flowId") is not json_path.parse("$.ids.flowId")
    with parse_each_json_path_once():
        assert json_path.parse("$.ids.flowId") is json_path.parse("$.ids.flowId")
        assert json_path.extract_json("$.ids.flowId", {"ids": {"flowId": "f"}}) == "f"
        assert json_path.extract_json("$.ids.flowId", {"ids": {"flowId": "g"}}) == "g"
    assert json_path.parse("$.ids.flowId") is not json_path.parse("$.ids.flowId")


def test_step_functions_tasks_share_one_boto3_client_per_service():
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

    from local.moto_patches import one_client_per_service_for_step_functions

    assert lambda_eval_utils.boto_client_for("us-east-1", "lambda") is not \
        lambda_eval_utils.boto_client_for("us-east-1", "lambda")
    with one_client_per_service_for_step_functions():
        first = lambda_eval_utils.boto_client_for("us-east-1", "lambda")
        assert lambda_eval_utils.boto_client_for("us-east-1", "lambda") is first
        assert lambda_eval_utils.boto_client_for("us-east-1", "dynamodb") is not first
    assert lambda_eval_utils.boto_client_for("us-east-1", "lambda") is not first


def test_a_branch_that_cannot_run_in_a_stopped_parallel_ends_and_tells_its_pool():
    import threading

    from moto.stepfunctions.parser.asl.component.state.exec.state_parallel.branch_worker import BranchWorker

    from local.moto_patches import stopped_branches_end

    class Pool:
        def __init__(self):
            self.terminated = []

        def on_terminated(self, env):
            self.terminated.append(env)

    class Env:
        def __init__(self, running):
            self.running = running

        def is_running(self):
            return self.running

    class Program:  # what moto's Program.eval does first in a stopped environment
        def eval(self, env):
            raise RuntimeError("Could not set NextState value when in state 'ProgramStopped'.")

    def run(env):
        pool = Pool()
        worker = BranchWorker(pool, Program(), env)
        worker._worker_thread = threading.current_thread()
        worker._thread_routine()
        return pool

    with stopped_branches_end():
        stopped = Env(running=False)
        assert run(stopped).terminated == [stopped]
        with pytest.raises(RuntimeError):  # a branch still meant to run fails as before
            run(Env(running=True))
    with pytest.raises(RuntimeError):  # moto alone: the pool never hears of the branch
        run(Env(running=False))


def test_requests_to_moto_go_unsigned_but_s3_and_presigned_urls():
    from botocore.awsrequest import AWSRequest

    from local.moto_patches import unsigned_requests

    def signed(service):
        client = boto3.client(service, region_name="us-east-1", aws_access_key_id="testing",
                              aws_secret_access_key="testing")
        request = AWSRequest(method="POST", url=f"https://{service}.us-east-1.amazonaws.com/", data=b"{}")
        client._request_signer.sign("Op", request)
        return "Authorization" in request.headers

    assert signed("dynamodb") and signed("s3")
    with unsigned_requests():
        assert not signed("dynamodb") and not signed("sns")
        assert signed("s3")
        url = boto3.client("s3", region_name="us-east-1", aws_access_key_id="testing",
                           aws_secret_access_key="testing").generate_presigned_url(
            "get_object", Params={"Bucket": "b", "Key": "k"})
        assert "Signature" in url
    assert signed("dynamodb")


def test_a_declared_timeout_is_counted_even_in_a_stopped_branch():
    """The state's input must never be popped as its timeout (GetExecutionHistory then fails)."""
    from moto.stepfunctions.parser.asl.component.common.timeouts.heartbeat import HeartbeatSeconds
    from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import TimeoutSeconds

    from local.moto_patches import declared_timeouts_always_counted

    class Env:  # a frame of a branch its Parallel has stopped, the task's input on its stack
        def __init__(self, running):
            self.running, self.stack = running, [{"spec": {"name": "x"}}]

        def is_running(self):
            return self.running

    def popped(env, *components):
        for component in components:
            component.eval(env)
        return [env.stack.pop() for _ in components]

    stopped = Env(running=False)
    assert popped(stopped, TimeoutSeconds(150))[0] == {"spec": {"name": "x"}}  # moto alone: the input
    with declared_timeouts_always_counted():
        assert popped(Env(running=False), TimeoutSeconds(150), HeartbeatSeconds(30)) == [30, 150]
        assert popped(Env(running=True), TimeoutSeconds(150)) == [150]


def test_a_definition_parsed_before_is_not_preprocessed_again_to_validate_and_a_bad_one_is_still_refused():
    from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor

    from local.moto_patches import asl_parsed_once

    good = json.dumps({"StartAt": "A",
                       "States": {"A": {"Type": "Pass", "Comment": "validated-once test", "End": True}}})
    bad = json.dumps({"StartAt": "A", "States": {"A": {"Type": "NoSuchType", "End": True}}})
    role = "arn:aws:iam::123456789012:role/r"
    visits = []
    visit = Preprocessor.visit
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}), asl_parsed_once(), \
            mock.patch.object(Preprocessor, "visit", lambda self, tree: visits.append(tree) or visit(self, tree)):
        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        sfn.create_state_machine(name="first", definition=good, roleArn=role)
        after_first = len(visits)
        sfn.create_state_machine(name="second", definition=good, roleArn=role)
        assert after_first > 0 and len(visits) == after_first  # the same definition: not preprocessed again
        with pytest.raises(botocore.exceptions.ClientError, match="NoSuchType"):
            sfn.create_state_machine(name="third", definition=bad, roleArn=role)
