"""Look up what already exists, when there is a reason to (see steps/context.py): every resource this
spec would create, found by its deterministic name, and every resource it names, checked. And the
two checks a first provisioning makes in the branch that needs them, alongside the creates that do
not: the base connection the spec names (its connection spec must be the source's) and the dataset
it names (it must exist). All are the step "find-existing"."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aepflow.aep import naming, resources
from aepflow.core.errors import AepValidationError, SpecInvalid, step
from aepflow.spec import xdm
from aepflow.steps.context import Context
from aepflow.steps.source import explore_and_check, explores_first


def _base_connection(ctx: Context) -> str:
    spec = ctx.spec
    found = resources.get_flow_service(ctx.client, "baseConnection", spec.source.baseConnectionId or "")
    spec_id = (found.get("connectionSpec") or {}).get("id")
    if spec_id and spec_id != ctx.resolved.connectionSpecId:
        raise AepValidationError(
            f"base connection {spec.source.baseConnectionId} is a {spec_id} connection, "
            f"not {ctx.resolved.label} ({ctx.resolved.connectionSpecId})", status=400)
    return spec.source.baseConnectionId or ""


def _dataset(ctx: Context) -> str:
    dataset_id = ctx.spec.target.dataset.id or ""
    resources.get_dataset(ctx.client, dataset_id)  # AEP's 404 if it does not exist
    return dataset_id


def _schema(ctx: Context) -> str:
    spec = ctx.spec
    found = resources.get_schema(ctx.client, spec.target.schema_.id or "")
    create = spec.target.dataset.create
    if create and create.profileEnabled and "union" not in (found.get("meta:immutableTags") or []):
        # help/catalog/datasets/enable-for-profile.md: a Profile-enabled dataset needs a
        # schema enabled for Profile; aepflow does not change a schema it did not create.
        raise AepValidationError(
            f"schema {spec.target.schema_.id} is not enabled for Profile (its meta:immutableTags has no "
            "'union'), so AEP refuses a Profile-enabled dataset on it", status=400, problems=[
                {"path": "target.dataset.create.profileEnabled",
                 "message": "the target schema is not enabled for Profile"}])
    return found.get("$id") or spec.target.schema_.id or ""


def _base_connection_id(ctx: Context) -> str | None:
    """The base connection the spec names (checked), else the one its deterministic name finds."""
    if ctx.spec.source.baseConnectionId:
        return _base_connection(ctx)
    return (resources.find_flow_service(ctx.client, "baseConnection", naming.base_connection(ctx.spec)) or {}).get("id")


def _schema_id(ctx: Context) -> str | None:
    """The schema the spec names (checked), else the one its deterministic title finds."""
    if ctx.spec.target.schema_.id:
        return _schema(ctx)
    return (resources.find_schema(ctx.client, naming.schema_title(ctx.spec)) or {}).get("$id")


def _dataset_id(ctx: Context) -> str | None:
    """The dataset the spec names (checked), else the one its deterministic name finds."""
    if ctx.spec.target.dataset.id:
        return _dataset(ctx)
    return resources.find_dataset(ctx.client, naming.dataset(ctx.spec))


def _explores_with_the_check(ctx: Context) -> bool:
    """A base connection the spec names is explored where it is checked, before its source connection
    is created (a catalog connector's, unless the source connection needs the explored columns: then
    "Explore the source for its columns" does it)."""
    return bool(ctx.spec.source.baseConnectionId) and ctx.resolved.inCatalog and not explores_first(ctx)


def _mapping_against_aep(ctx: Context) -> dict[str, Any]:
    """"Check the mapping against the target schema": the destinations against the fields AEP has for the
    schema the spec names (or for the class and field groups of the one it creates, one of them a
    tenant's), before anything is made. SpecInvalid with every destination it lacks (xdm.py)."""
    spec, client = ctx.spec, ctx.client
    refs = xdm.created_schema_refs(spec)
    if refs is None:
        schema_id = spec.target.schema_.id or ""
        fields, label = resources.schema_fields(client, schema_id), f"schema {schema_id}"
    else:
        kinds = ["classes"] + ["fieldgroups"] * (len(refs) - 1)
        known = xdm.definitions()
        with ThreadPoolExecutor(max_workers=len(refs)) as pool:
            parts = list(pool.map(lambda ref, kind: (known[ref].get("properties") or {}) if ref in known
                                  else resources.part_fields(client, ref, kind), refs, kinds))
        fields, label = {}, "the schema aepflow creates (its class and field groups)"
        for part in parts:
            fields = xdm.merge(fields, part)
    problems = xdm.mapping_problems(spec, fields, label, tabular=ctx.resolved.tabular)
    if problems:
        raise SpecInvalid(f"the mapping does not fit the target schema: {len(problems)} problem(s)",
                          problems=problems)
    return {"checked": len(spec.mapping)}


@step("find-existing")
def find_existing(ctx: Context) -> dict[str, Any]:
    if ctx.event.check == "mapping":
        return _mapping_against_aep(ctx)
    if ctx.event.check == "baseConnection":
        if not _explores_with_the_check(ctx):
            return {**ctx.ids, "baseConnectionId": _base_connection(ctx)}
        with ThreadPoolExecutor(max_workers=2) as pool:
            checked = pool.submit(_base_connection, ctx)
            explored = pool.submit(explore_and_check, ctx, ctx.spec.source.baseConnectionId or "")
            base_connection_id = checked.result()  # its error first: exploring a wrong account fails too
            explored.result()
        return {**ctx.ids, "baseConnectionId": base_connection_id}
    if ctx.event.check == "dataset":
        return {**ctx.ids, "datasetId": _dataset(ctx)}
    spec, client = ctx.spec, ctx.client
    client.tokens.token()  # one IMS request at most, before the lookups fan out

    def by_name(kind: str, name: str) -> Callable[[], dict | None]:
        return lambda: resources.find_flow_service(client, kind, name)

    jobs: dict[str, Callable[[], Any]] = {
        "baseConnectionId": lambda: _base_connection_id(ctx),
        "sourceConnection": by_name("sourceConnection", naming.source_connection(spec)),
        "schemaId": lambda: _schema_id(ctx),
        "datasetId": lambda: _dataset_id(ctx),
        "targetConnection": by_name("targetConnection", naming.target_connection(spec)),
        "mappingSet": lambda: resources.find_mapping_set(client, naming.mapping_set(spec)),
        "flow": by_name("flow", naming.dataflow(spec)),
    }
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        futures = {key: pool.submit(job) for key, job in jobs.items()}
        results = {key: future.result() for key, future in futures.items()}
    if _explores_with_the_check(ctx) and not results["sourceConnection"]:
        explore_and_check(ctx, spec.source.baseConnectionId or "")
    flow = results["flow"] or {}
    return {
        "baseConnectionId": results["baseConnectionId"],
        "sourceConnectionId": (results["sourceConnection"] or {}).get("id"),
        "schemaId": results["schemaId"],
        "datasetId": results["datasetId"],
        "targetConnectionId": (results["targetConnection"] or {}).get("id"),
        "mappingId": (results["mappingSet"] or {}).get("id"),
        "flowId": flow.get("id"),
        "flowEtag": flow.get("etag"),
        "flowSpecId": (flow.get("flowSpec") or {}).get("id"),
    }
