"""The credentials boundary, as names: which Secrets Manager secrets a spec may name in
`source.credentialsSecret`. Only a secret under the stack's source-secrets prefix (the template's
SourceSecretsPrefix, SOURCE_SECRETS_PREFIX here, `aep/sources/` by default), by name or by ARN,
and never aepflow's own AEP credentials or its token cache, whatever the prefix. Pure: no AWS
call, so the spec's checks can use it before anything else (IAM says the same thing)."""

from __future__ import annotations

import re

from aepflow.core import settings
from aepflow.core.settings import SecretBoundary

# Secrets Manager's own name alphabet (letters, digits and /_+=.@-), at most 512 characters.
_NAME = re.compile(r"^[A-Za-z0-9/_+=.@-]{1,512}$")
_ARN = re.compile(r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:(?P<name>[A-Za-z0-9/_+=.@-]+)$")


def _name_of(reference: str) -> str | None:
    match = _ARN.match(reference)
    if match:
        return match.group("name")
    return reference if _NAME.match(reference) else None


_ARN_SUFFIX = re.compile(r"-[A-Za-z0-9]{6}$")


def _without_suffix(name: str) -> str:
    """An ARN's secret name ends in Secrets Manager's random six-character suffix."""
    return _ARN_SUFFIX.sub("", name)


def _own_secrets(cfg: SecretBoundary) -> set[str]:
    names: set[str] = set()
    for reference in (cfg.credentials_secret, cfg.token_cache_secret):
        if not reference:
            continue
        name = _name_of(reference)
        if name:
            names |= {name, _without_suffix(name) if _ARN.match(reference) else name}
    return names


def boundary_problem(reference: str, cfg: SecretBoundary | None = None) -> str | None:
    """Why a spec may not name this secret, or None when it may."""
    cfg = cfg or settings.load(SecretBoundary)
    prefix = cfg.source_secrets_prefix
    name = _name_of(reference)
    if name is None:
        return "is not a Secrets Manager secret name or ARN"
    if any(part in ("", ".", "..") for part in name.split("/")[:-1]) or name.endswith("/"):
        return "is not a plain secret name (empty, . or .. path segments)"
    own = _own_secrets(cfg)
    if name in own or _without_suffix(name) in own:
        return "names aepflow's own AEP credentials; a spec may only name source credentials"
    if not name.startswith(prefix):
        return f"is outside the source secrets prefix {prefix!r}; put the source's credentials under it"
    return None
