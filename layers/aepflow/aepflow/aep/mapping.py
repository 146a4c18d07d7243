"""Mapping sets (Data Prep) from the spec's mapping list, in the two dialects the seeds use."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aepflow.aep.resources import TARGET_SCHEMA_VERSION

if TYPE_CHECKING:  # the steps pass its spec_view, which reads the same
    from aepflow.spec.model import MappingRule


def _identity(rule: MappingRule) -> dict[str, Any]:
    """Seed 000's entries carry identity and namespaceCode; data-prep.yaml's mapping example adds
    primaryIdentity. The schema's identity descriptors are what AEP's Profile reads; these keep
    the mapping set saying the same."""
    if not rule.identity:
        return {}
    out: dict[str, Any] = {"identity": True}
    if rule.namespaceCode:
        out["namespaceCode"] = rule.namespaceCode
    if rule.primary:
        out["primaryIdentity"] = True
    return out


def mapping_entry(rule: MappingRule, dialect: str) -> dict[str, Any]:
    if dialect == "attribute":
        # Seeds 000, 001, 004. Their `identityGroup: null` and a null namespaceCode are left out:
        # absent and null mean the same to Data Prep.
        return {"destinationXdmPath": rule.destination, "sourceAttribute": rule.source,
                "identity": rule.identity, **_identity(rule), "version": 0}
    entry: dict[str, Any] = {"sourceType": rule.sourceType, "source": rule.source, "destination": rule.destination,
                             **_identity(rule)}
    if rule.name:
        entry["name"] = rule.name
    if rule.description:
        entry["description"] = rule.description
    return entry


def mapping_set_body(*, name: str, schema_id: str, rules: list[MappingRule], dialect: str) -> dict[str, Any]:
    # Seeds send `"id": null` and a numeric version; MappingSet (data-prep.yaml) types id as a
    # string, so it is left out. outputSchema.schemaRef is the spec's own way to name the schema;
    # xdmSchema/xdmVersion are kept because every seed sends them.
    return {
        "name": name,
        "version": 0,
        "xdmSchema": schema_id,
        "xdmVersion": "1.0",
        "outputSchema": {"schemaRef": {"id": schema_id, "contentType": TARGET_SCHEMA_VERSION}},
        "mappings": [mapping_entry(rule, dialect) for rule in rules],
    }


def flatten_properties(schema: dict[str, Any], prefix: str = "") -> list[str]:
    """Every leaf attribute path of an explored JSON schema (`results.id`, `data.time`, …)."""
    paths: list[str] = []
    for key, sub in (schema.get("properties") or {}).items():
        path = f"{prefix}{key}"
        if isinstance(sub, dict) and sub.get("type") == "object" and sub.get("properties"):
            paths.extend(flatten_properties(sub, path + "."))
        else:
            paths.append(path)
    return paths
