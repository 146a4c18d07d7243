"""A dataflow's statements added to and removed from its source bucket's policy: GetBucketPolicy,
PutBucketPolicy and DeleteBucketPolicy through the process's one S3 client (core.aws).

Refused before any call: a bucket the stack may not change (not in its S3SourceBuckets parameter), or
while the stack's account is unknown. Every call sends ExpectedBucketOwner, the stack's account, so S3
refuses (403) a bucket of another account, whoever's policy would allow the change. Each refusal, S3's
403 too, is a BucketPolicyRefused naming the bucket, why, and the statements to add (or the Sids to
remove) by hand. S3's throttling, its 5xx, its 409 OperationAborted (another change of the bucket's
configuration under way) and a call without answer are S3Unavailable: transient.

Read, merge, write: PutBucketPolicy only when the policy changes (a second apply writes nothing), and
DeleteBucketPolicy when removing leaves no statement. S3 has no conditional write of a bucket policy: two
provisionings that change one bucket's policy at the same moment each read it, and the later write drops
the earlier one's statements. So a change is read back after a short jittered pause and made again on
what is there until the policy says it (SETTLE_ATTEMPTS); a writer that still loses (a read staler than the
pause) has its statements added again by the next apply of its dataflow (docs/decisions.md)."""

from __future__ import annotations

import json
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from aepflow.core import aws, settings
from aepflow.core.errors import BucketPolicyRefused, S3Unavailable
from aepflow.core.settings import SourceBucketSettings
from aepflow.s3 import policy
from aepflow.spec.files import bucket_problem

# The journal's kind of a grant (steps/bucket.py writes it, steps/rollback.py undoes it) and the kind
# a delete reports.
KIND = "bucketGrant"
ADDED, UPDATED, UNCHANGED = "added", "updated", "unchanged"
# After a write, the policy is read back (after a jittered pause) until it says what was written, at most
# this many more writes (see _settle).
SETTLE_ATTEMPTS = 3
SETTLE_SECONDS = (0.2, 0.4)
_TRANSIENT_CODES = {"SlowDown", "Throttling", "ThrottlingException", "RequestLimitExceeded", "OperationAborted",
                    "InternalError", "ServiceUnavailable", "RequestTimeout"}
_ID = re.compile(r"^([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/(AepflowRead[0-9a-f]{16}),(AepflowList[0-9a-f]{16})$")


@dataclass(frozen=True)
class Grant:
    """A dataflow's two statements in a bucket's policy: the bucket, their Sids (read, list) and, when
    they are to be added, the statements themselves."""

    bucket: str
    sids: tuple[str, str]
    statements: list[dict[str, Any]] = field(default_factory=list, compare=False)

    @property
    def id(self) -> str:
        """`<bucket>/<read Sid>,<list Sid>`: what the journal and a delete's result name it by."""
        return f"{self.bucket}/{','.join(self.sids)}"

    @classmethod
    def of_id(cls, text: object) -> Grant:
        """The grant an id names (read back from the journal); ValueError when it is not one."""
        found = _ID.match(text) if isinstance(text, str) else None
        if not found or bucket_problem(found.group(1)):
            raise ValueError(f"not a bucket grant's id: {str(text)[:200]!r}")
        return cls(found.group(1), (found.group(2), found.group(3)))


def for_dataflow(name: str, bucket: str, path: str, recursive: bool, role: str) -> Grant:
    """The grant that lets `role` read the dataflow's `path` in `bucket` (ValueError on a hostile value)."""
    return Grant(bucket, policy.sids(name), policy.statements(name, bucket, path, recursive, role))


def of_dataflow(name: str, bucket: str) -> Grant:
    """The dataflow's grant in `bucket`, to remove: its Sids are enough."""
    if bucket_problem(bucket):
        raise ValueError(f"not a bucket name: {bucket[:100]!r}")
    return Grant(bucket, policy.sids(name))


def withdraw(name: str, bucket: str) -> tuple[dict[str, Any], str | None]:
    """Take the dataflow's statements out of `bucket`'s policy (a delete, a move to another bucket or to keys):
    ({kind, id}, None), with `note: already gone` when none was there; or ({kind, id}, why) when aepflow may
    not (BucketPolicyRefused's message, naming the Sids to remove by hand). S3's transient errors raise."""
    grant = of_dataflow(name, bucket)
    entry: dict[str, Any] = {"kind": KIND, "id": grant.id}
    try:
        removed = remove(grant)
    except BucketPolicyRefused as exc:
        return entry, exc.message
    return (entry if removed else {**entry, "note": "already gone"}), None


# --- Refusals ------------------------------------------------------------------------------------------

def _refused(grant: Grant, why: str, *, adding: bool, status: int | None = None) -> BucketPolicyRefused:
    if adding:
        by_hand = ("To let Adobe's role read the files, add these statements to the bucket's policy by hand: "
                   + json.dumps(grant.statements, separators=(",", ":")))
    else:
        by_hand = f"Remove the statements whose Sid is {' and '.join(grant.sids)} from the bucket's policy by hand"
    verb = "add its statements to" if adding else "remove its statements from"
    return BucketPolicyRefused(f"aepflow cannot {verb} the policy of bucket {grant.bucket!r}: {why}. {by_hand}",
                               code="BucketPolicyRefused", status=status, statements=list(grant.statements),
                               problems=[{"path": "source.bucket", "message": why}])


