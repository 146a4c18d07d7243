"""Deterministic AEP resource names, derived from the spec name, so that a retried or
re-run step finds what an earlier attempt created instead of creating it twice."""

from __future__ import annotations

from .spec import DataflowSpec

PREFIX = "aepflow"


def base_connection(spec: DataflowSpec) -> str:
    return f"{PREFIX}:{spec.name}:base-connection"


def source_connection(spec: DataflowSpec) -> str:
    return f"{PREFIX}:{spec.name}:source-connection"


def target_connection(spec: DataflowSpec) -> str:
    return f"{PREFIX}:{spec.name}:target-connection"


def mapping_set(spec: DataflowSpec) -> str:
    return f"{PREFIX}:{spec.name}:mapping"


def dataflow(spec: DataflowSpec) -> str:
    return f"{PREFIX}:{spec.name}:dataflow"


def schema_title(spec: DataflowSpec) -> str:
    create = spec.target.schema_.create
    return create.title if create else f"{PREFIX} {spec.name} target schema"


def dataset(spec: DataflowSpec) -> str:
    create = spec.target.dataset.create
    return (create.name if create and create.name else f"{PREFIX}:{spec.name}:dataset")
