"""The credentials boundary and the scrubbing of secrets, on the local stack: a spec may name
only source secrets (never aepflow's own AEP credentials or token cache, never outside the
prefix), and a secret value that AEP echoes back in an error reaches no result, record, alert,
event, execution history or log line."""

import json

import boto3

from local.examples import example
from local.stack import LocalStack

ECHOED = 777000111222  # a number where AEP wants a string: AEP's error quotes it back


def _spec(name: str, secret: str, **source) -> dict:
    spec = example("004")
    spec["name"] = name
    spec["source"] = {**spec["source"], "credentialsSecret": secret, **source}
    return spec


def test_a_spec_can_name_only_source_secrets():
    with LocalStack() as stack:
        token_cache = stack.refs["AepTokenCacheSecret"]
        specs = [
            _spec("acme-own-credentials", "aepflow/aep-credentials"),
            {**_spec("acme-own-credentials-by-spec-id", "aepflow/aep-credentials"),
             "source": {"connectionSpecId": "4c23f5a5-9e3b-4d6a-8a55-0b8f4c0e9a11", "format": "tabular",
                        "credentialsSecret": "aepflow/aep-credentials", "table": "T"}},
            _spec("acme-token-cache", token_cache),
            _spec("acme-traversal", "aep/sources/../../aepflow/aep-credentials"),
            _spec("acme-outside-prefix", "team/other-secret"),
            _spec("acme-not-a-name", "aep/sources/acme oracle"),
        ]
        results = stack.provision(specs)
        assert stack.emulator.records == []
    for spec, result in zip(specs, results, strict=True):
        assert result["status"] == "INVALID", (spec["name"], result)
        assert [e["path"] for e in result["errors"]] == ["source.credentialsSecret"], (spec["name"], result)
    assert "own AEP credentials" in results[0]["errors"][0]["message"]
    assert "own AEP credentials" in results[2]["errors"][0]["message"]
    assert ".." in results[3]["errors"][0]["message"] and "outside" in results[4]["errors"][0]["message"]


def test_a_secret_value_checked_before_aep_is_not_quoted():
    with LocalStack(secrets={"aep/sources/acme-echo": {"connectionString": ECHOED}}) as stack:
        [result] = stack.provision([_spec("acme-echo", "aep/sources/acme-echo")])
        assert stack.emulator.records == []
    assert result["status"] == "INVALID" and "must be of type string" in json.dumps(result["errors"])
    assert str(ECHOED) not in json.dumps(result)


def test_a_secret_value_aep_echoes_back_reaches_no_output(capfd, monkeypatch):
    from aepflow.spec import auth

    # A catalog laxer than AEP (a live auth spec stricter than the documented one): aepflow's own
    # check lets the number through, AEP refuses it and quotes it back. The scrub must hold.
    monkeypatch.setattr(auth, "shortfalls", lambda spec, secret: [])
    with LocalStack(secrets={"aep/sources/acme-echo": {"connectionString": ECHOED}}) as stack:
        sqs, events = boto3.client("sqs"), boto3.client("events")
        url = sqs.create_queue(QueueName="aepflow-test-events")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(Name="aepflow-test-events", EventPattern=json.dumps({"source": ["aepflow"]}))
        events.put_targets(Rule="aepflow-test-events", Targets=[{"Id": "q", "Arn": arn}])
        [result] = stack.provision([_spec("acme-echo", "aep/sources/acme-echo")])
        sfn = boto3.client("stepfunctions")
        history = sfn.get_execution_history(executionArn=result["executionArn"], maxResults=1000)["events"]
        table = boto3.resource("dynamodb").Table(stack.refs["DataflowsTable"])
        items = table.scan()["Items"]
        alerts = stack.messages()
        announced = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    out, err = capfd.readouterr()
    assert result["status"] in ("FAILED", "INVALID"), result
    assert result["errors"] and "***" in json.dumps(result["errors"]), result  # the message was kept, scrubbed
    assert alerts and announced
    haystack = "\n".join([json.dumps(result), json.dumps(history, default=str), json.dumps(items, default=str),
                          json.dumps(alerts), json.dumps(announced), out, err])
    assert str(ECHOED) not in haystack
