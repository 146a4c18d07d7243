"""Source credentials: the Secrets Manager secret a spec names in `source.credentialsSecret`.

The credentials boundary: a spec may name only a secret under the stack's source-secrets prefix
(the template's SourceSecretsPrefix, SOURCE_SECRETS_PREFIX here, `aep/sources/` by default),
by name or by ARN, and never aepflow's own AEP credentials or its token cache, whatever the
prefix. IAM says the same thing: only the functions that build base connections read secrets,
and only under the prefix. Every value read is remembered by aepflow.scrub, so that no message
that leaves a step can carry it, even when AEP echoes it back."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities import parameters

from aepflow.core import aws, scrub
from aepflow.spec import secret_names

CACHE_SECONDS = 60


class SecretUnreadable(Exception):
    """The secret is missing, unreadable, or not a JSON object; the message says which."""


def read(reference: str) -> dict[str, Any]:
    """The secret's JSON object. Raises SecretUnreadable; refuses what the boundary refuses."""
    problem = secret_names.boundary_problem(reference)
    if problem:
        raise SecretUnreadable(f"secret {reference!r} {problem}")
    try:
        value = aws.secrets().get(reference, transform="json", max_age=CACHE_SECONDS)
    except parameters.exceptions.TransformParameterError:
        raise SecretUnreadable(f"secret {reference!r} is not a JSON object") from None
    except Exception as exc:  # noqa: BLE001 - any failure to read means the spec cannot run
        reason = "does not exist" if "ResourceNotFound" in repr(exc) else f"cannot be read ({type(exc).__name__})"
        raise SecretUnreadable(f"secret {reference!r} {reason}") from None
    scrub.remember(value)
    if not isinstance(value, dict):
        raise SecretUnreadable(f"secret {reference!r} is not a JSON object")
    return value


def read_versioned(reference: str) -> tuple[dict[str, Any], str | None]:
    """(the secret's JSON object, its current Secrets Manager VersionId), read now, not from the
    cache: a rotation or a plan must see the value AEP is about to get. Refused like read()."""
    problem = secret_names.boundary_problem(reference)
    if problem:
        raise SecretUnreadable(f"secret {reference!r} {problem}")
    try:
        answer = aws.aws_client("secretsmanager").get_secret_value(SecretId=reference)
    except Exception as exc:  # noqa: BLE001 - any failure to read means the credentials cannot be sent
        reason = "does not exist" if "ResourceNotFound" in repr(exc) else f"cannot be read ({type(exc).__name__})"
        raise SecretUnreadable(f"secret {reference!r} {reason}") from None
    try:
        value = json.loads(answer.get("SecretString") or "")
    except ValueError:
        raise SecretUnreadable(f"secret {reference!r} is not a JSON object") from None
    scrub.remember(value)
    if not isinstance(value, dict):
        raise SecretUnreadable(f"secret {reference!r} is not a JSON object")
    return value, answer.get("VersionId")


def name_of(reference: str) -> str | None:
    """The secret's name, from a name or an ARN (without the ARN's random suffix)."""
    match = secret_names._ARN.match(reference)
    if match:
        return secret_names._without_suffix(match.group("name"))
    return secret_names._name_of(reference)
