"""Adobe's IAM role let into an S3 source's bucket (source.access: iam-role): the dataflow's two statements
(aepflow/s3/policy.py), merged into and taken out of a bucket policy read as hostile input, the S3 calls
and their refusals (aepflow/s3/grants.py, against an in-memory bucket that refuses what S3 refuses), the
step that journals the grant (steps/bucket.py), the roll-back that removes it and the delete that does."""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from aepflow.core import settings
from aepflow.core.errors import AepServerError, BucketPolicyRefused, S3Unavailable
from aepflow.ops import delete
from aepflow.s3 import grants, policy
from aepflow.spec.parse import parse_spec, resolve_source
from aepflow.steps import bucket, rollback
from aepflow.steps.context import Context, StepEvent
from tests.fakes import FakeStore, fake_clients

ACCOUNT = "123456789012"
ROLE = "arn:aws:iam::768888888888:role/adobe-platform-s3-reader"
BUCKET = "acme-orders"
FOREIGN = {"Sid": "TheirBackupJob", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
           "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/backups/*"}
READ_SID, LIST_SID = policy.sids("acme-s3-orders")


class FakeBucketPolicies:
    """Buckets' policies as S3 keeps them: GetBucketPolicy (NoSuchBucketPolicy when none), PutBucketPolicy
    (a JSON object of at most 20 KB, else MalformedPolicy / PolicyTooLarge), DeleteBucketPolicy; a bucket
    of another account refused (403) when ExpectedBucketOwner is sent. Every call is kept."""

    def __init__(self, owners: dict[str, str] | None = None) -> None:
        self.owners = owners or {BUCKET: ACCOUNT, "acme-other": ACCOUNT}
        self.policies: dict[str, str] = {}
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.fail: dict[str, tuple[str, int]] = {}  # operation -> (code, status), answered once
        self.meanwhile: list[str] = []  # policies another writer puts while aepflow pauses, one a pause

    def pause(self) -> None:
        """grants' pause before it reads the policy back: another writer's put lands then, if the test says."""
        if self.meanwhile:
            self.policies[BUCKET] = self.meanwhile.pop(0)

    @staticmethod
    def _error(code: str, status: int, operation: str) -> ClientError:
        return ClientError({"Error": {"Code": code, "Message": f"{code} (fake)"},
                            "ResponseMetadata": {"HTTPStatusCode": status}}, operation)

    def _call(self, operation: str, params: dict[str, Any]) -> str:
        self.calls.append((operation, params))
        if operation in self.fail:
            raise self._error(*self.fail.pop(operation), operation)
        bucket_name = params["Bucket"]
        if bucket_name not in self.owners:
            raise self._error("NoSuchBucket", 404, operation)
        owner = params.get("ExpectedBucketOwner")
        if owner is not None and owner != self.owners[bucket_name]:
            raise self._error("AccessDenied", 403, operation)
        return bucket_name

    def get_bucket_policy(self, **params: Any) -> dict[str, Any]:
        name = self._call("GetBucketPolicy", params)
        if name not in self.policies:
            raise self._error("NoSuchBucketPolicy", 404, "GetBucketPolicy")
        return {"Policy": self.policies[name]}

    def put_bucket_policy(self, **params: Any) -> dict[str, Any]:
        name = self._call("PutBucketPolicy", params)
        text = params["Policy"]
        if len(text.encode()) > policy.MAX_POLICY_BYTES:
            raise self._error("PolicyTooLarge", 400, "PutBucketPolicy")
        if not isinstance(json.loads(text), dict):
            raise self._error("MalformedPolicy", 400, "PutBucketPolicy")
        self.policies[name] = text
        return {}

    def delete_bucket_policy(self, **params: Any) -> dict[str, Any]:
        self.policies.pop(self._call("DeleteBucketPolicy", params), None)
        return {}

    def statements(self, name: str = BUCKET) -> list[dict[str, Any]]:
        return json.loads(self.policies[name])["Statement"]

    def writes(self) -> list[str]:
        return [operation for operation, _ in self.calls if operation != "GetBucketPolicy"]


