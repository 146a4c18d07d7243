"""The target branch of the state machine: the XDM schema (identity descriptors and the union tag
when the dataset is for Profile), the dataset, the Data Lake target connection and the mapping set.
The mapping set comes after the dataset is known good (created, or checked by find-existing):
Data Prep cannot delete one, so a target that fails leaves none behind. (A check of the source or
the flow spec that fails beside it may: the roll-back reports it, and a re-run reuses it.)

A schema the spec names is not read first: the creates that use it answer for it (Catalog refuses a
Profile-enabled dataset on a schema that is not enabled for Profile, help/catalog/datasets/
enable-for-profile.md; Data Prep and Flow Service refuse a schema that does not exist)."""

from __future__ import annotations

from typing import Any

from aepflow.aep import bodies, naming, resources
from aepflow.core.errors import step
from aepflow.steps.context import Context


def _descriptor_path(destination: str) -> str:
    """xdm:sourceProperty of a mapping destination: "personalEmail.address" -> "/personalEmail/address"."""
    return "/" + destination.strip(".").replace(".", "/")


def _enable_for_profile(ctx: Context, schema_id: str) -> None:
    """Identity descriptors for the identity mappings, then the union tag (help/xdm/api/descriptors.md,
    help/xdm/api/schemas.md#union). The order is AEP's: a schema joins the union only with a
    primary identity (XDM-1528-400, help/xdm/troubleshooting-guide.md). Each part is looked up
    first, so a retried step adds only what is missing."""
    spec, client = ctx.spec, ctx.client
    wanted = [rule for rule in spec.mapping if rule.identity and rule.namespaceCode]
    create = spec.target.dataset.create
    profile = bool(create and create.profileEnabled)
    if not wanted and not profile:
        return
    existing = {d.get("xdm:sourceProperty") for d in resources.list_identity_descriptors(client, schema_id)}
    for rule in sorted(wanted, key=lambda r: not r.primary):  # the primary identity first
        path = _descriptor_path(rule.destination)
        if path not in existing:
            resources.create_identity_descriptor(client, schema_id=schema_id, path=path,
                                                 namespace=rule.namespaceCode or "", primary=rule.primary)
    if profile and "union" not in (resources.get_schema(client, schema_id).get("meta:immutableTags") or []):
        resources.enable_schema_for_profile(client, schema_id)


@step("create-target-schema")
def create_target_schema(ctx: Context) -> dict[str, Any]:
    if ctx.ids.get("schemaId"):
        return ctx.ids
    spec, client = ctx.spec, ctx.client
    create = spec.target.schema_.create
    assert create is not None
    title = naming.schema_title(spec)

    def make() -> str:
        return resources.create_schema(client, title=title, description=create.description or
                                       f"Target schema of aepflow dataflow {spec.name}",
                                       class_id=create.class_, field_groups=create.fieldGroups)["$id"]

    schema_id = ctx.ensure("schema", title, make)
    _enable_for_profile(ctx, schema_id)
    return {**ctx.ids, "schemaId": schema_id}


@step("create-dataset")
def create_dataset(ctx: Context) -> dict[str, Any]:
    if ctx.ids.get("datasetId"):
        return ctx.ids
    spec, client = ctx.spec, ctx.client
    create = spec.target.dataset.create
    assert create is not None
    name = naming.dataset(spec)
    return {**ctx.ids, "datasetId": ctx.ensure("dataset", name, lambda: resources.create_dataset(
                                                   client, name=name, schema_id=ctx.ids["schemaId"],
                                                   description=create.description or f"aepflow dataflow {spec.name}",
                                                   profile_enabled=create.profileEnabled))}


@step("create-target-connection")
def create_target_connection(ctx: Context) -> dict[str, Any]:
    if ctx.ids.get("targetConnectionId"):
        return ctx.ids
    spec, client = ctx.spec, ctx.client
    name = naming.target_connection(spec)
    body = bodies.target_connection(spec, schema_id=ctx.ids["schemaId"], dataset_id=ctx.ids["datasetId"])
    return {**ctx.ids, "targetConnectionId": ctx.ensure(
        "targetConnection", name, lambda: resources.create_target_connection(client, body)["id"])}


@step("create-mapping-set")
def create_mapping_set(ctx: Context) -> dict[str, Any]:
    if ctx.ids.get("mappingId"):
        return ctx.ids
    spec, client = ctx.spec, ctx.client
    name = naming.mapping_set(spec)
    body = bodies.mapping_set(spec, ctx.resolved, schema_id=ctx.ids["schemaId"], name=name)
    return {**ctx.ids, "mappingId": ctx.ensure("mappingSet", name,
                                               lambda: resources.create_mapping_set(client, body)["id"])}


