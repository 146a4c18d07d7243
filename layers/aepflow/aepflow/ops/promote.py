"""Promote a dataflow from one sandbox to another (`aepflow promote NAME --from dev --to prod`,
`POST /dataflows/{name}/promote`): the spec its record applied in the source sandbox, with the target
sandbox's entry of `sandboxes` (its own credentials secret, schema and dataset, schedule, ...), planned
against the target sandbox and, unless asked for the plan alone, applied there as any spec is (the state
machine: created the first time, changed in place or replaced after).

Adobe's sandbox tooling moves flows in packages, as drafts without their credentials, and never over an
object that exists (help/sandboxes/ui/sandbox-tooling.md); a promotion here is a plan, with the target's
credentials, and again when the spec changes.

- The promoted dataflow is one of its own, named after its source (`acme-orders` -> `acme-orders-prod`;
  `acme-orders-dev` -> `acme-orders-prod`), whose spec says `promotedFrom: {dataflow, sandbox}`.
- A second promotion of an unchanged spec plans `none` and writes nothing.
- Each key the source sandbox's entry gives must be given by the target's entry too: the record holds the
  source sandbox's values, not the spec's own, so the target would otherwise inherit the source's.
- A flow in the target sandbox under the promoted dataflow's name that aepflow does not manage is named
  and left alone: adopt it first.
- A pinned mappingVersion stays behind (it names a version of the source sandbox's mapping set), and a
  draft in the source sandbox is promoted as a published flow (a draft is a request of its apply, not of
  its spec: `aepflow apply --draft` in the target makes one)."""

from __future__ import annotations

import copy
import re
from typing import Any

from aepflow.aep import naming, resources
from aepflow.aep.client import aep_client
from aepflow.core.errors import DataflowConflict, DataflowNotFound, SpecInvalid
from aepflow.ops import start
from aepflow.ops.plan import read as plan_read
from aepflow.spec import sandboxes
from aepflow.spec.fields import NAME_PATTERN
from aepflow.spec.parse import build_models, parse_spec
from aepflow.store import owners, records

build_models()  # parse_spec's validators, built at import (spec.build_models)

ORIGIN = start.API  # as the API's own specs: a promotion is asked of the API


def target_name(name: str, source: str, target: str) -> str:
    """The promoted dataflow's name: the source's, its `-<source sandbox>` suffix (if any) for the target's."""
    base = name[: -len(source) - 1] if name.endswith(f"-{source}") else name
    return f"{base}-{target}"


def _refused(path: str, message: str) -> SpecInvalid:
    return SpecInvalid(f"the promotion is refused: {message}", code="PromotionInvalid", status=400,
                       problems=[{"path": path, "message": message}])


def target_spec(rec: records.Record, source: str, target: str) -> dict[str, Any]:
    """The spec to apply in `target`: the record's, renamed, in the target sandbox, with its entry."""
    if source == target:
        raise _refused("to", f"the dataflow is in {source} already: promote it to another sandbox")
    applied_in = aep_client(rec.sandbox).sandbox
    if applied_in != source:
        raise _refused("from", f"dataflow {rec.name!r} runs in sandbox {applied_in!r}, not {source!r}")
    raw = copy.deepcopy(rec.spec)
    inherited = [k for k in sandboxes.overridden(raw, source) if k not in sandboxes.overridden(raw, target)]
    if inherited:
        keys = ", ".join(inherited)
        raise _refused(f"sandboxes.{target}", (
            f"sandbox {source!r} gives its own {keys} (sandboxes.{source}); give {target!r}'s in sandboxes.{target}, "
            f"or the promoted dataflow would take {source!r}'s"))
    name = target_name(rec.name, source, target)
    if not re.fullmatch(NAME_PATTERN, name):
        raise _refused("name", f"the promoted dataflow's name {name!r} is longer than a dataflow name may be")
    raw.update(name=name, sandbox=target, promotedFrom={"dataflow": rec.name, "sandbox": source})
    # A pinned mapping version names a version of the source sandbox's mapping set; the target's set is
    # another one, made from the rules: the promoted flow maps with them.
    raw.pop("mappingVersion", None)
    return raw


def _unmanaged_flow(raw: dict[str, Any]) -> None:
    """DataflowConflict naming a flow of the target sandbox under the promoted dataflow's name that no
    dataflow of aepflow owns (made by hand, or left by another tool): never overwritten, adopt it first."""
    spec = parse_spec(raw)
    client = aep_client(spec.sandbox)
    name = naming.dataflow(spec)
    found = resources.find_flow_service(client, "flow", name)
    if not found or not isinstance(found.get("id"), str):
        return
    owner = owners.flow_owner(found["id"])
    if owner is None:
        raise DataflowConflict(
            f"sandbox {client.sandbox!r} holds flow {found['id']} named {name!r}, which aepflow does not manage; it "
            f"is left alone: adopt it first (aepflow adopt {found['id']} --name {spec.name} --sandbox "
            f"{client.sandbox}) or remove it, then promote", code="UnmanagedTarget", status=409,
            problems=[{"path": "to", "message": f"flow {found['id']} ({name}) is not aepflow's"}])
    if owner != spec.name:
        raise DataflowConflict(f"flow {found['id']} named {name!r} in {client.sandbox!r} belongs to dataflow "
                               f"{owner!r}", code="UnmanagedTarget", status=409)


def promote(name: str, source: str, target: str, *, dry_run: bool = False) -> dict[str, Any]:
    """The promotion's plan and, unless `dry_run` or it plans nothing, its provisioning started."""
    rec = records.record(name)
    if rec is None:
        raise DataflowNotFound(f"no dataflow named {name!r}", code="DataflowNotFound", status=404)
    raw = target_spec(rec, source, target)
    _unmanaged_flow(raw)
    plan = plan_read.of(raw)
    out: dict[str, Any] = {"name": name, "from": source, "to": target, "target": raw["name"], "plan": plan,
                           "started": False}
    if dry_run or plan["action"] == "none":
        return out
    return {**out, **{k: v for k, v in start.start(raw, origin=ORIGIN).items() if k != "name"}}
