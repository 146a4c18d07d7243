"""Draft dataflows, as Adobe's help/sources/tutorials/api/draft.md describes them ("Create drafts of your
Flow Service entities using the API", AdobeDocs/experience-platform.en @ f86f3710; the older version of
the page, "Draft dataflows using the Flow Service API", shows the same two calls for flows):

- `POST /flows?mode=draft` creates the flow "in a draft state", answering the `{id, etag}` of any create;
- draft mode is for sources whose connection spec and flow spec say so ("Check for draft mode support":
  `attributes.isDraftModeSupported` is `true` in the flow spec, and in the connection spec of the source);
- a draft "can be updated later with new information" (PATCH /flows/{id} with If-Match);
- `POST /flows/{id}/action?op=publish` publishes it, answering `{id, etag}`; "You cannot publish a dataflow
  if its associated source and target connections are still in draft state".

What the page does not print, the emulator chooses, and aep_errors.INVENTED_CODES lists the codes:
the flow's `state` while it is a draft is `draft` (the page says "a draft state"; GET /flows' `state`
is `enabled` or `disabled` otherwise, flow-service.yaml); a draft makes no runs (the page drafts a flow
"to pause and save your workflows for completion at a later time": it is not finished, so nothing runs);
once published it is `enabled` and runs on its schedule; publishing a flow that is not a draft, enabling
or disabling a draft, and a run on demand of a draft are refused. The emulator creates connections only
as published ones (aepflow never drafts a connection), so a flow's connections never hold its publish back.
"""
from __future__ import annotations

from .aep_errors import flow_error

DRAFT = "draft"  # the flow's state while it is a draft (our choice: draft.md says "a draft state")


def draft_mode(query: dict | None) -> bool:
    """Whether POST /flows asks for a draft (`mode=draft`); another mode is refused as malformed."""
    mode = (query or {}).get("mode")
    if mode is None:
        return False
    if mode != DRAFT:
        raise flow_error(400, "1400", "Bad Request", f"mode '{mode}' is not supported; draft.md documents mode=draft")
    return True


def check_draft_supported(flow_spec: dict, connection_specs: list[dict]) -> None:
    """draft.md, "Check for draft mode support": the flow spec's attributes.isDraftModeSupported must be
    true; a source's connection spec that says false refuses it too (most connection specs Adobe prints
    do not carry the attribute: where it is absent, the flow spec decides)."""
    if (flow_spec.get("attributes") or {}).get("isDraftModeSupported") is not True:
        raise flow_error(400, "1470", "Draft mode not supported",
                         f"Flow spec {flow_spec.get('name')} ({flow_spec.get('id')}) does not support draft mode "
                         "(attributes.isDraftModeSupported is not true)")
    for spec in connection_specs:
        if (spec.get("attributes") or {}).get("isDraftModeSupported") is False:
            raise flow_error(400, "1470", "Draft mode not supported",
                             f"Connection spec {spec.get('name')} ({spec.get('id')}) does not support draft mode "
                             "(attributes.isDraftModeSupported is false)")


def publish(flow: dict) -> None:
    """op=publish (draft.md, "Publish your draft dataflow"): the draft becomes an enabled flow."""
    if flow.get("state") != DRAFT:
        raise flow_error(400, "1471", "Not a draft",
                         f"Flow {flow['id']} is not a draft (state {flow.get('state')}); only a draft is published")
    flow["state"] = "enabled"


def refuse_if_draft(flow: dict, what: str) -> None:
    """ENABLE, DISABLE or a run on demand of a draft: a draft is published first (our choice)."""
    if flow.get("state") == DRAFT:
        raise flow_error(400, "1472", "Flow is a draft",
                         f"Flow {flow['id']} is a draft: publish it (POST /flows/{{id}}/action?op=publish) "
                         f"before {what}")