@pytest.fixture
def s3(monkeypatch):
    """The stack may change acme-orders' and acme-other's policies (its account's); S3 is in memory."""
    monkeypatch.setenv("S3_SOURCE_BUCKETS", f"{BUCKET},acme-other")
    monkeypatch.setenv("AEPFLOW_ACCOUNT_ID", ACCOUNT)
    settings.forget()
    fake = FakeBucketPolicies()
    fake_clients(monkeypatch, s3=fake)
    monkeypatch.setattr(grants, "_pause", fake.pause)
    yield fake
    settings.forget()


def _grant(path: str = "orders/", recursive: bool = False, name: str = "acme-s3-orders") -> grants.Grant:
    return grants.for_dataflow(name, BUCKET, path, recursive, ROLE)


# --- The statements ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("path", "recursive", "pattern", "prefix"), [
    ("orders/2024.csv", False, "orders/2024.csv", "orders/"),  # a file: itself
    ("orders/", False, "orders/*", "orders/"),  # a folder: its files
    ("orders/*.csv", False, "orders/*.csv", "orders/"),  # a wildcard: as written
    ("orders/", True, "orders/*", "orders/"),  # recursive: the folder's *
    ("orders/*.csv", True, "orders/*", "orders/"),
    ("exports/orders/2024/may.json", True, "exports/orders/2024/may.json", "exports/orders/2024/"),
    ("a?.csv", False, "a${?}.csv", None),  # at the root: the whole bucket is listed; ? is literal
])
def test_the_read_covers_the_path_alone_and_the_listing_its_folder(path, recursive, pattern, prefix):
    read, listing = policy.statements("acme-s3-orders", BUCKET, path, recursive, ROLE)
    assert policy.object_pattern(path, recursive) == pattern.replace("${?}", "?")
    assert read == {"Sid": READ_SID, "Effect": "Allow", "Principal": {"AWS": ROLE},
                    "Action": ["s3:GetObject", "s3:GetObjectVersion"], "Resource": f"arn:aws:s3:::{BUCKET}/{pattern}",
                    "Condition": {"Bool": {"aws:SecureTransport": "true"}}}
    assert listing["Sid"] == LIST_SID and listing["Action"] == ["s3:ListBucket"]
    assert listing["Resource"] == f"arn:aws:s3:::{BUCKET}" and listing["Principal"] == {"AWS": ROLE}
    condition = listing["Condition"]
    assert condition["Bool"] == {"aws:SecureTransport": "true"}
    assert condition.get("StringLike") == ({"s3:prefix": [prefix, prefix + "*"]} if prefix else None)


def test_each_dataflow_has_its_own_alphanumeric_sids_and_the_principal_keeps_its_partition():
    digest = hashlib.sha256(b"acme-s3-orders").hexdigest()[:16]
    assert (READ_SID, LIST_SID) == (f"AepflowRead{digest}", f"AepflowList{digest}")
    assert READ_SID.isalnum() and policy.sids("acme-s3-returns") != (READ_SID, LIST_SID)
    [read, _] = policy.statements("x-flow", BUCKET, "a.csv", False, "arn:aws-cn:iam::123456789012:role/r")
    assert read["Resource"] == f"arn:aws-cn:s3:::{BUCKET}/a.csv"
    [read, _] = policy.statements("x-flow", BUCKET, "a.csv", False, "768888888888")  # as S3 would keep it
    assert read["Principal"] == {"AWS": "arn:aws:iam::768888888888:root"}


@pytest.mark.parametrize("role", [
    None, 768888888888, "", "*", "arn:aws:iam::123:role/r", "AROAEXAMPLE", "arn:aws:sts::768888888888:assumed-role/r/s",
    "arn:aws:iam::768888888888:role/", 'arn:aws:iam::768888888888:role/r"},{"Effect":"Allow',
    "arn:aws:iam::768888888888:róle/r", "arn:aws:iam::768888888888:role/" + "r" * 2100,
    ["arn:aws:iam::768888888888:role/r"]])
def test_a_role_that_is_not_an_iam_arn_or_an_account_is_refused(role):
    assert policy.principal_problem(role)
    with pytest.raises(ValueError):
        policy.statements("acme-s3-orders", BUCKET, "orders/", False, role)


