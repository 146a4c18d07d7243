"""AEP's draft dataflows (help/sources/tutorials/api/draft.md): a flow created with `POST /flows?mode=draft`
is saved "in a draft state", updated like any flow, and runs once `POST /flows/{id}/action?op=publish`
has published it. Draft mode is for the sources whose flow spec (and connection spec) say so:
`attributes.isDraftModeSupported` true ("Check for draft mode support").

aepflow drafts the flow only: its connections are created published, so the page's order ("You cannot
publish a dataflow if its associated source and target connections are still in draft state") holds
when the flow is published. The page prints no `state` for a draft; AEP's GET /flows answers `enabled` or
`disabled` otherwise (flow-service.yaml), so any other state that names a draft is read as one."""

from __future__ import annotations

from typing import Any

from aepflow.aep import resources
from aepflow.aep.client import AepClient

DRAFT_STATE = "draft"


def supports_drafts(spec: dict[str, Any] | None) -> bool | None:
    """A flow or connection spec's `attributes.isDraftModeSupported`: True, False, or None when the
    document does not say (most connection specs Adobe prints carry no such attribute)."""
    value = ((spec or {}).get("attributes") or {}).get("isDraftModeSupported")
    return value if isinstance(value, bool) else None


def is_draft(flow: dict[str, Any] | None) -> bool:
    """Whether AEP holds the flow as a draft (its `state`, read whatever its case)."""
    state = (flow or {}).get("state")
    return isinstance(state, str) and DRAFT_STATE in state.lower()


def create_draft_flow(client: AepClient, body: dict[str, Any]) -> dict[str, Any]:
    """POST /flows?mode=draft: the flow's {id, etag}, as any create answers."""
    return client.post("flowservice", "/flows", json=body, params={"mode": DRAFT_STATE})


def publish_flow(client: AepClient, flow_id: str, etag: str | None = None) -> dict[str, Any]:
    """POST /flows/{id}/action?op=publish: the flow's {id, etag} (draft.md, "Publish your draft dataflow")."""
    return resources.flow_action(client, flow_id, "publish", etag)