def _owner(grant: Grant, *, adding: bool) -> str:
    """The stack's account, once the bucket is one the stack may change (else refused, before any call)."""
    config = settings.load(SourceBucketSettings)
    allowed = config.source_buckets()
    if grant.bucket not in allowed:
        listed = ", ".join(allowed) if allowed else "none"
        raise _refused(grant, "it is not one of the buckets whose policy the stack may change (its S3SourceBuckets "
                              f"parameter lists {listed})", adding=adding)
    if not config.account_id:
        raise _refused(grant, "the stack's account is not known (AEPFLOW_ACCOUNT_ID), so S3 could not be held to "
                              "the bucket's owner", adding=adding)
    return config.account_id


def _call(grant: Grant, operation: Callable[..., Any], *, adding: bool, **params: Any) -> Any:
    """One S3 call; its errors as aepflow's (None for GetBucketPolicy's NoSuchBucketPolicy)."""
    try:
        return operation(Bucket=grant.bucket, **params)
    except ClientError as exc:
        answer: dict[str, Any] = dict(exc.response)
        error, metadata = answer.get("Error") or {}, answer.get("ResponseMetadata") or {}
        code = str(error.get("Code") or "")
        status = int(metadata.get("HTTPStatusCode") or 0)
        message = str(error.get("Message") or code)[:300]
        if code == "NoSuchBucketPolicy":
            return None
        if code in _TRANSIENT_CODES or status == 429 or status >= 500:
            raise S3Unavailable(f"S3 answered {code or status} for bucket {grant.bucket!r}: {message}",
                                code=code or None, status=status or None) from None
        if code in ("AccessDenied", "AllAccessDisabled") or status == 403:
            why = ("S3 refused (403): the bucket is not the stack's account's, or the stack's role may not change its "
                   f"policy ({message})")
        elif code == "NoSuchBucket":
            why = "there is no such bucket"
        elif code == "MalformedPolicy":
            why = f"S3 refused the policy ({message})"
        else:
            why = f"S3 answered {code or status} ({message})"
        raise _refused(grant, why, adding=adding, status=status or None) from None
    except BotoCoreError as exc:
        raise S3Unavailable(f"S3 did not answer for bucket {grant.bucket!r} ({type(exc).__name__})") from None


def _read(s3: Any, grant: Grant, owner: str, *, adding: bool) -> dict[str, Any] | None:
    answer = _call(grant, s3.get_bucket_policy, adding=adding, ExpectedBucketOwner=owner)
    if answer is None:
        return None
    try:
        return policy.parse(answer.get("Policy") if isinstance(answer, dict) else answer)
    except policy.PolicyUnreadable as exc:
        raise _refused(grant, f"its policy is not one aepflow reads: it {exc}", adding=adding) from None


def _client(client: Any | None) -> Any:
    return client if client is not None else aws.aws_client("s3")


def _pause() -> None:
    """A moment before the policy is read back: long enough for another writer's read-and-write to land."""
    time.sleep(random.uniform(*SETTLE_SECONDS))  # noqa: S311 - a jitter, not a secret


def _settle(s3: Any, grant: Grant, owner: str, change: Callable[[dict[str, Any] | None], dict[str, Any] | None],
            *, adding: bool, before_write: Callable[[dict[str, Any] | None], None] | None = None) -> bool:
    """Read the policy, write `change(policy)` when it differs (None: delete the policy), and read it back
    until it says what this change wants: another writer that read the policy before this write may have
    put it back without this change, and this change is then made again on what it wrote. False when the
    first read already said so (nothing written)."""
    wrote = False
    for attempt in range(SETTLE_ATTEMPTS + 1):
        document = _read(s3, grant, owner, adding=adding)
        wanted = change(document)
        if policy.same(document, wanted):
            return wrote
        if attempt == SETTLE_ATTEMPTS:
            break
        if not wrote and before_write is not None:
            before_write(document)
        if wanted is None:
            _call(grant, s3.delete_bucket_policy, adding=adding, ExpectedBucketOwner=owner)
        else:
            try:
                text = policy.dumps(wanted)
            except policy.PolicyUnreadable as exc:
                raise _refused(grant, f"its policy {exc}", adding=adding) from None
            _call(grant, s3.put_bucket_policy, adding=adding, Policy=text, ExpectedBucketOwner=owner)
        wrote = True
        _pause()
    raise S3Unavailable(f"the policy of bucket {grant.bucket!r} kept changing under aepflow: another writer put it "
                        f"back without aepflow's change {SETTLE_ATTEMPTS} times")


def ensure(grant: Grant, *, before_write: Callable[[bool], None] | None = None, client: Any | None = None) -> str:
    """Make the bucket's policy hold the grant's statements, every other statement kept: ADDED (none of its
    Sids was there), UPDATED (they were, otherwise) or UNCHANGED (as they are: nothing written).
    `before_write(existed)` runs before the first write, told whether one of the Sids was there."""
    owner = _owner(grant, adding=True)
    existed: list[bool] = []

    def first_write(document: dict[str, Any] | None) -> None:
        existed.append(policy.holds_any(document, grant.sids))
        if before_write is not None:
            before_write(existed[0])

    if not _settle(_client(client), grant, owner, lambda document: policy.merged(document, grant.statements),
                   adding=True, before_write=first_write):
        return UNCHANGED
    return UPDATED if existed[0] else ADDED


def remove(grant: Grant, *, client: Any | None = None) -> bool:
    """Take the grant's statements out of the bucket's policy, every other statement kept, the policy
    deleted when none is left. False when none of them was there (nothing written)."""
    owner = _owner(grant, adding=False)

    def without(document: dict[str, Any] | None) -> dict[str, Any] | None:
        if document is None or not policy.holds_any(document, grant.sids):
            return document
        return policy.without(document, grant.sids)

    return _settle(_client(client), grant, owner, without, adding=False)