def test_a_path_or_bucket_the_spec_would_refuse_is_refused_here_too():
    for bucket_name, path in (("Acme", "orders/"), (BUCKET, "../x"), (BUCKET, "/orders/"), (BUCKET, "a/*/b.csv")):
        with pytest.raises(ValueError):
            policy.statements("acme-s3-orders", bucket_name, path, False, ROLE)


# --- A policy read as hostile input -------------------------------------------------------------------

@pytest.mark.parametrize(("text", "says"), [
    (None, "not text"), ({"Statement": []}, "not text"), ("x" * (20 * 1024 + 1), "more than S3's"),
    ("{", "not JSON"), ('{"Statement": [], "Statement": []}', "twice"), ('{"Statement": [NaN]}', "NaN"),
    ("[" * 5000 + "]" * 5000, "not JSON"), ("[]", "not a JSON object"), ('{"Version": "2012-10-17"}', "Statement"),
    ('{"Statement": "allow"}', "Statement"), ('{"Statement": [1]}', "Statement[0]"),
    ('{"Statement": [{"Sid": 7}]}', "Statement[0].Sid"),
])
def test_a_policy_that_is_not_one_is_refused_saying_why(text, says):
    with pytest.raises(policy.PolicyUnreadable, match=says.replace("[", r"\[").replace("]", r"\]")):
        policy.parse(text)


def test_a_policy_of_one_statement_reads_as_a_list_of_it():
    assert policy.parse(json.dumps({"Version": "2008-10-17", "Statement": FOREIGN})) == {
        "Version": "2008-10-17", "Statement": [FOREIGN]}


def test_merging_keeps_every_other_statement_in_its_place_and_replaces_ours_by_sid():
    old = _grant("invoices/").statements
    document = {"Version": "2012-10-17", "Id": "acme", "Statement": [FOREIGN, old[0], {"Sid": "Other"}, old[1], old[1]]}
    new = _grant("orders/").statements
    merged = policy.merged(document, new)
    assert merged == {"Version": "2012-10-17", "Id": "acme", "Statement": [FOREIGN, new[0], {"Sid": "Other"}, new[1]]}
    assert document["Statement"][1] == old[0]  # the document read is not changed
    assert policy.merged(None, new) == {"Version": "2012-10-17", "Statement": new}
    assert policy.without(merged, (READ_SID, LIST_SID)) == {"Version": "2012-10-17", "Id": "acme",
                                                           "Statement": [FOREIGN, {"Sid": "Other"}]}
    assert policy.without({"Statement": new}, (READ_SID, LIST_SID)) is None
    # A list of one value reads as that value, as S3 may keep it.
    assert policy.same({"Statement": [dict(new[1], Action="s3:ListBucket")]}, {"Statement": [new[1]]})


# --- The S3 calls -------------------------------------------------------------------------------------

def test_ensure_adds_beside_what_is_there_and_a_second_ensure_writes_nothing(s3):
    s3.policies[BUCKET] = json.dumps({"Version": "2012-10-17", "Statement": [FOREIGN]})
    told: list[bool] = []
    assert grants.ensure(_grant(), before_write=told.append) == grants.ADDED
    assert told == [False]
    assert s3.statements() == [FOREIGN, *_grant().statements]
    assert all(params["ExpectedBucketOwner"] == ACCOUNT for _, params in s3.calls)
    s3.calls.clear()
    assert grants.ensure(_grant(), before_write=told.append) == grants.UNCHANGED
    assert s3.writes() == [] and told == [False]
    # The path changed: ours replaced in place, the one before them kept.
    assert grants.ensure(_grant("orders/2024/", recursive=True), before_write=told.append) == grants.UPDATED
    assert told == [False, True]
    assert s3.statements() == [FOREIGN, *_grant("orders/2024/", recursive=True).statements]


