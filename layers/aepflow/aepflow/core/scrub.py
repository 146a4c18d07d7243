"""No secret value leaves a step. Every value aepflow reads from a secret (a source's auth params,
the AEP client secret) and every IMS access token is remembered here, for the life of the
process, and `scrub` replaces each of them with *** in any text or JSON-able value before it
leaves: an error's message and problems (so a Step Functions history, a DynamoDB record, a CLI
result and an API answer), an SNS alert, a log line. AEP echoes what it was sent in its own
error messages (`777000111222 is not of type 'string'`), so scrubbing by pattern is not enough:
the values themselves are looked for, in their plain and their JSON-escaped forms.

A value under a secret-sounding key (password, secret, token, key, credential, connection
string) is remembered from MIN_LENGTH characters on; any other value of a secret (a user name,
a host, a project, a subdomain such as `acme`) from MIN_OTHER_LENGTH on, so that scrubbing
never eats the words of ordinary messages (`acme-salesforce-contacts`)."""

from __future__ import annotations

import json
import re
import threading
from typing import Any

MASK = "***"
MIN_LENGTH = 4
MIN_OTHER_LENGTH = 8
_SECRET_KEY = re.compile(r"(?i)(pass|secret|token|key|credential|connectionstring|auth|signature|private)")
_lock = threading.Lock()
_values: set[str] = set()
_pattern: re.Pattern[str] | None = None


def _forms(value: str, minimum: int) -> set[str]:
    if len(value) < minimum:
        return set()
    escaped = json.dumps(value)[1:-1]
    return {form for form in (value, escaped, json.dumps(escaped)[1:-1]) if len(form) >= MIN_LENGTH}


def remember(value: Any) -> None:
    """Remember the leaves of `value` (a secret's JSON, or one string, which is all secret)."""
    global _pattern
    found: set[str] = set()
    work: list[tuple[Any, bool]] = [(value, not isinstance(value, (dict, list, tuple)))]
    while work:
        item, secret = work.pop()
        if isinstance(item, dict):
            work.extend((v, secret or bool(_SECRET_KEY.search(str(k)))) for k, v in item.items())
        elif isinstance(item, (list, tuple)):
            work.extend((v, secret) for v in item)
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, (str, int, float)):
            found |= _forms(str(item), MIN_LENGTH if secret else MIN_OTHER_LENGTH)
    with _lock:
        if found - _values:
            _values.update(found)
            _pattern = re.compile("|".join(re.escape(v) for v in sorted(_values, key=len, reverse=True)))


def forget() -> None:
    """Forget every remembered value (a cold start; for tests and the local stack)."""
    global _pattern
    with _lock:
        _values.clear()
        _pattern = None


def scrub(value: Any) -> Any:
    """`value` with every remembered secret replaced by ***: text, and the text inside dicts and
    lists (a copy; keys too). A number equal to a secret becomes ***."""
    pattern = _pattern
    if pattern is None:
        return value
    if isinstance(value, str):
        return pattern.sub(MASK, value)
    if isinstance(value, dict):
        return {scrub(k): scrub(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [scrub(item) for item in value]
    if isinstance(value, (int, float)) and not isinstance(value, bool) and pattern.fullmatch(str(value)):
        return MASK
    return value
