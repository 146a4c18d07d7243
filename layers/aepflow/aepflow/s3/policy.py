"""The statements that let Adobe's IAM role read one dataflow's files in a bucket, and a bucket policy
with them merged in or taken out. Pure: no AWS call (grants.py makes them).

Two statements per dataflow, as Adobe's own printed policy has two (../shared/reference/connection-specs/
s3.json, iamRole.bucketPolicy): one statement cannot bound both the object reads (a Resource of object
ARNs) and the listing (the bucket's ARN, bounded by an s3:prefix condition) to the dataflow's prefix.
- AepflowRead<h>: s3:GetObject and s3:GetObjectVersion on the path's objects only: a file itself, a
  folder's `*`, a wildcard path as written, a recursive folder's `*`;
- AepflowList<h>: s3:ListBucket on the bucket, only with an s3:prefix in the folder that holds the path
  (the whole bucket for a path at its root).
Both only over TLS (aws:SecureTransport). Adobe prints `s3:Get*` on the folder, which also grants
GetObjectAcl, GetObjectTagging and the like: aepflow grants the two reads alone. Nor does it grant
s3:GetBucketLocation, which Adobe's policy does not grant either (its Get* is on object ARNs) and which no
prefix condition could bound. h is the first 16 hex digits of the SHA-256 of the dataflow's name: each
dataflow holds its own pair, so removing one dataflow's statements never takes what another needs, even
two dataflows on one prefix. In an IAM pattern `*` and `?` are wildcards: `*` is one as the spec means it
(a file name's wildcard); a `?` of a key is written `${?}`, IAM's literal question mark.

A bucket's policy, read from S3, is hostile input: at most S3's 20 KB, JSON without duplicate keys or
NaN, an object whose Statement is a list of objects or one object (PolicyUnreadable says where it is
not). Every statement that is not one of the dataflow's Sids is kept as it is."""

from __future__ import annotations

import copy
import hashlib
import json
import re
from typing import Any

from aepflow.spec.files import bucket_problem, folder_of, is_folder, path_problem

MAX_POLICY_BYTES = 20 * 1024  # S3's limit of a bucket policy
VERSION = "2012-10-17"
READ_SID, LIST_SID = "AepflowRead", "AepflowList"
READ_ACTIONS = ["s3:GetObject", "s3:GetObjectVersion"]
LIST_ACTIONS = ["s3:ListBucket"]
TLS_ONLY = {"Bool": {"aws:SecureTransport": "true"}}
MAX_PRINCIPAL_CHARS = 2048
SID_PATTERN = re.compile(r"^Aepflow(Read|List)[0-9a-f]{16}$")
_ACCOUNT = re.compile(r"^\d{12}$")
# An IAM role's or user's ARN: a path of / segments before the name, IAM's characters only (ASCII).
_PRINCIPAL_ARN = re.compile(r"^arn:(aws|aws-cn|aws-us-gov):iam::(\d{12}):(role|user)(/[A-Za-z0-9_+=,.@-]+)+$")


class PolicyUnreadable(ValueError):
    """A bucket policy aepflow does not read, or one that would outgrow S3's limit (the message says why)."""


def sids(dataflow: str) -> tuple[str, str]:
    """The Sids of a dataflow's two statements (read, list): alphanumeric, one pair per dataflow name."""
    digest = hashlib.sha256(dataflow.encode("utf-8")).hexdigest()[:16]
    return f"{READ_SID}{digest}", f"{LIST_SID}{digest}"


def principal_problem(value: object) -> str | None:
    """Why `value` is not a principal aepflow writes in a bucket policy (an IAM role's or user's ARN, or a
    12-digit account id), or None."""
    if not isinstance(value, str):
        return f"expected text, not {type(value).__name__}"
    if not 0 < len(value) <= MAX_PRINCIPAL_CHARS:
        return f"expected 1 to {MAX_PRINCIPAL_CHARS} characters"
    if _ACCOUNT.match(value) or _PRINCIPAL_ARN.match(value):
        return None
    return "expected an IAM role's or user's ARN (arn:aws:iam::<account>:role/<name>) or a 12-digit account id"


def principal(value: str) -> tuple[str, str]:
    """(partition, principal as S3 keeps it): an account id is written as its root's ARN, which S3 would
    turn it into. The partition is the principal's: a bucket policy names principals of its own partition."""
    problem = principal_problem(value)
    if problem:
        raise ValueError(f"principal: {problem}")
    if _ACCOUNT.match(value):
        return "aws", f"arn:aws:iam::{value}:root"
    return value.split(":", 2)[1], value


def object_pattern(path: str, recursive: bool = False) -> str:
    """The objects a path reads, as an IAM pattern inside the bucket: a file itself, a folder's `*`, a
    wildcard path as written; with recursive, the folder's `*` (its subfolders' files too)."""
    if recursive and is_folder(path):
        return folder_of(path) + "*"
    return path + "*" if path.endswith("/") else path


def _literal(text: str) -> str:
    """Text of a key in an IAM pattern: `?` is a wildcard there, `${?}` a question mark."""
    return text.replace("?", "${?}")