def test_two_dataflows_on_one_prefix_hold_a_pair_each_and_removing_one_keeps_the_other(s3):
    ours, theirs = _grant(), _grant(name="acme-s3-orders-again")
    assert grants.ensure(ours) == grants.ADDED and grants.ensure(theirs) == grants.ADDED
    assert len(s3.statements()) == 4
    assert grants.remove(grants.of_dataflow("acme-s3-orders", BUCKET)) is True
    assert s3.statements() == theirs.statements
    assert grants.remove(grants.of_dataflow("acme-s3-orders", BUCKET)) is False  # gone: nothing written
    assert s3.writes() == ["PutBucketPolicy", "PutBucketPolicy", "PutBucketPolicy"]
    assert grants.remove(theirs) is True
    assert BUCKET not in s3.policies and s3.writes()[-1] == "DeleteBucketPolicy"  # emptied: deleted


def test_a_writer_that_put_the_policy_back_without_ours_is_overtaken_and_one_that_keeps_doing_it_is_transient(s3):
    # Another provisioning read the policy before our write and put it back after it, with its own pair.
    theirs = _grant(name="acme-s3-returns")
    s3.meanwhile = [json.dumps({"Statement": [FOREIGN, *theirs.statements]})]
    assert grants.ensure(_grant()) == grants.ADDED
    assert s3.statements() == [FOREIGN, *theirs.statements, *_grant().statements]
    assert s3.writes() == ["PutBucketPolicy", "PutBucketPolicy"]
    # A removal undone by such a writer is made again.
    s3.meanwhile = [json.dumps({"Statement": [FOREIGN, *theirs.statements, *_grant().statements]})]
    assert grants.remove(_grant()) is True and s3.statements() == [FOREIGN, *theirs.statements]
    assert s3.writes() == ["PutBucketPolicy"] * 4
    s3.meanwhile = [json.dumps({"Statement": [FOREIGN]})] * (grants.SETTLE_ATTEMPTS + 1)
    with pytest.raises(S3Unavailable, match="kept changing"):
        grants.ensure(_grant())
    assert s3.writes() == ["PutBucketPolicy"] * (4 + grants.SETTLE_ATTEMPTS)


def test_a_bucket_the_stack_may_not_change_is_refused_before_any_call_naming_the_statements(s3):
    grant = grants.for_dataflow("acme-s3-orders", "someone-elses", "orders/", False, ROLE)
    with pytest.raises(BucketPolicyRefused) as refused:
        grants.ensure(grant)
    assert s3.calls == []
    message = refused.value.message
    assert "'someone-elses'" in message and "S3SourceBuckets parameter lists acme-orders, acme-other" in message
    assert json.dumps(grant.statements, separators=(",", ":")) in message
    assert refused.value.statements == grant.statements and refused.value.problems[0]["path"] == "source.bucket"
    with pytest.raises(BucketPolicyRefused, match="Remove the statements whose Sid is AepflowRead"):
        grants.remove(grants.of_dataflow("acme-s3-orders", "someone-elses"))
    assert s3.calls == []


def test_another_accounts_bucket_and_a_policy_s3_refuses_are_refused_with_the_statements(s3):
    s3.owners[BUCKET] = "999999999999"  # ExpectedBucketOwner: S3 answers 403
    with pytest.raises(BucketPolicyRefused, match=r"S3 refused \(403\)") as refused:
        grants.ensure(_grant())
    assert refused.value.status == 403 and READ_SID in refused.value.message and ROLE in refused.value.message
    s3.owners[BUCKET] = ACCOUNT
    s3.fail["PutBucketPolicy"] = ("MalformedPolicy", 400)
    with pytest.raises(BucketPolicyRefused, match="S3 refused the policy"):
        grants.ensure(_grant())
    s3.policies[BUCKET] = "[1, 2]"
    with pytest.raises(BucketPolicyRefused, match="not one aepflow reads: it is not a JSON object"):
        grants.ensure(_grant())
    # A policy S3 holds, a few hundred bytes under its limit: aepflow's pair would outgrow it.
    near_full = {"Statement": [dict(FOREIGN, Resource=[])]}
    room = policy.MAX_POLICY_BYTES - 300 - len(json.dumps(near_full, separators=(",", ":")))
    near_full["Statement"][0]["Resource"] = [f"arn:aws:s3:::{BUCKET}/" + "k" * (room - 22)]
    s3.policies[BUCKET] = json.dumps(near_full, separators=(",", ":"))
    assert policy.MAX_POLICY_BYTES - 400 < len(s3.policies[BUCKET]) <= policy.MAX_POLICY_BYTES
    with pytest.raises(BucketPolicyRefused, match="would be [0-9]+ bytes with aepflow's statements, more than S3's"):
        grants.ensure(_grant())
    del s3.owners["acme-other"]
    with pytest.raises(BucketPolicyRefused, match="there is no such bucket"):
        grants.ensure(grants.for_dataflow("acme-s3-orders", "acme-other", "a.csv", False, ROLE))


