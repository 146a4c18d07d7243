"""Deleting a dataflow: the flow first, then what aepflow created for it, newest first; what the
dataflow ingested into (the dataset and schema aepflow created) is kept unless asked. An S3 source read
through Adobe's IAM role has its statements taken out of its bucket's policy last."""

from __future__ import annotations

from typing import Any

from aepflow.aep import resources
from aepflow.aep.client import aep_client
from aepflow.core.errors import AepNotFound, AepValidationError, DataflowConflict, DataflowNotFound
from aepflow.ops.apply import patch as apply_patch
from aepflow.ops.created import created_by_aepflow
from aepflow.ops.executions import describe_execution
from aepflow.ops.plan.model import ID_KEY
from aepflow.s3 import grants
from aepflow.spec.parse import build_models, parse_spec
from aepflow.store import claims, journal, records

build_models()  # parse_spec's validators, built at import (spec.build_models)

# Delete order: the flow first, then what it used, dependants before what they depend on.
DELETE_ORDER = ("flow", "mappingSet", "targetConnection", "sourceConnection", "dataset", "schema", "baseConnection")


# What a delete keeps unless asked: what the dataflow ingested into.
DATA_KINDS = ("dataset", "schema")
KEPT_DATA = ("it holds the data the dataflow ingested: kept (delete it with the dataflow with ?deleteData=true, "
             "`aepflow delete --delete-data`, or the spec's onDelete: {dataset: delete})")


def delete(name: str, *, delete_data: bool = False) -> dict[str, Any]:
    """Delete the flow, then what aepflow created for it, newest first; the dataset and the schema aepflow
    created are kept (with what was ingested) unless `delete_data` or the spec's onDelete says so. Refused
    (409) while an execution provisions the name. Idempotent."""
    rec = records.record(name)
    claim = claims.claim_item(name)
    result: dict[str, Any] = {"name": name, "status": "DELETED", "deleted": [], "kept": [], "leftBehind": []}
    if rec is None:
        if claim is None:
            raise DataflowNotFound(f"no dataflow named {name!r}", code="DataflowNotFound", status=404)
        if claim.get("status") != "DELETED":
            described = describe_execution(claim.get("executionArn"))
            if described and described["status"] == "RUNNING":
                raise DataflowConflict(f"dataflow {name!r} is still being provisioned; delete it when it is done",
                                       code="ProvisioningInProgress", status=409)
            claims.mark_deleted(name, claim)
        result["alreadyDeleted"] = True
        return result
    apply_patch.refuse_while_provisioning(name)
    with claims.changing(name):
        rec = records.record(name)
        if rec is None:  # deleted meanwhile
            return {**result, "alreadyDeleted": True}
        _delete_resources(rec, result, delete_data=delete_data)
        records.delete(name, rec)
        claims.mark_deleted(name, claims.claim_item(name))
    return result


def _delete_resources(rec: records.Record, result: dict[str, Any], *, delete_data: bool) -> None:
    spec = parse_spec(rec.spec)
    client = aep_client(spec.sandbox)
    created = created_by_aepflow(rec, spec)
    delete_data = delete_data or spec.onDelete.dataset == "delete"
    for kind, key in ID_KEY.items():
        if rec.ids.get(key) and kind not in created:
            result["kept"].append({"kind": kind, "id": rec.ids[key],
                                   "reason": "referenced by the spec, not created by aepflow"})
    for kind in DELETE_ORDER:
        resource_id = created.get(kind)
        if not resource_id:
            continue
        if kind in DATA_KINDS and not delete_data:
            result["kept"].append({"kind": kind, "id": resource_id, "reason": KEPT_DATA})
            continue
        if kind == "mappingSet":
            result["leftBehind"].append({"kind": kind, "id": resource_id,
                                         "reason": journal.MAPPING_SET_KEPT})
            continue
        try:
            resources.delete_by_kind(client, kind, resource_id)
            result["deleted"].append({"kind": kind, "id": resource_id})
        except AepNotFound:
            result["deleted"].append({"kind": kind, "id": resource_id, "note": "already gone"})
        except AepValidationError as exc:
            if kind == "baseConnection":  # 1418: another flow still uses the account
                result["kept"].append({"kind": kind, "id": resource_id, "reason": f"still in use: {exc.message}"})
                continue
            raise
    if spec.source.access == "iam-role" and spec.source.bucket:
        _remove_bucket_grant(spec.name, spec.source.bucket, result)


def _remove_bucket_grant(name: str, bucket: str, result: dict[str, Any]) -> None:
    """Adobe's role may no longer read the dataflow's files: its statements leave the bucket's policy, once
    its AEP resources are gone. A refusal is left behind, saying which statements to remove by hand; S3's
    transient errors fail the delete, which can be asked again."""
    entry, refused = grants.withdraw(name, bucket)
    if refused:
        result["leftBehind"].append({**entry, "reason": refused})
    else:
        result["deleted"].append(entry)
