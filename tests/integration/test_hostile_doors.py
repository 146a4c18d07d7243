"""Every hostile document of tests/hostile.py through every door of a running local stack: the
CLI (tests/integration/test_local_commands.py), the API over HTTP (a 4xx in the
error shape, never a 5xx, within seconds), the specs bucket (`<key>.errors.json`) and custom
events. None of them may reach AEP."""

import json
from pathlib import Path

import boto3
import pytest

from local import sigv4
from local.serve import Server
from tests import signed_http
from tests.hostile import ALL, SPECS, refused

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def server():
    with Server() as running:
        yield running


def _post(url: str, body: bytes, content_type: str = "application/yaml") -> tuple[int, dict, float]:
    status, answer, _, seconds = signed_http.call("POST", url, body, content_type)
    return status, answer, seconds


def test_the_api_answers_every_hostile_document_with_a_4xx_in_the_error_shape(server):
    api = server.info["api"]
    for case in ALL:
        status, body, seconds = _post(f"{api}/dataflows", case.data)
        assert status in (400, 413), (case.name, status, body)
        assert set(body) >= {"code", "message", "problems"}, (case.name, body)
        assert refused(body["problems"], "(body)" if case.path == "(document)" else case.path, case.says), (
            case.name, body)
        assert seconds < 5, (case.name, seconds)
    assert server.stack.emulator.records == []


def test_the_api_refuses_what_it_cannot_read_before_any_work(server):
    api = server.info["api"]
    assert _post(f"{api}/dataflows", b"name: x\n", "text/plain")[:2] == (415, {
        "code": "UnsupportedMediaType", "message": "Content-Type 'text/plain' is not accepted",
        "problems": [{"path": "(header) Content-Type", "message": (
            "use one of application/json, application/merge-patch+json, application/yaml, application/x-yaml, "
            "text/yaml, text/x-yaml, application/x-www-form-urlencoded")}]})
    status, body, _ = _post(f"{api}/dataflows", b"")
    assert status == 400 and body["problems"] == [
        {"path": "(body)", "message": "the body is empty; send a JSON or YAML object"}]
    status, body, _ = _post(f"{api}/dataflows", b"\xff\xfe\x00garbage", "application/json")
    assert status == 400 and body["code"] == "RequestInvalid"
    status, body, _ = _post(f"{api}/dataflows", b'{"name": "x",}', "application/json")
    assert status == 400 and "not JSON" in body["problems"][0]["message"]
    status, body, _ = _post(f"{api}/dataflows", b"x: " + b"y" * 300_000)
    assert status == 413 and body["code"] == "PayloadTooLarge"
    status, body, _, _ = signed_http.call("PATCH", f"{api}/dataflows/acme-x", b"[1, 2]", "application/merge-patch+json")
    assert status == 400 and body["code"] == "RequestInvalid"
    assert server.stack.emulator.records == []


def test_the_bucket_writes_errors_json_for_every_hostile_document(server):
    s3, bucket = boto3.client("s3"), server.info["bucket"]
    for index, case in enumerate(ALL):
        key = f"dataflows/hostile-{index}.{'json' if case.data.lstrip()[:1] in (b'{', b'[') else 'yaml'}"
        s3.put_object(Bucket=bucket, Key=key, Body=case.data)
        report = json.loads(s3.get_object(Bucket=bucket, Key=key + ".errors.json")["Body"].read())
        assert report["status"] == "INVALID" and report["code"] == "SpecInvalid", (case.name, report)
        assert refused(report["problems"], case.path, case.says), (case.name, report)
    queue = server.stack.queues["SpecIntakeDeadLetterQueue"]
    assert "Messages" not in boto3.client("sqs").receive_message(QueueUrl=queue)
    assert server.stack.emulator.records == []


def test_a_custom_event_with_a_hostile_spec_is_rejected_not_dead_lettered(server):
    deep: dict = {}
    cursor = deep
    for _ in range(30):
        cursor["k"] = {}
        cursor = cursor["k"]
    cases = [({"name": "a\u001b[2J"}, "name"), ({"spec": deep}, "k" + ".k" * 19), ({"spec": [1, 2]}, "(document)"),
             ({"spec": {"schedule": {"interval": 2 ** 70}}}, "schedule.interval")]
    cases += [({"spec": json.loads(case.data)}, case.path) for case in SPECS]
    for detail, path in cases:
        result = server.stack.deliver_async("aepflow-local-SpecIntakeFunction", {
            "version": "0", "id": f"hostile-{path}", "detail-type": "aepflow.DataflowRequested",
            "source": "aepflow.requests", "account": "123456789012", "time": "2025-11-24T16:00:00Z",
            "region": "us-east-1", "resources": [], "detail": detail})
        assert result["action"] == "rejected" and path in [p["path"] for p in result["problems"]], result
    queue = server.stack.queues["SpecIntakeDeadLetterQueue"]
    assert "Messages" not in boto3.client("sqs").receive_message(QueueUrl=queue)
    assert server.stack.emulator.records == []


def test_the_api_wants_a_sigv4_signature_as_api_gateway_does(server):
    api = server.info["api"]
    status, body, _, _ = signed_http.call("GET", f"{api}/dataflows", signed=False)
    assert (status, body) == (403, {"code": "MISSING_AUTHENTICATION_TOKEN", "message": "Missing Authentication Token"})
    status, body, _, _ = signed_http.call("GET", f"{api}/dataflows", headers={"Authorization": "Bearer x"},
                                          signed=False)
    assert status == 403 and body["code"] == "INCOMPLETE_SIGNATURE"
    signed = sigv4.sign("GET", f"{api}/dataflows?limit=2", access_key="testing", secret_key="testing",
                        region="us-east-1")
    status, body, _, _ = signed_http.call("GET", f"{api}/dataflows?limit=3", headers=signed, signed=False)
    assert status == 403 and body["code"] == "INVALID_SIGNATURE"  # signed for another query
    other = sigv4.sign("GET", f"{api}/dataflows", access_key="AKIDOTHER", secret_key="x", region="us-east-1")
    assert signed_http.call("GET", f"{api}/dataflows", headers=other, signed=False)[:2] == (
        403, {"code": "UNAUTHORIZED", "message": "The security token included in the request is invalid."})
    assert signed_http.call("GET", f"{api}/dataflows")[0] == 200