def test_s3_throttling_and_no_answer_are_transient(s3, monkeypatch):
    for code, status in (("SlowDown", 503), ("OperationAborted", 409), ("InternalError", 500)):
        s3.fail["GetBucketPolicy"] = (code, status)
        with pytest.raises(S3Unavailable, match=code):
            grants.ensure(_grant())

    def unreachable(**_: Any) -> Any:
        raise EndpointConnectionError(endpoint_url="https://s3.amazonaws.com")
    monkeypatch.setattr(s3, "get_bucket_policy", unreachable)
    with pytest.raises(S3Unavailable, match="did not answer"):
        grants.remove(_grant())


def test_without_the_stacks_account_nothing_is_called(s3, monkeypatch):
    monkeypatch.delenv("AEPFLOW_ACCOUNT_ID")
    settings.forget()
    with pytest.raises(BucketPolicyRefused, match="AEPFLOW_ACCOUNT_ID"):
        grants.ensure(_grant())
    assert s3.calls == []


def test_a_grant_id_reads_back_and_a_hostile_one_is_refused():
    grant = _grant()
    assert grants.Grant.of_id(grant.id) == grants.of_dataflow("acme-s3-orders", BUCKET)
    for hostile in (None, "", f"{BUCKET}/{READ_SID}", f"Acme/{READ_SID},{LIST_SID}", f"{BUCKET}/{LIST_SID},{READ_SID}",
                    f"{BUCKET}/{READ_SID},{LIST_SID}x", f"a..b/{READ_SID},{LIST_SID}"):
        with pytest.raises(ValueError):
            grants.Grant.of_id(hostile)


# --- The step, the roll-back, the delete ------------------------------------------------------------------

SPEC = {"name": "acme-s3-orders",
        "source": {"connector": "s3", "access": "iam-role", "bucket": BUCKET, "path": "orders/",
                   "format": {"type": "delimited"}},
        "target": {"schema": {"create": {"title": "ACME orders", "class": "https://ns.adobe.com/xdm/context/profile",
                                         "fieldGroups": ["https://ns.adobe.com/xdm/context/profile-person-details"]}},
                   "dataset": {"create": {"name": "ACME orders"}}},
        "mapping": [{"source": "first_name", "destination": "person.name.firstName"}],
        "schedule": {"frequency": "hour", "interval": 1, "startTime": 1717200000}}


class FakeAep:
    sandbox = "prod"

    def __init__(self, answer: Any) -> None:
        self.answer, self.asked = answer, []

    def get(self, service: str, path: str, params: dict[str, str] | None = None, **_: Any) -> Any:
        self.asked.append((service, path, params))
        return copy.deepcopy(self.answer)


class FakeJournal:
    """The roll-back journal of one execution (store/journal.Journal's calls), in memory."""

    def __init__(self, execution: str = "arn:x", sandbox: str = "prod", entries: list[dict[str, Any]] | None = None,
                 rolling: bool = False) -> None:
        self.entries, self.rolling = entries if entries is not None else [], rolling

    def intend(self, kind: str, name: str) -> str:
        self.entries.append({"sk": f"RESOURCE#{len(self.entries):020d}", "kind": kind, "name": name,
                             "state": "intended"})
        return self.entries[-1]["sk"]

    def _entry(self, sort_key: str) -> dict[str, Any]:
        return next(e for e in self.entries if e["sk"] == sort_key)

    def created(self, sort_key: str, resource_id: str) -> None:
        self._entry(sort_key).update(state="created", resourceId=resource_id)

    def mark(self, sort_key: str, state: str) -> None:
        self._entry(sort_key)["state"] = state

    def rolling_back(self) -> bool:
        return self.rolling

    def entries_newest_first(self) -> list[dict[str, Any]]:
        return list(reversed(self.entries))


