"""No secret value leaves a step. Every value aepflow reads from a secret (a source's auth params,
the AEP client secret) and every IMS access token is remembered here, for the life of the
process, and `scrub` replaces each of them with *** in any text or JSON-able value before it
leaves: an error's message and problems (so a Step Functions history, a DynamoDB record, a CLI
result and an API answer), an SNS alert, a log line. AEP echoes what it was sent in its own
error messages (`777000111222 is not of type 'string'`), so scrubbing by pattern is not enough:
the values themselves are looked for, in their plain and their JSON-escaped forms.

Values shorter than MIN_LENGTH characters are not remembered: they carry little secret, and
replacing them everywhere would mangle every message."""

from __future__ import annotations

import json
import re
import threading
from typing import Any

MASK = "***"
MIN_LENGTH = 4
_lock = threading.Lock()
_values: set[str] = set()
_pattern: re.Pattern[str] | None = None


def _forms(value: str) -> set[str]:
    escaped = json.dumps(value)[1:-1]
    return {form for form in (value, escaped, json.dumps(escaped)[1:-1]) if len(form) >= MIN_LENGTH}


def remember(value: Any) -> None:
    """Remember every leaf of `value` (a secret's JSON, or one string) as a secret."""
    global _pattern
    found: set[str] = set()
    work = [value]
    while work:
        item = work.pop()
        if isinstance(item, dict):
            work.extend(item.values())
        elif isinstance(item, (list, tuple)):
            work.extend(item)
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, (str, int, float)):
            found |= _forms(str(item))
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
