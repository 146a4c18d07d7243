"""Amazon S3 as a source, on the local stack (the emulator reads the stack's own S3): through Adobe's IAM
role, with the statement aepflow adds to the bucket's policy beside the ones there and removes with the
dataflow; through an Access Key secret, rotated in place; a file's header held to the mapping before the
flow; a format option the file type does not take refused before any AEP call."""

import json
from pathlib import Path

import boto3
import pytest

from local.examples import example
from tests.signed_http import in_process as api

BUCKET = "acme-orders-exports"
ARCHIVE = str(Path(__file__).resolve().parents[1] / "fixtures" / "buckets")  # a --files folder: acme-orders-archive
# A statement the bucket's owner wrote: aepflow keeps it whatever it adds or removes.
FOREIGN = {"Sid": "AuditorsReadTheAuditFolder", "Effect": "Allow",
           "Principal": {"AWS": "arn:aws:iam::123456789012:role/auditors"}, "Action": "s3:GetObject",
           "Resource": f"arn:aws:s3:::{BUCKET}/audit/*"}


def _policy(stack) -> list[dict]:
    s3 = stack.client("s3")
    try:
        return json.loads(s3.get_bucket_policy(Bucket=BUCKET)["Policy"])["Statement"]
    except s3.exceptions.ClientError as exc:
        assert exc.response["Error"]["Code"] == "NoSuchBucketPolicy"
        return []


def _adobes(statements: list[dict], role: str) -> list[dict]:
    return [s for s in statements if (s.get("Principal") or {}).get("AWS") in (role, [role])]


def _connection(stack, connection_id: str) -> dict:
    """A base connection as the emulator holds it (dump_state masks every auth param)."""
    return stack.emulator._sandboxes["prod"].connections[connection_id]


def _aep_calls(stack, mark: int) -> list[dict]:
    return [r for r in stack.emulator.records[mark:] if "/ims/" not in r["path"]]


