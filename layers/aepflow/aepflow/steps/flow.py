"""The flow spec and the dataflow: "Resolve the flow spec" (a branch of its own, alongside the
source and the target: it only reads) and "Create the dataflow", its schedule and options checked
against the flow spec's own scheduleSpec and optionSpec first."""

from __future__ import annotations

from typing import Any

from aepflow.aep import bodies, drafts, live, resources
from aepflow.aep.client import AepClient
from aepflow.aep.schedule import schedule_params
from aepflow.core.errors import AepNotFound, FlowSpecMismatch, SpecInvalid, step
from aepflow.spec.connectors import DATA_LAKE_CONNECTION_SPEC_ID
from aepflow.steps.context import Context


def read_flow_spec(client: AepClient, flow_spec_id: str | None, name: str) -> dict[str, Any]:
    """The flow spec, by its fixed id where it has one, else by name; AepNotFound when AEP has none."""
    flow_spec = resources.get_flow_spec(client, flow_spec_id) if flow_spec_id \
        else resources.find_flow_spec(client, name)
    if flow_spec is None:
        raise AepNotFound(f"flow spec {name!r} not found in sandbox {client.sandbox}", status=404)
    return flow_spec


def check_draft_mode(client: AepClient, flow_spec: dict[str, Any], connection_spec_id: str, dataflow: str) -> None:
    """A draft is made only where AEP allows one (draft.md, "Check for draft mode support"): the flow
    spec's attributes.isDraftModeSupported true, and the source's connection spec not saying false
    (most carry no such attribute: aepflow drafts the flow alone, whose spec then decides)."""
    def refused(why: str) -> FlowSpecMismatch:
        return FlowSpecMismatch(f"dataflow {dataflow} cannot be made a draft: {why}; apply it without --draft",
                                problems=[{"path": "(draft)", "message": why}])

    label = f"{flow_spec.get('name')} ({flow_spec.get('id')})"
    if drafts.supports_drafts(flow_spec) is not True:
        raise refused(f"flow spec {label} does not support draft mode (its attributes.isDraftModeSupported is "
                      f"{'false' if drafts.supports_drafts(flow_spec) is False else 'not set'})")
    connection_spec = resources.get_connection_spec(client, connection_spec_id)
    if drafts.supports_drafts(connection_spec) is False:
        raise refused(f"connection spec {(connection_spec or {}).get('name')} ({connection_spec_id}) does not support "
                      "draft mode (its attributes.isDraftModeSupported is false)")


def draft_requested(state: dict[str, Any]) -> bool:
    """The execution asked for a draft (apply --draft), or the dataflow is a draft already (a draft stays
    one until it is published: its ids say so)."""
    return state.get("draft") is True or (state.get("ids") or {}).get("draft") is True


@step("resolve-flow-spec")
def resolve_flow_spec(ctx: Context) -> dict[str, Any]:
    """The flow spec, by its fixed id where it has one, else by name; it must accept the source and
    write to the Data Lake, and, for a draft, allow drafts."""
    resolved, client = ctx.resolved, ctx.client
    name = resolved.flowSpecName
    if resolved.warnings:
        ctx.journal.warn("validate-spec", resolved.warnings)
    flow_spec = read_flow_spec(client, resolved.flowSpecId, name)
    name = flow_spec.get("name", name)
    if resolved.connectionSpecId not in (flow_spec.get("sourceConnectionSpecIds") or []):
        raise FlowSpecMismatch(f"flow spec {name} ({flow_spec['id']}) does not accept {resolved.label} "
                               f"(connection spec {resolved.connectionSpecId} is not in sourceConnectionSpecIds)")
    if DATA_LAKE_CONNECTION_SPEC_ID not in (flow_spec.get("targetConnectionSpecIds") or [DATA_LAKE_CONNECTION_SPEC_ID]):
        raise FlowSpecMismatch(f"flow spec {name} does not write to the Data Lake")
    draft = draft_requested(ctx.event.state)
    if draft:
        check_draft_mode(client, flow_spec, resolved.connectionSpecId, ctx.spec.name)
    transformations = {t.get("name"): t.get("spec") or {} for t in flow_spec.get("transformationSpecs") or []}
    copy_spec = transformations.get("Copy")
    return {**({"draft": True} if draft else {}),
        "id": flow_spec["id"], "name": name, "version": flow_spec.get("version", "1.0"),
        "scheduleSpec": ((flow_spec.get("scheduleSpec") or {}).get("spec")) or {},
        "optionSpec": ((flow_spec.get("optionSpec") or {}).get("spec")) or {},
        "hasCopy": copy_spec is not None,
        "copyNeedsDeltaColumn": bool(copy_spec and "deltaColumn" in (copy_spec.get("required") or [])),
    }