def _context(answer: Any, journal: FakeJournal, spec: dict[str, Any] = SPEC) -> tuple[Context, FakeAep]:
    parsed = parse_spec(copy.deepcopy(spec))
    state = {"spec": parsed.model_dump(mode="json", by_alias=True, exclude_none=True),
             "resolved": resolve_source(parsed).model_dump(mode="json")}
    client = FakeAep(answer)
    ctx = Context(StepEvent(json.loads(json.dumps(state)), execution="arn:x"), client=client)  # type: ignore[arg-type]
    ctx._journal = journal  # type: ignore[assignment]
    return ctx, client


def test_the_step_reads_adobes_role_grants_the_path_and_journals_it_once(s3):
    journal = FakeJournal()
    ctx, aep = _context({"configParams": {"IAMRole": ROLE}}, journal)
    assert bucket.grant_bucket_read(ctx) is None
    assert aep.asked == [("flowservice", "/connectionSpecs/ecadc60c-7455-4d87-84dc-2a0e293d997b/configs",
                          {"authType": "IamBasedAuthentication"})]
    assert s3.statements() == _grant().statements
    assert journal.entries == [{"sk": journal.entries[0]["sk"], "kind": "bucketGrant", "name": _grant().id,
                                "state": "created", "resourceId": _grant().id}]
    # A re-apply: nothing written, and the roll-back of this execution would leave the grant.
    again = FakeJournal()
    bucket.grant_bucket_read(_context({"configParams": {"IAMRole": ROLE}}, again)[0])
    assert s3.writes() == ["PutBucketPolicy"] and [e["state"] for e in again.entries] == ["found"]


def test_a_step_that_a_roll_back_overtook_removes_its_grant(s3):
    journal = FakeJournal(rolling=True)
    bucket.grant_bucket_read(_context({"configParams": {"IAMRole": ROLE}}, journal)[0])
    assert BUCKET not in s3.policies and [e["state"] for e in journal.entries] == ["deleted"]


@pytest.mark.parametrize("answer", [None, [], {"configParams": None}, {"configParams": {}},
                                    {"configParams": {"IAMRole": "*"}}, {"configParams": {"IAMRole": {"AWS": "*"}}}])
def test_a_role_aep_answers_that_is_not_one_fails_before_any_s3_call(s3, answer):
    with pytest.raises(AepServerError, match="configParams.IAMRole"):
        bucket.grant_bucket_read(_context(answer, FakeJournal())[0])
    assert s3.calls == []


def test_a_source_read_with_keys_grants_nothing(s3):
    spec = copy.deepcopy(SPEC)
    del spec["source"]["access"]
    spec["source"]["credentialsSecret"] = "aep/sources/acme-s3"
    ctx, aep = _context({"configParams": {"IAMRole": ROLE}}, FakeJournal(), spec)
    assert bucket.grant_bucket_read(ctx) is None and aep.asked == [] and s3.calls == []


def _roll_back(monkeypatch, entries: list[dict[str, Any]]) -> rollback.RollBackResult:
    journal = FakeJournal(entries=entries)
    monkeypatch.setattr(rollback.journal, "Journal", lambda execution, sandbox: journal)
    monkeypatch.setattr(rollback.journal, "begin_roll_back", lambda execution: None)
    monkeypatch.setattr(rollback.journal, "put_outcome", lambda execution, outcome: None)
    monkeypatch.setattr(rollback, "aep_client", lambda sandbox=None: FakeAep(None))
    state = {"spec": {"name": "acme-s3-orders", "sandbox": "prod"}, "resolved": {},
             "error": {"Error": "AepServerError", "Cause": json.dumps({"errorMessage": "boom"})}}
    return rollback.roll_back(state, "arn:x")