def statements(dataflow: str, bucket: str, path: str, recursive: bool, role: str) -> list[dict[str, Any]]:
    """The dataflow's two statements (read, list) letting `role` read `path` in `bucket`."""
    for field, problem in (("bucket", bucket_problem(bucket)), ("path", path_problem(path))):
        if problem:
            raise ValueError(f"{field}: {problem}")
    partition, who = principal(role)
    read_sid, list_sid = sids(dataflow)
    pattern = "".join(_literal(part) if part != "*" else part for part in re.split(r"(\*)", object_pattern(
        path, recursive)))
    prefix = _literal(folder_of(path))
    list_condition: dict[str, Any] = copy.deepcopy(TLS_ONLY)
    if prefix:  # at the bucket's root, the whole bucket is listed
        list_condition["StringLike"] = {"s3:prefix": [prefix, prefix + "*"]}
    return [
        {"Sid": read_sid, "Effect": "Allow", "Principal": {"AWS": who}, "Action": list(READ_ACTIONS),
         "Resource": f"arn:{partition}:s3:::{bucket}/{pattern}", "Condition": copy.deepcopy(TLS_ONLY)},
        {"Sid": list_sid, "Effect": "Allow", "Principal": {"AWS": who}, "Action": list(LIST_ACTIONS),
         "Resource": f"arn:{partition}:s3:::{bucket}", "Condition": list_condition},
    ]


# --- A bucket's policy -------------------------------------------------------------------------------

def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    twice = sorted({key for key in keys if keys.count(key) > 1})
    if twice:
        raise PolicyUnreadable(f"holds the key {twice[0]!r} twice")
    return dict(pairs)


def _no_constant(name: str) -> Any:
    raise PolicyUnreadable(f"holds {name}, which is not JSON")


def parse(text: object) -> dict[str, Any]:
    """A bucket policy as S3 answers it (GetBucketPolicy's Policy), its Statement made a list of objects;
    PolicyUnreadable saying where it is not one."""
    if not isinstance(text, str):
        raise PolicyUnreadable(f"is not text but {type(text).__name__}")
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_POLICY_BYTES:
        raise PolicyUnreadable(f"is {size} bytes, more than S3's {MAX_POLICY_BYTES}")
    try:
        document = json.loads(text, object_pairs_hook=_no_duplicate_keys, parse_constant=_no_constant)
    except PolicyUnreadable:
        raise
    except (ValueError, RecursionError) as exc:
        raise PolicyUnreadable(f"is not JSON ({type(exc).__name__}: {str(exc)[:200]})") from None
    if not isinstance(document, dict):
        raise PolicyUnreadable(f"is not a JSON object but {type(document).__name__}")
    found = document.get("Statement")
    listed = [found] if isinstance(found, dict) else found
    if not isinstance(listed, list):
        raise PolicyUnreadable("Statement: expected a list of statements or one statement")
    for i, statement in enumerate(listed):
        if not isinstance(statement, dict):
            raise PolicyUnreadable(f"Statement[{i}]: expected an object, not {type(statement).__name__}")
        if "Sid" in statement and not isinstance(statement["Sid"], str):
            raise PolicyUnreadable(f"Statement[{i}].Sid: expected text")
    return {**document, "Statement": listed}


def dumps(document: dict[str, Any]) -> str:
    """The policy as aepflow puts it (compact JSON); PolicyUnreadable when it outgrows S3's limit."""
    text = json.dumps(document, separators=(",", ":"), ensure_ascii=False)
    size = len(text.encode("utf-8"))
    if size > MAX_POLICY_BYTES:
        raise PolicyUnreadable(f"would be {size} bytes with aepflow's statements, more than S3's {MAX_POLICY_BYTES}")
    return text


def _canonical(value: Any) -> Any:
    """A policy's value as IAM reads it: a list of one value is that value (S3 may keep either form)."""
    if isinstance(value, dict):
        return {key: _canonical(item) for key, item in value.items()}
    if isinstance(value, list):
        return _canonical(value[0]) if len(value) == 1 else [_canonical(item) for item in value]
    return value


def same(a: dict[str, Any] | None, b: dict[str, Any] | None) -> bool:
    """Whether two policies say the same (one-value lists read as their value)."""
    return _canonical(a) == _canonical(b)


def _sid(statement: Any) -> Any:
    return statement.get("Sid") if isinstance(statement, dict) else None


def holds_any(document: dict[str, Any] | None, wanted: tuple[str, ...] | list[str]) -> bool:
    """Whether the policy has a statement of one of these Sids."""
    return any(_sid(s) in wanted for s in (document or {}).get("Statement") or [])


def merged(document: dict[str, Any] | None, ours: list[dict[str, Any]]) -> dict[str, Any]:
    """The policy with `ours` in it: every other statement kept in its place, each of ours in place of the
    statement of its Sid (a duplicate of its Sid dropped), or added at the end."""
    by_sid = {statement["Sid"]: statement for statement in ours}
    kept: list[Any] = []
    placed: set[str] = set()
    for statement in (document or {}).get("Statement") or []:
        sid = _sid(statement)
        if sid in by_sid:
            if sid not in placed:
                kept.append(copy.deepcopy(by_sid[sid]))
                placed.add(sid)
            continue
        kept.append(statement)
    kept += [copy.deepcopy(s) for s in ours if s["Sid"] not in placed]
    rest = {key: value for key, value in (document or {}).items() if key != "Statement"}
    return {"Version": VERSION, **rest, "Statement": kept}


def without(document: dict[str, Any], wanted: tuple[str, ...] | list[str]) -> dict[str, Any] | None:
    """The policy without the statements of these Sids; None when no statement is left (delete it)."""
    kept = [s for s in document.get("Statement") or [] if _sid(s) not in wanted]
    if not kept:
        return None
    return {**document, "Statement": kept}
