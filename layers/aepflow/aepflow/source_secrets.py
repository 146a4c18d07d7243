"""Source credentials: the Secrets Manager secret a spec names in `source.credentialsSecret`.

The credentials boundary: a spec may name only a secret under the stack's source-secrets prefix
(the template's SourceSecretsPrefix, SOURCE_SECRETS_PREFIX here, `aep/sources/` by default),
by name or by ARN, and never aepflow's own AEP credentials or its token cache, whatever the
prefix. IAM says the same thing: only the functions that build base connections read secrets,
and only under the prefix. Every value read is remembered by aepflow.scrub, so that no message
that leaves a step can carry it, even when AEP echoes it back."""

from __future__ import annotations

import json
import re
from typing import Any

import boto3
from aws_lambda_powertools.utilities import parameters

from . import runtime, scrub

# Secrets Manager's own name alphabet (letters, digits and /_+=.@-), at most 512 characters.
_NAME = re.compile(r"^[A-Za-z0-9/_+=.@-]{1,512}$")
_ARN = re.compile(r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:(?P<name>[A-Za-z0-9/_+=.@-]+)$")
CACHE_SECONDS = 60


class SecretUnreadable(Exception):
    """The secret is missing, unreadable, or not a JSON object; the message says which."""


def _name_of(reference: str) -> str | None:
    match = _ARN.match(reference)
    if match:
        return match.group("name")
    return reference if _NAME.match(reference) else None


_ARN_SUFFIX = re.compile(r"-[A-Za-z0-9]{6}$")


def _without_suffix(name: str) -> str:
    """An ARN's secret name ends in Secrets Manager's random six-character suffix."""
    return _ARN_SUFFIX.sub("", name)


def _own_secrets() -> set[str]:
    cfg = runtime.settings()
    names = set()
    for reference in (cfg.credentials_secret, cfg.token_cache_secret):
        name = _name_of(reference)
        if name:
            names |= {name, _without_suffix(name) if _ARN.match(reference) else name}
    return names


def boundary_problem(reference: str) -> str | None:
    """Why the spec may not name this secret, or None when it may."""
    prefix = runtime.settings().source_secrets_prefix
    name = _name_of(reference)
    if name is None:
        return "is not a Secrets Manager secret name or ARN"
    if any(part in ("", ".", "..") for part in name.split("/")[:-1]) or name.endswith("/"):
        return "is not a plain secret name (empty, . or .. path segments)"
    own = _own_secrets()
    if name in own or _without_suffix(name) in own:
        return "names aepflow's own AEP credentials; a spec may only name source credentials"
    if not name.startswith(prefix):
        return f"is outside the source secrets prefix {prefix!r}; put the source's credentials under it"
    return None


def read(reference: str) -> dict[str, Any]:
    """The secret's JSON object. Raises SecretUnreadable; refuses what the boundary refuses."""
    problem = boundary_problem(reference)
    if problem:
        raise SecretUnreadable(f"secret {reference!r} {problem}")
    try:
        value = parameters.get_secret(reference, transform="json", max_age=CACHE_SECONDS)
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
    problem = boundary_problem(reference)
    if problem:
        raise SecretUnreadable(f"secret {reference!r} {problem}")
    try:
        answer = boto3.client("secretsmanager").get_secret_value(SecretId=reference)
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
    match = _ARN.match(reference)
    if match:
        return _without_suffix(match.group("name"))
    return reference if _NAME.match(reference) else None
