"""One spec for every environment: `sandboxes: {<sandbox>: {credentialsSecret, baseConnectionId, target,
schedule, enabled, alerts}}`, what differs in each sandbox. A spec whose `sandbox` has an entry there is
read with that entry's values in place of its own (`effective`, before the model validates it); the map
itself is kept, so that a dataflow promoted to another sandbox (ops/promote.py) takes that sandbox's
values. The entry's model, SandboxOverride, is spec/model.py's (it is made of the spec's own models).

A spec whose `sandbox` is not given (the AEP credentials' default) takes no entry: name the sandbox to
use its overrides. Each entry is bounded like the rest of the spec (the models are the spec's own)."""

from __future__ import annotations

import copy
from typing import Any

from pydantic import Field, ValidationError

from aepflow.spec.fields import NAME_PATTERN, SANDBOX_PATTERN, SpecModel

MAX_SANDBOXES = 10
# What an entry may give, and where it goes in the spec.
OVERRIDES = ("credentialsSecret", "baseConnectionId", "target", "schedule", "enabled", "alerts")
SOURCE_KEYS = ("credentialsSecret", "baseConnectionId")


class PromotedFrom(SpecModel):
    """Where a promoted dataflow came from (written by `aepflow promote`, kept in its record)."""

    dataflow: str = Field(pattern=NAME_PATTERN, description="The dataflow promoted",
                          examples=["acme-orders"])
    sandbox: str = Field(pattern=SANDBOX_PATTERN, description="Its sandbox", examples=["dev"])


def overridden(raw: dict[str, Any], sandbox: str | None) -> list[str]:
    """The keys the entry of `sandbox` gives (in OVERRIDES' order); [] without one."""
    entry = ((raw.get("sandboxes") or {}) if isinstance(raw.get("sandboxes"), dict) else {}).get(sandbox or "")
    return [key for key in OVERRIDES if isinstance(entry, dict) and entry.get(key) is not None]


def effective(raw: Any, entry_model: type[SpecModel] | None = None) -> Any:
    """`raw` with its sandbox's entry in place of its own values (a copy), or `raw` itself when there is
    none. An entry the model refuses is not applied: its problems are said at sandboxes.<name>, once."""
    if not isinstance(raw, dict) or not isinstance(raw.get("sandboxes"), dict):
        return raw
    sandbox = raw.get("sandbox")
    entry = raw["sandboxes"].get(sandbox) if isinstance(sandbox, str) else None
    if not isinstance(entry, dict):
        return raw
    if entry_model is not None:
        try:
            entry_model.model_validate(entry)
        except ValidationError:
            return raw
    out = copy.deepcopy(raw)
    source = out.get("source") if isinstance(out.get("source"), dict) else None
    for key in OVERRIDES:
        value = entry.get(key)
        if value is None:
            continue
        if key in SOURCE_KEYS and source is not None:
            for other in (*SOURCE_KEYS, "access"):  # one account: the entry's
                source.pop(other, None)
            source[key] = copy.deepcopy(value)
        elif key not in SOURCE_KEYS:
            out[key] = copy.deepcopy(value)
    return out
