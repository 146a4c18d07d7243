"""The state machine's "Reserve the dataflow's name" (functions/reserve_name): every provisioning goes
through the name's claim, whichever door started it (store/claims.reserve_for_execution)."""

from __future__ import annotations

from typing import Any

from aepflow.core.errors import step
from aepflow.store import claims


@step("reserve-name")
def reserve_name(state: dict[str, Any], execution: str) -> dict[str, Any]:
    raw = state.get("spec")
    spec: dict[str, Any] = raw if isinstance(raw, dict) else {}
    return claims.reserve_for_execution(str(spec.get("name")), spec, execution)
