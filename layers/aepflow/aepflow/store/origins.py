"""Which dataflow a spec file applied, `SPECKEY#<s3 uri>` / `DATAFLOW` (store/keys.py): written when a
spec object put in the bucket changed a dataflow, read when the object is deleted (the teardown
happens only while the dataflow's claim still names this object as its origin)."""

from __future__ import annotations

from aepflow.store import keys, table


def applied_from(uri: str, name: str) -> None:
    """The object at `uri` applied the dataflow `name`."""
    table.resource().put_item(Item={**keys.origin(uri), "name": name, "updatedAt": table.now_iso()})


def dataflow_from(uri: str) -> str | None:
    """The dataflow the object at `uri` applied, or None."""
    item = table.get(keys.origin(uri))
    return str(item["name"]) if item and item.get("name") else None
