"""The first step of a provisioning, "Validate the dataflow spec": the spec, the connector catalog
and the credentials secret it names, before any AEP call. The steps that call AEP are in
lookup_steps, source_steps, target_steps, flow_steps and rollback (one module per part of the state
machine, so each step's Lambda imports only what it needs); steps/context.py holds what they share."""

from __future__ import annotations

from typing import Any

from aepflow.core.errors import SpecInvalid, step
from aepflow.spec import document, source_secrets, suggest, xdm
from aepflow.spec.auth import choose_auth
from aepflow.spec.model import DataflowSpec, ResolvedSource
from aepflow.spec.parse import build_models, parse_spec, resolve_source

build_models()  # parse_spec's validators, built at import (spec.build_models)


# --- Validate ---------------------------------------------------------------------------------

def _read_secret(name: str) -> tuple[dict[str, Any] | None, list[dict[str, str]]]:
    """The source secret's JSON object (through the credentials boundary), or the problem."""
    try:
        return source_secrets.read(name), []
    except source_secrets.SecretUnreadable as exc:
        return None, [{"path": "source.credentialsSecret", "message": str(exc)}]


def _secret_problems(spec: DataflowSpec, resolved: ResolvedSource) -> list[dict[str, str]]:
    """Check the credentials secret against the catalog's auth specs; records the chosen auth spec
    and the params to send in `resolved`. A connection spec the catalog does not know is checked
    against its live document when provisioning starts (resolve_flow_spec)."""
    secret_name = spec.source.credentialsSecret
    if not secret_name:
        return []
    if spec.source.baseConnectionId:  # (the credentials boundary is parse_spec's)
        return []
    secret, problems = _read_secret(secret_name)
    if problems or secret is None:
        return problems
    connector = spec.connector
    if connector is None:
        return []
    choice, problems, warnings = choose_auth(spec, connector.auth_specs, connector.label, secret)
    if choice.spec is not None and not problems:
        resolved.authSpecName = choice.spec.name
        resolved.authParams = list(choice.params(secret))
        resolved.warnings.extend(warnings)
    return problems


def column_warnings(spec: DataflowSpec, resolved: ResolvedSource) -> list[dict[str, str]]:
    """A mapped attribute none of the spec's own columns names, with the closest of them (a typo, most
    often): a warning, for explore holds it against the table itself when provisioning starts."""
    given = [column.name for column in spec.source.columns or []]
    if not given or not resolved.tabular:
        return []
    return [{"path": f"mapping[{i}].source", "message": (
        f"{rule.source!r} is not one of source.columns{suggest.did_you_mean(rule.source, given)}; explore "
        "checks it against the table when the dataflow is provisioned")}
        for i, rule in enumerate(spec.mapping) if rule.sourceType == "ATTRIBUTE" and rule.source not in given]


def mapping_problems(spec: DataflowSpec, resolved: ResolvedSource) -> list[dict[str, str]]:
    """The mapping against a schema aepflow creates from XDM's standard class and field groups (no AEP
    call); a schema AEP alone knows is checked by "Check the mapping against the target schema"."""
    resolved.warnings.extend(column_warnings(spec, resolved))
    refs = xdm.created_schema_refs(spec)
    fields = xdm.standard_fields(refs) if refs else None
    resolved.mappingCheckedInAep = fields is None
    if fields is None:
        return []
    return xdm.mapping_problems(spec, fields, "the schema aepflow creates (its class and field groups)",
                                tabular=resolved.tabular)


@step("validate-spec")
def validate_input(state: Any) -> dict[str, Any]:
    """The state machine's first step, on the execution's input {spec, draft?}: validate_spec's answer,
    with `draft` (apply --draft: the flow is made as an AEP draft) carried on for "Resolve the flow spec"."""
    if not isinstance(state, dict):
        raise SpecInvalid("the execution's input is not an object", problems=[{"path": "(input)", "message": (
            "expected {spec, draft?}")}])
    draft = state.get("draft", False)
    if type(draft) is not bool:
        raise SpecInvalid("draft must be true or false", problems=[{"path": "draft", "message": "expected a boolean"}])
    return {**validate_spec(state.get("spec")), **({"draft": True} if draft else {})}


@step("validate-spec")
def validate_spec(raw: Any) -> dict[str, Any]:
    spec = parse_spec(document.read(raw))
    resolved = resolve_source(spec)
    problems = mapping_problems(spec, resolved) + _secret_problems(spec, resolved)
    if problems:
        raise SpecInvalid(f"the dataflow spec has {len(problems)} problem(s)", problems=problems)
    return {"spec": spec.model_dump(mode="json", by_alias=True, exclude_none=True),
            "resolved": resolved.model_dump(mode="json")}
