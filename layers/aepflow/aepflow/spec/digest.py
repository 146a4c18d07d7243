"""A spec's canonical form and its hash: the one digest every door, the claim and the state machine
compare (the same spec, whatever its key order, has one hash)."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def canonical(spec: dict[str, Any]) -> str:
    return json.dumps(spec, sort_keys=True, separators=(",", ":"))


def spec_hash(spec: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(spec).encode()).hexdigest()