def test_an_iam_role_spec_goes_active_with_one_grant_beside_the_policy_and_delete_removes_only_it(stack):
    s3 = stack.client("s3")
    s3.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps({"Version": "2012-10-17", "Statement": [FOREIGN]}))
    role = stack.emulator.adobe_iam_role
    spec = example("005")
    [result] = stack.provision([spec])
    assert result["status"] == "ACTIVE", result
    statements = _policy(stack)
    ours = _adobes(statements, role)
    assert FOREIGN in statements and len(statements) == 1 + len(ours)
    # One grant for the dataflow: the objects of its prefix, and the listing of that prefix only, over TLS.
    actions = {a for s in ours for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert {"s3:GetObject", "s3:ListBucket"} <= actions
    assert all(s["Condition"]["Bool"]["aws:SecureTransport"] == "true" for s in ours)
    resources = [r for s in ours for r in ([s["Resource"]] if isinstance(s["Resource"], str) else s["Resource"])]
    assert f"arn:aws:s3:::{BUCKET}/orders/*" in resources and not any(r.endswith(f"{BUCKET}/*") for r in resources)
    state = stack.emulator.dump_state()
    assert _connection(stack, result["baseConnectionId"])["auth"] == {"specName": "IAMRole Based",
                                                                      "params": {"bucketName": BUCKET}}
    [source] = [c for c in state["sourceConnections"] if c["id"] == result["sourceConnectionId"]]
    assert source["params"] == {"path": f"/{BUCKET}/orders/", "type": "folder"}
    assert source["data"] == {"format": "delimited", "properties": {"columnDelimiter": ",", "encoding": "UTF-8"}}

    # The same spec again changes nothing, in AEP or in the policy.
    mark = len(stack.emulator.records)
    [again] = stack.provision([spec])
    assert again["status"] == "ACTIVE" and again.get("action") == "none", again
    assert not [r for r in _aep_calls(stack, mark) if r["method"] != "GET"]
    assert _policy(stack) == statements

    status, answer = api(stack, "DELETE", f"/dataflows/{spec['name']}")
    assert status == 200, answer
    assert _policy(stack) == [FOREIGN]
    assert [d["kind"] for d in answer["deleted"] if d["kind"] == "bucketGrant"] == ["bucketGrant"], answer


def test_a_column_the_csv_lacks_fails_before_the_flow_naming_it_and_rolls_the_grant_back(stack):
    spec = example("005")
    spec["name"] = "acme-s3-orders-typo"
    spec["mapping"][1]["source"] = "firstname"
    [result] = stack.provision([spec])
    assert result["status"] == "FAILED", result
    error = result["errors"][0]
    assert error["step"] == "explore-source" and "firstname" in error["message"], error
    [problem] = error["problems"]
    assert problem["path"] == "mapping[1].source" and "did you mean 'first_name'" in problem["message"]
    state = stack.emulator.dump_state()
    assert not state["flows"] and not [c for c in state["connections"] if "typo" in c["name"]]
    assert _adobes(_policy(stack), stack.emulator.adobe_iam_role) == []


def test_a_format_option_the_file_type_does_not_take_is_invalid_with_no_aep_call(stack):
    spec = example("005")
    spec["source"]["format"] = {"type": "json", "delimiter": ";"}
    mark = len(stack.emulator.records)
    [result] = stack.provision([spec])
    assert result["status"] == "INVALID"
    assert [e["path"] for e in result["errors"]] == ["source.format.delimiter"]
    assert stack.emulator.records[mark:] == []


def test_an_access_key_spec_sends_the_keys_and_a_rotated_session_token_reaches_aep_in_one_patch(stack):
    spec = example("005")
    spec["name"] = "acme-s3-orders-keys"
    spec["source"].pop("access")
    spec["source"].update(credentialsSecret="aep/sources/acme-s3", path="orders/*.csv")
    spec["target"]["schema"]["create"]["title"] = "ACME orders from S3 (keys)"
    spec["target"]["dataset"]["create"]["name"] = "ACME orders from S3 (keys)"
    mark = len(stack.emulator.records)
    [result] = stack.provision([spec])
    assert result["status"] == "ACTIVE", result
    [post] = [r for r in _aep_calls(stack, mark) if r["method"] == "POST" and r["path"].endswith("/connections")]
    assert post["body"]["auth"]["specName"] == "Access Key"
    assert set(post["body"]["auth"]["params"]) == {"s3AccessKey", "s3SecretKey", "s3SessionToken"}
    assert _adobes(_policy(stack), stack.emulator.adobe_iam_role) == []  # keys: no policy is touched

    mark = len(stack.emulator.records)
    value = {"s3AccessKey": "AKIALOCALFIXTURE0001", "s3SecretKey": "local-Fixture-S3-Secret-4Rt8",
             "s3SessionToken": "a-new-session-token-9Qw1"}
    sm = boto3.client("secretsmanager")
    answer = sm.put_secret_value(SecretId="aep/sources/acme-s3", SecretString=json.dumps(value))
    boto3.client("events").put_events(Entries=[{
        "Source": "aws.secretsmanager", "DetailType": "AWS API Call via CloudTrail",
        "Detail": json.dumps({"eventSource": "secretsmanager.amazonaws.com", "eventName": "PutSecretValue",
                              "requestParameters": {"secretId": "aep/sources/acme-s3"},
                              "responseElements": {"arn": answer["ARN"]}})}])
    writes = [r for r in _aep_calls(stack, mark) if r["method"] != "GET"]
    assert [(r["method"], r["path"].rsplit("/", 1)[-1]) for r in writes] == [("PATCH", result["baseConnectionId"])]
    assert writes[0]["body"]["path"] == "/auth/params"
    assert set(writes[0]["body"]["value"]) == {"s3AccessKey", "s3SecretKey", "s3SessionToken"}
    assert _connection(stack, result["baseConnectionId"])["auth"]["params"]["s3SessionToken"] == \
        "a-new-session-token-9Qw1"


def test_a_bucket_aepflow_may_not_change_fails_with_the_statements_and_goes_active_once_they_are_added(stack):
    s3 = stack.client("s3")
    bucket = "acme-handmade-exports"  # not among the stack's S3SourceBuckets
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="orders/2024-06.csv",
                  Body=b"order_id,customer_email,first_name,last_name\n1,a@example.com,Ana,Silva\n")
    spec = example("005")
    spec["name"] = "acme-s3-handmade"
    spec["source"]["bucket"] = bucket
    spec["target"]["schema"]["create"]["title"] = "ACME orders from S3 (by hand)"
    spec["target"]["dataset"]["create"]["name"] = "ACME orders from S3 (by hand)"
    [failed] = stack.provision([spec])
    assert failed["status"] == "FAILED", failed
    error = failed["errors"][0]
    assert error["step"] == "explore-source" and "Add these statements" in error["message"], error
    added = json.loads(error["message"].rsplit(": ", 1)[1])
    assert {s["Principal"]["AWS"] for s in added} == {stack.emulator.adobe_iam_role}
    with pytest.raises(s3.exceptions.ClientError):
        s3.get_bucket_policy(Bucket=bucket)  # aepflow wrote nothing there
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": added}))
    [result] = stack.provision([spec])
    assert result["status"] == "ACTIVE", result
    assert [w["path"] for w in result["warnings"]] == ["source.bucket"]  # it could not check the policy itself


@pytest.mark.stack(files=ARCHIVE)
def test_a_dataflow_moved_to_another_bucket_leaves_no_grant_in_the_old_one(stack):
    s3 = stack.client("s3")
    role = stack.emulator.adobe_iam_role
    spec = example("005")
    [first] = stack.provision([spec])
    assert first["status"] == "ACTIVE" and len(_adobes(_policy(stack), role)) == 2, first
    other = "acme-orders-archive"  # the same CSV, in a bucket --files gave the stack (so it may change its policy)
    spec["source"]["bucket"] = other
    [moved] = stack.provision([spec])
    assert moved["status"] == "ACTIVE" and moved["action"] == "replace", moved
    assert "baseConnection.access" in moved["changed"] or moved["replacedBecause"], moved
    assert _adobes(_policy(stack), role) == []  # the old bucket holds none of the dataflow's statements
    moved_policy = json.loads(s3.get_bucket_policy(Bucket=other)["Policy"])["Statement"]
    assert len(_adobes(moved_policy, role)) == 2


