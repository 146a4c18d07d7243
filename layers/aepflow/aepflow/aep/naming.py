"""Deterministic AEP resource names, derived from the spec name, so that a retried or
re-run step finds what an earlier attempt created instead of creating it twice."""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the steps pass its spec_view, which reads the same
    from aepflow.spec.model import DataflowSpec

PREFIX = "aepflow"



def _given(spec: DataflowSpec, kind: str, part: str = "name") -> str | None:
    """The name (or description) the spec's `resources` section gives, e.g. for an adopted flow."""
    resource = getattr(spec.resources, kind, None) if spec.resources else None
    return getattr(resource, part, None) if resource else None


def base_connection(spec: DataflowSpec) -> str:
    return _given(spec, "baseConnection") or f"{PREFIX}:{spec.name}:base-connection"


def source_connection(spec: DataflowSpec) -> str:
    return _given(spec, "sourceConnection") or f"{PREFIX}:{spec.name}:source-connection"


def target_connection(spec: DataflowSpec) -> str:
    return _given(spec, "targetConnection") or f"{PREFIX}:{spec.name}:target-connection"


def mapping_set(spec: DataflowSpec) -> str:
    """Data Prep cannot delete a mapping set, so one outlives a deleted or replaced dataflow.
    The mapping and its target schema are part of the name: a retry finds its own mapping set,
    and a dataflow re-created with another mapping or target gets a new one, not the old one."""
    content = {"schema": spec.target.schema_.model_dump(mode="json", by_alias=True, exclude_none=True),
               "mapping": [rule.model_dump(mode="json", exclude_none=True) for rule in spec.mapping]}
    digest = hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:12]
    return f"{PREFIX}:{spec.name}:mapping:{digest}"


def dataflow(spec: DataflowSpec) -> str:
    return _given(spec, "flow") or f"{PREFIX}:{spec.name}:dataflow"


# The descriptions aepflow gives what it creates (provisioning sends them; a plan compares them).

def _described(spec: DataflowSpec, kind: str, default: str) -> str:
    given = _given(spec, kind, "description")
    return given if given is not None else default


def flow_description(spec: DataflowSpec) -> str:
    return _described(spec, "flow", spec.description or f"aepflow dataflow {spec.name}")


def source_connection_description(spec: DataflowSpec) -> str:
    return _described(spec, "sourceConnection", spec.description or f"aepflow dataflow {spec.name}")


def base_connection_description(spec: DataflowSpec, label: str) -> str:
    return _described(spec, "baseConnection", f"{label} account for aepflow dataflow {spec.name}")


def target_connection_description(spec: DataflowSpec) -> str:
    return _described(spec, "targetConnection", f"Data Lake target of {spec.name}")


def schema_title(spec: DataflowSpec) -> str:
    create = spec.target.schema_.create
    return create.title if create else f"{PREFIX} {spec.name} target schema"


def dataset(spec: DataflowSpec) -> str:
    create = spec.target.dataset.create
    return (create.name if create and create.name else f"{PREFIX}:{spec.name}:dataset")
