"""The Schema Registry: tenant schemas (their raw and resolved views), descriptors, and the
global and tenant classes and field groups, per sandbox.

Other services look schemas up here: `find_schema` (Catalog, Data Prep, Flow Service's target
connections) and `schema_fields` (Data Prep's mapping destinations)."""
from __future__ import annotations

import copy
import re
import secrets
from urllib.parse import unquote, urlencode

from . import preloaded
from .aep_errors import SR, xdm_error
from .json_patch import json_patch
from .sandbox import Sandbox, now_ms


def schema_ids(tenant: str, hexid: str) -> tuple[str, str]:
    """A tenant schema's `$id` and `meta:altId`."""
    return f"https://ns.adobe.com/{tenant}/schemas/{hexid}", f"_{tenant}.schemas.{hexid}"


def find_schema(sb: Sandbox, sid: str) -> dict | None:
    """The sandbox's tenant schema whose `$id` or `meta:altId` is `sid` (URL-encoded or not)."""
    sid = unquote(sid)
    for s in sb.schemas.values():
        if sid in (s["$id"], s["meta:altId"]):
            return s
    return None


def schema_fields(sb: Sandbox, schema: dict, classes: dict, fieldgroups: dict) -> dict:
    """A schema's fields: the `properties` of its class and field groups (global or tenant), merged."""
    fields: dict = {}
    refs = [a.get("$ref") for a in schema.get("allOf") or [] if isinstance(a, dict)]
    for ref in refs or schema.get("meta:extends") or []:
        part = classes.get(ref) or fieldgroups.get(ref) or sb.fieldgroups.get(ref)
        if part:
            fields = merge_fields(fields, part.get("properties") or {})
    return fields


def merge_fields(into: dict, fields: dict) -> dict:
    """Two parts of a schema defining one object field merge their fields (XDM composition)."""
    out = dict(into)
    for name, node in fields.items():
        old = out.get(name)
        if old and old.get("type") == node.get("type") == "object" and "properties" in node and "properties" in old:
            out[name] = {**old, "properties": merge_fields(old["properties"], node["properties"])}
        else:
            out[name] = copy.deepcopy(node)
    return out