def test_a_folder_that_holds_no_file_yet_is_a_warning_and_a_path_that_is_not_there_fails_at_it(stack):
    stack.client("s3").put_object(Bucket=BUCKET, Key="incoming/", Body=b"")  # the console's "Create folder"
    empty, missing = example("005"), example("005")
    empty["name"], empty["source"]["path"] = "acme-s3-incoming", "incoming/"
    missing["name"], missing["source"]["path"] = "acme-s3-nowhere", "nowhere/*.csv"
    for spec in (empty, missing):
        spec["target"]["schema"]["create"]["title"] += f" ({spec['name']})"
        spec["target"]["dataset"]["create"]["name"] += f" ({spec['name']})"
    waiting, failed = stack.provision([empty, missing])
    assert waiting["status"] == "ACTIVE" and [w["path"] for w in waiting["warnings"]] == ["source.path"], waiting
    assert "holds no file yet" in waiting["warnings"][0]["message"]
    assert failed["status"] == "FAILED" and failed["errors"][0]["problems"][0]["path"] == "source.path", failed


def test_a_draft_makes_no_run_and_no_alert_until_published_then_runs_and_is_watched(stack):
    """apply --draft (POST /dataflows?draft=true) of example 005 (CloudStorageToAEP allows drafts, draft.md):
    AEP holds the flow as a draft, which makes no run while the clock moves, and the monitor alerts nothing
    of it; once published it runs on its schedule, and its failed run is alerted. A second publish is a 409,
    as is a draft of it now; a Zendesk draft (RestStorageToAEP says nothing of drafts) is refused at the door,
    saying why, with nothing created."""
    spec = example("005")
    name = spec["name"]
    status, answer = api(stack, "POST", "/dataflows?draft=true", spec)
    assert status == 202, answer
    stack.settle()
    status, view = api(stack, "GET", f"/dataflows/{name}")
    assert view["status"] == "ACTIVE" and view["ids"]["draft"] is True, view
    flow_id = view["ids"]["flowId"]
    assert view["flow"]["state"] == "draft"
    [post] = [r for r in stack.emulator.records if r["method"] == "POST" and r["path"].endswith("/flows")]
    assert post["query"] == {"mode": "draft"}

    stack.emulator.set_run_outcomes(flow_id, ["failed"])
    stack.emulator.advance(hours=3)  # three hourly ticks of its schedule pass
    stack.run_monitor()  # the first poll: the registry's sync, then the check
    assert [r for r in stack.emulator.dump_state()["runs"] if r["flowId"] == flow_id] == []
    assert [m for m in stack.messages() if name in (m["Message"] or "")] == []

    # The emulated clock starts at the wall clock's minute: while it is a draft (no run), bring it to half
    # past an hour, so that the 65 minutes below hold exactly one of its hourly ticks, whatever the minute.
    hour = 3_600_000
    stack.emulator.advance(seconds=((hour // 2 - stack.emulator.now_ms % hour) % hour) / 1000)
    status, published = api(stack, "POST", f"/dataflows/{name}/publish")
    assert status == 200 and published["published"] is True and published["state"] == "enabled", published
    status, view = api(stack, "GET", f"/dataflows/{name}")
    assert "draft" not in view["ids"] and view["flow"]["state"] == "enabled", view
    stack.emulator.advance(minutes=65)  # its next hourly run (failed), and the registry's next sync
    stack.run_monitor()
    runs = [r for r in stack.emulator.dump_state()["runs"] if r["flowId"] == flow_id]
    assert len(runs) == 1 and runs[0]["metrics"]["statusSummary"]["status"] == "failed", runs
    alerts = [m for m in stack.messages() if flow_id in (m["Message"] or "")]
    assert len(alerts) == 1 and alerts[0]["MessageAttributes"]["problem"] == "failed", alerts

    status, again = api(stack, "POST", f"/dataflows/{name}/publish")
    assert status == 409 and again["code"] == "NotADraft", again
    status, refused = api(stack, "POST", "/dataflows?draft=true", spec)
    assert status == 409 and refused["code"] == "AlreadyPublished", refused

    mark = len(stack.emulator.records)
    status, refused = api(stack, "POST", "/dataflows?draft=true", example("002"))
    assert status == 400 and refused["code"] == "DraftNotSupported", refused
    assert "RestStorageToAEP" in refused["message"] and "isDraftModeSupported" in refused["message"], refused
    assert [r["method"] for r in _aep_calls(stack, mark)] == ["GET"]  # the flow spec, which says no
