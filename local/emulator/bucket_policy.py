"""Whether an S3 bucket policy lets Adobe's role do an action on a resource: what an "IAMRole
Based" Amazon S3 connection may read (create/cloud-storage/s3.md, newest version, "Connect Amazon S3
to Experience Platform on Amazon Web Services": the user adds a bucket policy that allows the role
GET /connectionSpecs/{id}/configs answers, s3:Get* on arn:aws:s3:::{YOUR_BUCKET_NAME}/{YOUR_FOLDER_NAME}
and s3:ListBucket on arn:aws:s3:::{YOUR_BUCKET_NAME}; s3.json iamRole.bucketPolicy).

Evaluated as AWS evaluates a resource policy for a principal of another account (IAM User Guide,
"Policy evaluation logic" and "IAM JSON policy elements"): an explicit Deny that applies wins, else
an Allow that applies grants, else the implicit deny. A statement applies when its Principal (or
NotPrincipal), Action (or NotAction), Resource (or NotResource) and every Condition match:
- Principal: "*", or {"AWS": ARN or [ARNs]} naming the role or "*". An account principal is not
  taken to cover the role: what Adobe's own account grants its role is not known here.
- Action: case-insensitive, `*` and `?` wildcards (s3:Get* covers s3:GetObject).
- Resource: case-sensitive, `*` and `?` wildcards, `${*}` `${?}` `${$}` those characters. As printed,
  Adobe's Get* statement names arn:aws:s3:::{bucket}/{folder} without "/*", which covers that one key
  and no object inside it.
- Condition: `Bool` on aws:SecureTransport holds for "true" (AEP reads over TLS) and
  `StringEquals`/`StringLike` on s3:prefix compare the listed prefix (absent, as for GetObject, they
  do not hold). Any other operator or key makes the statement not apply: the emulator does not
  pretend to know a value it has not got (a Deny it cannot evaluate denies nothing).
"""
from __future__ import annotations

import re
from typing import Any

SECURE_TRANSPORT = "aws:securetransport"
PREFIX = "s3:prefix"


_TOKENS = re.compile(r"\$\{[^}]*\}|.", re.S)
# IAM's escapes of a literal character in a pattern ("IAM policy elements: Variables and tags").
_ESCAPES = {"${*}": "*", "${?}": "?", "${$}": "$"}


def _glob(pattern: str, value: str, fold: bool) -> bool:
    """`*` any run of characters, `?` one, `${*}` `${?}` `${$}` those characters themselves; a pattern
    with another policy variable (`${aws:username}`) matches nothing: its value is not known here."""
    parts = []
    for token in _TOKENS.findall(pattern):
        if token.startswith("${") and token not in _ESCAPES:
            return False
        parts.append(re.escape(_ESCAPES[token]) if token in _ESCAPES
                     else ".*" if token == "*" else "." if token == "?" else re.escape(token))
    return re.fullmatch("".join(parts), value, re.S | (re.I if fold else 0)) is not None


def _strings(value: Any) -> list[str] | None:
    """A policy element's values (one string or a list of them); None when it is neither."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    return None


def _principal_matches(value: Any, role: str) -> bool:
    if value == "*":
        return True
    if not isinstance(value, dict):
        return False
    names = _strings(value.get("AWS"))
    return names is not None and any(n in ("*", role) for n in names)


def _element(statement: dict, name: str, matches) -> bool:
    """Whether `name` (Action, Resource, Principal) or its Not- form lets the statement apply."""
    if name in statement:
        return matches(statement[name])
    if "Not" + name in statement:
        return not matches(statement["Not" + name])
    return False


def _condition_holds(condition: Any, context: dict[str, str]) -> bool:
    if condition is None:
        return True
    if not isinstance(condition, dict):
        return False
    for operator, tests in condition.items():
        if not isinstance(tests, dict):
            return False
        for key, wanted in tests.items():
            values = [str(v).lower() if isinstance(v, bool) else v
                      for v in (wanted if isinstance(wanted, list) else [wanted])]
            if not all(isinstance(v, str) for v in values):
                return False
            key = key.lower()
            if operator == "Bool" and key == SECURE_TRANSPORT:
                if "true" not in [v.lower() for v in values]:
                    return False
            elif operator in ("StringEquals", "StringLike") and key == PREFIX:
                given = context.get(PREFIX)
                if given is None:
                    return False
                if operator == "StringEquals" and given not in values:
                    return False
                if operator == "StringLike" and not any(_glob(v, given, fold=False) for v in values):
                    return False
            else:
                return False
    return True


def _applies(statement: dict, role: str, action: str, resource: str, context: dict[str, str]) -> bool:
    def actions(value) -> bool:
        names = _strings(value)
        return names is not None and any(_glob(n, action, fold=True) for n in names)

    def resources(value) -> bool:
        names = _strings(value)
        return names is not None and any(_glob(n, resource, fold=False) for n in names)

    return (_element(statement, "Principal", lambda v: _principal_matches(v, role))
            and _element(statement, "Action", actions) and _element(statement, "Resource", resources)
            and _condition_holds(statement.get("Condition"), context))


def allows(policy: Any, role: str, action: str, resource: str, context: dict[str, str] | None = None) -> bool:
    """Whether `policy` (a bucket policy document, parsed) allows `role` `action` on `resource`."""
    statements = policy.get("Statement") if isinstance(policy, dict) else None
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list):
        return False
    allowed = False
    for statement in statements:
        if not isinstance(statement, dict) or not _applies(statement, role, action, resource, context or {}):
            continue
        if statement.get("Effect") == "Deny":
            return False
        allowed = allowed or statement.get("Effect") == "Allow"
    return allowed