class SchemaRegistryMixin:
    """Mixed into AepEmulator. State (set by the emulator): `org_id`, `client_id`, `tenant`,
    `_classes` and `_fieldgroups` (XDM's global ones, from preloaded.py)."""

    # ------------------------------------------------------------ what a sandbox starts with
    def _preload_schemas(self, sb: Sandbox) -> None:
        """The tenant field groups and schemas the seeds reference, with the primary identity of
        each Profile-enabled one."""
        for hexid, title, extends, properties in preloaded.PRELOADED_FIELD_GROUPS:
            fg = self._tenant_fieldgroup(hexid, title, extends, properties, sb)
            sb.fieldgroups[fg["$id"]] = fg
        for hexid, title, cls, profile, groups, tenant_groups in preloaded.PRELOADED_SCHEMAS:
            refs = [cls, *groups, *(f"https://ns.adobe.com/{self.tenant}/mixins/{h}" for h in tenant_groups)]
            allof = [{"$ref": r, "type": "object", "meta:xdmType": "object"} for r in refs]
            s = self._make_schema(hexid, title, title, allof, cls, sb, profile)
            sb.schemas[s["$id"]] = s
            if profile:  # a union schema has a primary identity (XDM-1528-400 refuses the tag otherwise)
                self._add_descriptor(sb, {"@type": "xdm:descriptorIdentity", "xdm:sourceSchema": s["$id"],
                                          "xdm:sourceVersion": 1, "xdm:sourceProperty": "/personalEmail/address",
                                          "xdm:namespace": "Email", "xdm:property": "xdm:code",
                                          "xdm:isPrimary": True})

    def _make_schema(self, hexid, title, description, allof, cls, sb: Sandbox, profile=False):
        sid, alt = schema_ids(self.tenant, hexid)
        now = now_ms()
        return {
            "$id": sid, "meta:altId": alt, "meta:resourceType": "schemas", "version": "1.0", "title": title,
            "type": "object", "description": description, "allOf": allof,
            "refs": [a["$ref"] for a in allof], "imsOrg": self.org_id, "meta:extensible": False,
            "meta:abstract": False, "meta:extends": [a["$ref"] for a in allof], "meta:xdmType": "object",
            "meta:registryMetadata": {"repo:createdDate": now, "repo:lastModifiedDate": now,
                                      "xdm:createdClientId": self.client_id, "eTag": secrets.token_hex(32)},
            "meta:class": cls, "meta:containerId": "tenant", "meta:sandboxId": sb.id,
            "meta:sandboxType": "production" if sb.name == "prod" else "development",
            "meta:tenantNamespace": f"_{self.tenant}", "meta:immutableTags": ["union"] if profile else [],
        }

    def _tenant_fieldgroup(self, hexid, title, extends, properties, sb: Sandbox):
        now = now_ms()
        fid = f"https://ns.adobe.com/{self.tenant}/mixins/{hexid}"
        return {
            "$id": fid, "meta:altId": f"_{self.tenant}.mixins.{hexid}", "meta:resourceType": "mixins",
            "version": "1.0", "title": title, "type": "object", "description": title,
            "meta:intendedToExtend": list(extends), "meta:containerId": "tenant", "meta:xdmType": "object",
            "meta:sandboxId": sb.id, "meta:tenantNamespace": f"_{self.tenant}", "imsOrg": self.org_id,
            "meta:registryMetadata": {"repo:createdDate": now, "repo:lastModifiedDate": now,
                                      "xdm:createdClientId": self.client_id, "eTag": secrets.token_hex(32)},
            "definitions": {}, "properties": copy.deepcopy(properties),
        }

    # ------------------------------------------------------------ endpoints
    def _container(self, sb, container, kind):
        if container not in ("global", "tenant"):
            raise xdm_error(404, "1012", "Resource Not Found", f"Unknown container {container}")
        if kind == "schemas":
            return list(sb.schemas.values()) if container == "tenant" else []
        if kind == "fieldgroups" and container == "tenant":
            return list(sb.fieldgroups.values())
        src = self._classes if kind == "classes" else self._fieldgroups
        return list(src.values()) if container == "global" else []

    def _list_xdm(self, items, query, h, path):
        filtered = items
        for p in ([query["property"]] if isinstance(query.get("property"), str) else query.get("property") or []):
            m = re.match(r"^([\w:$.]+)==(.*)$", p)
            if not m:
                raise xdm_error(400, "1000", "Invalid property filter", f"Unsupported property filter '{p}'")
            f, vals = m.group(1), [v.strip().strip('"') for v in m.group(2).split(",")]
            filtered = [i for i in filtered if str(i.get(f)) in vals]
        ob = query.get("orderby", "title")
        desc = ob.startswith("-")
        filtered = sorted(filtered, key=lambda i: str(i.get(ob.lstrip("+-"), "")), reverse=desc)
        try:
            start = int(query.get("start", 0))
            limit = int(query.get("limit", 300))
        except ValueError:
            raise xdm_error(400, "1000", "Invalid paging", "start/limit must be integers") from None
        page = filtered[start:start + limit]
        short = "xed-id+json" in h.get("accept", "")
        results = [{k: i[k] for k in ("$id", "meta:altId", "version", "title")} if short else i for i in page]
        nxt = start + limit < len(filtered)
        q = {k: v for k, v in query.items() if k != "start"}
        href = f"{SR}/{path}?{urlencode({**q, 'start': start + limit}, doseq=True)}" if nxt else None
        return 200, {"results": results, "_page": {"orderby": ob, "next": start + limit if nxt else None,
                                                   "count": len(page)},
                     "_links": {"next": {"href": href}} if nxt else {}}, {}

    def _get_xdm(self, items, rid):
        rid = unquote(rid)
        for i in items:
            if rid in (i["$id"], i["meta:altId"]):
                return 200, copy.deepcopy(i), {}
        raise xdm_error(404, "1012", "Resource Not Found",
                        f"Requested resource {rid} with version 1 is not found")

    # Lookup Accept headers (help/xdm/api/schemas.md#lookup): `xed+json` and `xed-notext+json` are
    # "Raw with `$ref` and `allOf`"; `xed-full`, `xed-full-notext`, `xed-full-desc` and
    # `xed-deprecatefield` have "`$ref` and `allOf` resolved": the schema's `properties` are its
    # class's and field groups' fields merged (the output schema Data Prep shows, as in
    # help/data-prep/api/mapping-set.md's lookup: `_id`, `_repo.createDate`, `person.name.firstName`).
    # The vendored definitions carry no titles or descriptions, so the full and full-notext answers
    # are alike.
    _RESOLVED_ACCEPT = re.compile(r"application/vnd\.adobe\.xed-(full|full-notext|full-desc|deprecatefield)\+json")

    def _get_schema(self, sb, container, sid, h):
        status, schema, headers = self._get_xdm(self._container(sb, container, "schemas"), sid)
        if self._RESOLVED_ACCEPT.search(h.get("accept", "")):
            fields = self._schema_fields(sb, schema)
            schema = {k: v for k, v in schema.items() if k != "allOf"}
            schema["properties"] = fields
        return status, schema, headers

    def _schema_fields(self, sb, schema) -> dict:
        return schema_fields(sb, schema, self._classes, self._fieldgroups)

    def _create_schema(self, body, sb):
        refs = [a.get("$ref") for a in body.get("allOf", [])]
        known = set(self._classes) | set(self._fieldgroups) | set(sb.fieldgroups)
        bad = [r for r in refs if r not in known]
        if bad:
            raise xdm_error(400, "1010", "Invalid reference", f"Referenced resources do not exist: {bad}")
        classes = [r for r in refs if r in self._classes]
        cls = body.get("meta:class") or (classes[0] if classes else None)
        if len(classes) != 1 or cls not in classes:
            raise xdm_error(400, "1010", "Invalid class",
                            "allOf must reference exactly one existing class, matching meta:class")
        for r in refs:
            fg = self._fieldgroups.get(r) or sb.fieldgroups.get(r)
            # adobe/xdm's identitymap names no class ("meta:intendedToExtend": []): it fits any.
            if fg and fg.get("meta:intendedToExtend") and cls not in fg["meta:intendedToExtend"]:
                raise xdm_error(400, "1010", "Incompatible field group", f"Field group {r} does not extend {cls}")
        if any(s["title"] == body["title"] for s in sb.schemas.values()):
            raise xdm_error(409, "1011", "Title already exists",
                            f"A schema titled '{body['title']}' already exists in sandbox {sb.name}")
        hexid = secrets.token_hex(24)
        allof = [{"$ref": r, "type": "object", "meta:xdmType": "object"} for r in refs]
        s = self._make_schema(hexid, body["title"], body.get("description", ""), allof, cls, sb)
        sb.schemas[s["$id"]] = s
        return 201, copy.deepcopy(s), {}

    # Descriptors (help/xdm/api/descriptors.md). Only identity descriptors are checked field by
    # field; other types need an existing sourceSchema.
    def _add_descriptor(self, sb, body):
        d = {**copy.deepcopy(body), "meta:containerId": "tenant", "@id": secrets.token_hex(20),
             "imsOrg": self.org_id, "createdClient": self.client_id, "created": now_ms(), "updated": now_ms()}
        sb.descriptors[d["@id"]] = d
        return d

    def _create_descriptor(self, body, sb):
        if not isinstance(body, dict) or not isinstance(body.get("@type"), str):
            raise xdm_error(400, "1014", "Invalid descriptor", "@type is required")
        schema = find_schema(sb, str(body.get("xdm:sourceSchema") or ""))
        if schema is None:
            raise xdm_error(400, "1014", "Invalid descriptor",
                            f"xdm:sourceSchema {body.get('xdm:sourceSchema')} does not exist")
        if body["@type"] == "xdm:descriptorIdentity":
            missing = [k for k in ("xdm:sourceVersion", "xdm:sourceProperty", "xdm:namespace", "xdm:property")
                       if body.get(k) in (None, "")]
            if missing:
                raise xdm_error(400, "1014", "Invalid descriptor", f"identity descriptor lacks {missing}")
            path = str(body["xdm:sourceProperty"])
            # "Path should begin with a "/" and not end with one" (descriptors.md, identity descriptor).
            if not path.startswith("/") or path.endswith("/") or "/properties/" in path:
                raise xdm_error(400, "1014", "Invalid descriptor", f"xdm:sourceProperty {path} is not a field path")
            if body["xdm:property"] not in ("xdm:code", "xdm:id"):
                raise xdm_error(400, "1014", "Invalid descriptor", "xdm:property must be xdm:code or xdm:id")
            if "xdm:isPrimary" in body and not isinstance(body["xdm:isPrimary"], bool):
                raise xdm_error(400, "1014", "Invalid descriptor", "xdm:isPrimary must be a boolean")
            # "Schemas may contain only one primary identity" (descriptors.md, xdm:isPrimary).
            if body.get("xdm:isPrimary") and self._primary_identity(sb, schema["$id"]):
                raise xdm_error(400, "1014", "Invalid descriptor",
                                f"schema {schema['$id']} already has a primary identity")
        return 201, copy.deepcopy(self._add_descriptor(sb, {**body, "xdm:sourceSchema": schema["$id"]})), {}

    def _primary_identity(self, sb, schema_id):
        return next((d for d in sb.descriptors.values() if d.get("@type") == "xdm:descriptorIdentity"
                     and d.get("xdm:sourceSchema") == schema_id and d.get("xdm:isPrimary") is True), None)

    def _list_descriptors(self, sb, container, query, h):
        if container not in ("global", "tenant"):
            raise xdm_error(404, "1012", "Resource Not Found", f"Unknown container {container}")
        items = list(sb.descriptors.values()) if container == "tenant" else []
        for p in ([query["property"]] if isinstance(query.get("property"), str) else query.get("property") or []):
            m = re.match(r"^([\w:@.]+)==(.*)$", p)
            if not m:
                raise xdm_error(400, "1000", "Invalid property filter", f"Unsupported property filter '{p}'")
            field, values = m.group(1), [v.strip() for v in m.group(2).split(",")]
            items = [d for d in items if str(d.get(field)) in values]
        accept = h.get("accept", "")
        out: dict = {}
        for d in items:  # grouped by @type; a type with none is absent (descriptors.md#list)
            if "xdm-id+json" in accept:
                value = d["@id"]
            elif "xdm-link+json" in accept:
                value = f"/tenant/descriptors/{d['@id']}"
            else:
                value = copy.deepcopy(d)
            out.setdefault(d["@type"], []).append(value)
        return 200, out, {}

    def _get_descriptor(self, sb, container, did):
        d = sb.descriptors.get(did) if container == "tenant" else None
        if d is None:
            raise xdm_error(404, "1015", "Resource Not Found", f"Descriptor {did} is not found")
        return 200, copy.deepcopy(d), {}

    def _delete_descriptor(self, sb, did):
        if did not in sb.descriptors:
            raise xdm_error(404, "1015", "Resource Not Found", f"Descriptor {did} is not found")
        del sb.descriptors[did]
        return 204, None, {}

    def _patch_schema(self, sb, sid, ops):
        s = find_schema(sb, sid)
        if s is None:
            raise xdm_error(404, "1012", "Resource Not Found", f"Requested resource {unquote(sid)} is not found")
        for op in ops:
            top = str(op.get("path", "")).lstrip("/").split("/")[0]
            if top in ("$id", "meta:altId", "meta:containerId", "meta:sandboxId", "meta:registryMetadata",
                       "version", "imsOrg", "meta:resourceType"):
                raise xdm_error(400, "1000", "Invalid patch", f"'{top}' cannot be changed")
        try:
            new = json_patch(s, ops)
        except (KeyError, IndexError, ValueError, TypeError) as e:
            raise xdm_error(400, "1000", "Invalid patch", f"Cannot apply patch: {e!r}") from e
        old_tags, new_tags = s.get("meta:immutableTags") or [], new.get("meta:immutableTags") or []
        # "Immutable tags are tags that are intended to be set, but never removed" (schemas.md#union).
        if not set(old_tags) <= set(new_tags):
            raise xdm_error(400, "1016", "Immutable tags", "meta:immutableTags cannot be removed once set")
        if "union" in new_tags and "union" not in old_tags:
            identity_map = any(r.endswith("/context/identitymap") for r in new.get("meta:extends") or [])
            if not identity_map and self._primary_identity(sb, s["$id"]) is None:
                # help/xdm/troubleshooting-guide.md: XDM-1528-400, "Union descriptor validation error".
                raise xdm_error(400, "1528", "Union descriptor validation error",
                                "To participate in a union, a schema must include an identityMap fieldgroup "
                                "or a primary identity descriptor.")
        new["version"] = f"1.{int(str(s.get('version', '1.0')).split('.')[-1]) + 1}"
        new["meta:registryMetadata"] = {**s["meta:registryMetadata"], "repo:lastModifiedDate": now_ms()}
        sb.schemas[s["$id"]] = new
        return 200, copy.deepcopy(new), {}

    def _delete_schema(self, sb, sid):
        s = find_schema(sb, sid)
        if s is None:
            raise xdm_error(404, "1012", "Resource Not Found", f"Requested resource {unquote(sid)} is not found")
        users = [k for k, d in sb.dataSets.items() if d["schemaRef"]["id"] == s["$id"]]
        if users:
            raise xdm_error(400, "1013", "Schema in use", f"Schema {s['$id']} is used by datasets {users}")
        del sb.schemas[s["$id"]]
        return 204, None, {}