def _fits(schema: dict[str, Any], value: dict[str, Any], what: str, flow_spec: dict[str, Any]) -> None:
    import jsonschema  # this step's own need: no other step imports it

    try:
        jsonschema.validate(value, schema or {})
    except jsonschema.ValidationError as exc:
        field = ".".join(str(p) for p in exc.absolute_path)
        raise FlowSpecMismatch(f"{what} does not fit flow spec {flow_spec['name']}: {exc.message}",
                               problems=[{"path": f"{what}.{field}".rstrip("."), "message": exc.message}]) from None


@step("create-dataflow")
def create_dataflow(ctx: Context) -> dict[str, Any]:
    spec, client, ids = ctx.spec, ctx.client, ctx.ids
    flow_spec = ctx.event.state["flowSpec"]
    if ids.get("flowId"):
        return ids
    params = schedule_params(spec)
    _fits(flow_spec.get("scheduleSpec") or {}, params, "schedule", flow_spec)
    options = spec.options.model_dump(exclude_none=True) if spec.options else {}
    if options:
        # The flow spec's optionSpec (seeds 000, 001, 004) defines the flow's options.
        _fits(flow_spec.get("optionSpec") or {}, options, "options", flow_spec)
    if spec.deltaColumn is None and flow_spec.get("copyNeedsDeltaColumn"):
        raise FlowSpecMismatch(f"flow spec {flow_spec['name']} needs a deltaColumn",
                               problems=[{"path": "deltaColumn", "message": "required by the flow spec"}])
    # A new flow maps with version 0 of its mapping set, or the version the spec pins (one of a set
    # found by its name, which outlived an earlier flow): a version the set does not have is refused here.
    mapping_version = spec.mappingVersion or 0
    if mapping_version and live.mapping_set(client, ids["mappingId"], mapping_version) is None:
        why = f"mapping set {ids['mappingId']} has no version {mapping_version} (AEP answered 404)"
        raise SpecInvalid(why, code="MappingVersionNotFound", status=400,
                          problems=[{"path": "mappingVersion", "message": why}])
    body = bodies.flow(spec, flow_spec_id=flow_spec["id"], ids={**ids, "mappingVersion": mapping_version},
                       with_copy=bool(flow_spec.get("hasCopy")))
    body["flowSpec"]["version"] = flow_spec.get("version", body["flowSpec"]["version"])
    name = body["name"]
    etags: dict[str, str | None] = {}

    def find() -> str | None:
        item = resources.find_flow_service(client, "flow", name)
        if item:
            etags[item["id"]] = item.get("etag")
        return item["id"] if item else None

    draft = flow_spec.get("draft") is True  # resolve-flow-spec checked that AEP allows one

    def create() -> str:
        answer = drafts.create_draft_flow(client, body) if draft else resources.create_flow(client, body)
        etags[answer["id"]] = answer.get("etag")
        return answer["id"]

    flow_id = ctx.ensure("flow", name, create, find)
    if not spec.enabled and not draft:  # AEP creates a flow enabled; the spec says it is not to run
        # (a draft does not run: publishing it disables it then, ops/drafts.py)
        answer = resources.flow_action(client, flow_id, "DISABLE")
        etags[flow_id] = answer.get("etag") or etags.get(flow_id)
    made = {**ids, "flowId": flow_id, "flowEtag": etags.get(flow_id), "flowSpecId": flow_spec["id"],
            "mappingVersion": mapping_version}
    made.pop("draft", None)
    # The record keeps that the dataflow is a draft ("Record the dataflow" writes these ids).
    return {**made, "draft": True} if draft else made
