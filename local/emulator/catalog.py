"""Catalog: the datasets of a sandbox (POST, GET, list and DELETE /dataSets)."""
from __future__ import annotations

import copy
import re
import secrets

from . import preloaded
from .aep_errors import CAT, cat_error
from .sandbox import Sandbox, now_ms
from .schema_registry import find_schema, schema_ids


class CatalogMixin:
    """Mixed into AepEmulator. State (set by the emulator): `org_id`, `client_id`, `tenant`."""

    def _preload_datasets(self, sb: Sandbox) -> None:
        """The datasets the seeds reference (on the preloaded schemas)."""
        for dsid, dsname, hexid in preloaded.PRELOADED_DATASETS:
            sb.dataSets[dsid] = self._make_dataset(dsname, schema_ids(self.tenant, hexid)[0], {}, sb)

    def _make_dataset(self, name, schema_id, tags, sb, description=None):
        now = now_ms()
        ds = {"name": name, "imsOrg": self.org_id, "sandboxId": sb.id, "version": "1.0.0",
              "created": now, "updated": now, "createdClient": self.client_id, "createdUser": self.client_id,
              "updatedUser": self.client_id, "tags": tags or {},
              "schemaRef": {"id": schema_id, "contentType": "application/vnd.adobe.xed-full-notext+json; version=1"},
              "viewId": secrets.token_hex(12), "files": "@/dataSets/{id}/views/{vid}/files"}
        if description:
            ds["description"] = description
        return ds

    def _create_dataset(self, body, sb):
        sid = (body.get("schemaRef") or {}).get("id")
        if not sid or find_schema(sb, sid) is None:
            raise cat_error(400, "1000", "Bad Request", f"schemaRef.id {sid} does not exist")
        schema = find_schema(sb, sid)
        profile = [str(v).replace(" ", "").lower() for v in ((body.get("tags") or {}).get("unifiedProfile") or [])]
        if "enabled:true" in profile and "union" not in (schema.get("meta:immutableTags") or []):
            # "To create a new Profile-enabled dataset, you must know the ID of an existing XDM schema
            # that is enabled for Profile" (help/catalog/datasets/enable-for-profile.md). Seed 000
            # writes the tag "enabled: true", the Catalog page "enabled:true": both count.
            raise cat_error(400, "1003", "Bad Request",
                            f"schema {schema['$id']} is not enabled for Profile; a Profile-enabled dataset needs one")
        dsid = secrets.token_hex(12)
        ds = self._make_dataset(body.get("name"), schema["$id"], body.get("tags"), sb,
                                body.get("description"))
        ds["schemaRef"]["contentType"] = body["schemaRef"].get("contentType", ds["schemaRef"]["contentType"])
        sb.dataSets[dsid] = ds
        return 201, [f"@/dataSets/{dsid}"], {"Location": f"{CAT}/dataSets/{dsid}"}

    def _list_datasets(self, sb, query):
        items = list(sb.dataSets.items())
        if "name" in query:
            items = [(k, v) for k, v in items if v.get("name") == query["name"]]
        for p in ([query["property"]] if isinstance(query.get("property"), str) else query.get("property") or []):
            m = re.match(r"^([\w.]+)==(.*)$", p)
            if not m:
                raise cat_error(400, "1000", "Bad Request", f"Unsupported property filter '{p}'")
            f, vals = m.group(1), m.group(2).split(",")
            items = [(k, v) for k, v in items if str(k if f == "id" else v.get(f)) in vals]
        items.sort(key=lambda kv: kv[1]["created"])
        try:
            start, limit = int(query.get("start", 0)), int(query.get("limit", 50))
        except ValueError:
            raise cat_error(400, "1000", "Bad Request", "start/limit must be integers") from None
        return 200, {k: copy.deepcopy(v) for k, v in items[start:start + limit]}, {}

    def _get_dataset(self, sb, dsid):
        if dsid not in sb.dataSets:
            raise cat_error(404, "1002", "Not Found", f"Dataset {dsid} not found")
        return 200, {dsid: copy.deepcopy(sb.dataSets[dsid])}, {}

    def _delete_dataset(self, sb, dsid):
        if dsid not in sb.dataSets:
            raise cat_error(404, "1002", "Not Found", f"Dataset {dsid} not found")
        del sb.dataSets[dsid]
        return 200, [f"@/dataSets/{dsid}"], {}