def test_the_roll_back_removes_what_the_execution_granted_and_leaves_what_it_found(s3, monkeypatch):
    grants.ensure(_grant())
    grants.ensure(_grant(name="acme-s3-other"))
    entries = [{"sk": "RESOURCE#1", "kind": "bucketGrant", "name": _grant().id, "state": "intended"},
               {"sk": "RESOURCE#2", "kind": "bucketGrant", "name": _grant(name="acme-s3-other").id, "state": "found"}]
    result = _roll_back(monkeypatch, entries)
    assert result.rolledBack == [{"kind": "bucketGrant", "id": _grant().id}] and result.leftBehind == []
    assert s3.statements() == _grant(name="acme-s3-other").statements
    assert [e["state"] for e in entries] == ["deleted", "found"]


def test_a_roll_back_s3_refuses_leaves_the_grant_behind_saying_what_to_remove(s3, monkeypatch):
    s3.owners[BUCKET] = "999999999999"
    entries = [{"sk": "RESOURCE#1", "kind": "bucketGrant", "name": _grant().id, "state": "created",
                "resourceId": _grant().id}]
    result = _roll_back(monkeypatch, entries)
    [left] = result.leftBehind
    assert left["kind"] == "bucketGrant" and left["id"] == _grant().id
    assert f"Remove the statements whose Sid is {READ_SID} and {LIST_SID}" in left["reason"]
    assert entries[0]["state"] == "created"


def test_deleting_the_dataflow_removes_its_statements_after_its_flow_or_leaves_them_behind(s3, monkeypatch):
    store = FakeStore().install(monkeypatch)
    deleted: list[tuple[str, str]] = []
    monkeypatch.setattr(delete, "aep_client", lambda sandbox=None: FakeAep(None))
    monkeypatch.setattr(delete.resources, "delete_by_kind", lambda client, kind, rid: deleted.append((kind, rid)))
    grants.ensure(_grant())
    grants.ensure(_grant(name="acme-s3-other"))
    store.put_record("acme-s3-orders", parse_spec(copy.deepcopy(SPEC)).model_dump(
        mode="json", by_alias=True, exclude_none=True), ids={"flowId": "flow-1"})
    store.adopted("acme-s3-orders", "test")
    result = delete.delete("acme-s3-orders")
    assert deleted == [("flow", "flow-1")]
    assert result["deleted"][-1] == {"kind": "bucketGrant", "id": _grant().id}
    assert s3.statements() == _grant(name="acme-s3-other").statements
    # Another account's bucket now: the statements are left behind, with what to remove by hand.
    other = dict(copy.deepcopy(SPEC), name="acme-s3-other")
    store.put_record("acme-s3-other", parse_spec(other).model_dump(mode="json", by_alias=True, exclude_none=True),
                     ids={"flowId": "flow-2"})
    store.adopted("acme-s3-other", "test")
    s3.owners[BUCKET] = "999999999999"
    result = delete.delete("acme-s3-other")
    [left] = result["leftBehind"]
    assert left["kind"] == "bucketGrant" and "S3 refused (403)" in left["reason"]
    assert result["status"] == "DELETED" and store.record("acme-s3-other") is None


def test_the_calls_are_ones_s3_takes(monkeypatch):
    """The same add, re-add and remove through boto3 against moto's S3: botocore holds the calls to S3's
    model (ExpectedBucketOwner included), and moto answers NoSuchBucketPolicy as S3 does."""
    import boto3
    from moto import mock_aws

    monkeypatch.setenv("S3_SOURCE_BUCKETS", BUCKET)
    monkeypatch.setenv("AEPFLOW_ACCOUNT_ID", ACCOUNT)
    settings.forget()
    monkeypatch.setattr(grants, "_pause", lambda: None)
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        client.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps({"Version": "2012-10-17", "Statement": [FOREIGN]}))
        assert grants.ensure(_grant(), client=client) == grants.ADDED
        assert grants.ensure(_grant(), client=client) == grants.UNCHANGED
        held = json.loads(client.get_bucket_policy(Bucket=BUCKET)["Policy"])["Statement"]
        assert held == [FOREIGN, *_grant().statements]
        assert grants.remove(_grant(), client=client) is True
        assert json.loads(client.get_bucket_policy(Bucket=BUCKET)["Policy"])["Statement"] == [FOREIGN]
        client.delete_bucket_policy(Bucket=BUCKET)
        assert grants.remove(_grant(), client=client) is False
    settings.forget()
