"""Data Prep: mapping sets and their versions (POST, GET, list and PUT /mappingSets), each
mapping's destination checked against the output schema's fields."""
from __future__ import annotations

import copy
import re
import secrets
import uuid
from urllib.parse import urlencode

from .aep_errors import DP, dp_error
from .sandbox import now_ms
from .schema_registry import find_schema, schema_fields


def xdm_kind(node: dict) -> str:
    return str(node.get("meta:xdmType") or node.get("type") or "scalar")


class DataPrepMixin:
    """Mixed into AepEmulator. State (set by the emulator): `client_id`, `_classes` and
    `_fieldgroups` (the global XDM definitions a schema's fields come from)."""

    # What a mapping's destination must be, against the output schema's fields (its xed-full view):
    # - a field of the schema. A mapping "is an association of an input attribute or calculated
    #   field to one XDM attribute" (help/data-prep/home.md#mapping); its `destination` is "the
    #   field, or the path to the field, where the value extracted from the `source` field will be
    #   placed" in the output schema, "the XDM schema that the input data has will be transformed to
    #   conform to" (help/data-prep/mapping-set.md). No page prints AEP's refusal of a path the schema
    #   lacks; the emulator refuses it when the set is created or updated (POST, PUT), as the
    #   Data Prep UI lets a target be picked only from the target schema's tree
    #   (help/data-prep/ui/mapping.md, "Map target field") and a set naming an absent path would
    #   fail on every record at run time.
    # - an object, a map or an array of objects is a destination too: help/data-prep/mapping-set.md
    #   ("Array to array or object to object") documents mapping a source object or array of objects
    #   as a whole, and help/data-prep/home.md (attribute-based access control) speaks of mapping
    #   "objects or object arrays"; whether the source's value fits is the run's business, which a
    #   mapping set's creation cannot see.
    # - mapped once: "fix any duplicated mapping fields to clear any errors"
    #   (help/data-prep/ui/mapping.md, "Using the mapping interface"); home.md#mapping lets "a
    #   single attribute" be "mapped to multiple XDM attributes", and shows nothing the other way.
    #   Seed 002's own request lists `_extconndev.verified` twice (its 8th and 35th mappings): that
    #   body is refused here.
    # Paths are dot paths (`person.name.fullName`); `\.` escapes a dot inside a name and `[n]` /
    # `[*]` index an array (help/data-prep/home.md#escape-special-characters, mapping-set.md
    # "Field at a specific array index", "Iterative array operation"); a map field takes any key.
    _PATH_SEGMENT = re.compile(r"((?:\\.|[^\[])*)((?:\[(?:\d+|\*)\])*)")

    @classmethod
    def _destination_problem(cls, fields: dict, path: str) -> str | None:
        node: dict = {"type": "object", "meta:xdmType": "object", "properties": fields}
        walked: list[str] = []
        for segment in re.split(r"(?<!\\)\.", path):
            m = cls._PATH_SEGMENT.fullmatch(segment)
            name = m.group(1).replace("\\.", ".") if m else ""
            if not m or not name:
                return f"'{path}' is not a field path"
            here = ".".join(walked) or "the schema root"
            if node.get("meta:xdmType") == "map":
                child = node.get("additionalProperties") or {}
            elif node.get("type") == "object":
                child = (node.get("properties") or {}).get(name)
                if child is None:
                    return f"'{path}' is not a field of the output schema: {here} has no field '{name}'"
            else:
                return f"'{path}' is not a field of the output schema: {here} is a {xdm_kind(node)} field"
            for _ in re.findall(r"\[(\d+|\*)\]", m.group(2)):
                if child.get("type") != "array":
                    return f"'{path}' indexes {'.'.join(walked + [name])}, which is not an array"
                child = child.get("items") or {}
            walked.append(segment)
            node = child
        return None

    def _check_mapping_body(self, body, sb):
        sid = ((body.get("outputSchema") or {}).get("schemaRef") or {}).get("id") or body.get("xdmSchema")
        schema = find_schema(sb, sid) if sid else None
        if schema is None:
            raise dp_error(400, "1000", "Invalid output schema", f"Schema {sid} does not exist")
        maps = body.get("mappings") or []
        if not maps:
            raise dp_error(400, "1000", "Invalid mapping set", "mappings must not be empty")
        fields = schema_fields(sb, schema, self._classes, self._fieldgroups)
        mapped: dict[str, int] = {}
        for i, m in enumerate(maps):
            destination = m.get("destination") or m.get("destinationXdmPath")
            if not destination:
                raise dp_error(400, "1000", "Invalid mapping", f"mappings[{i}] has no destination")
            if not (m.get("source") or m.get("sourceAttribute")):
                raise dp_error(400, "1000", "Invalid mapping", f"mappings[{i}] has no source")
            problem = self._destination_problem(fields, str(destination))
            if problem:
                raise dp_error(400, "1000", "Invalid mapping destination",
                               f"mappings[{i}].destination {problem} (schema {schema['$id']})")
            if destination in mapped:
                raise dp_error(400, "1000", "Duplicate mapping destination",
                               f"mappings[{i}].destination '{destination}' is already mapped by "
                               f"mappings[{mapped[destination]}]: a field is mapped once")
            mapped[destination] = i
        return schema["$id"]

    def _mapping_record(self, body, sid, mid, version, created):
        now = now_ms()
        ms = copy.deepcopy(body)
        ms.update({"id": mid, "version": version, "createdDate": created, "modifiedDate": now,
                   "createdBy": self.client_id, "modifiedBy": self.client_id, "xdmSchema": sid,
                   "outputSchema": body.get("outputSchema") or {"schemaRef": {"id": sid,
                                                                              "contentType": "1.0"}},
                   "status": "PUBLISHED"})
        ms["mappings"] = [{**m, "id": secrets.token_hex(16), "version": version,
                           "source": m.get("source") or m.get("sourceAttribute"),
                           "sourceAttribute": m.get("sourceAttribute") or m.get("source"),
                           "destination": m.get("destination") or m.get("destinationXdmPath"),
                           "destinationXdmPath": m.get("destinationXdmPath") or m.get("destination")}
                          for m in body.get("mappings", [])]
        return ms

    @staticmethod
    def _mapping_summary(ms):
        return {k: ms[k] for k in ("id", "version", "createdDate", "modifiedDate", "createdBy", "modifiedBy")}

    def _create_mapping(self, body, sb):
        sid = self._check_mapping_body(body, sb)
        mid = uuid.uuid4().hex
        ms = self._mapping_record(body, sid, mid, 0, now_ms())
        sb.mappingSets[mid] = [ms]
        return 200, self._mapping_summary(ms), {}

    def _list_mappings(self, sb, query):
        items = [v[-1] for v in sb.mappingSets.values()]
        if query.get("name"):
            items = [i for i in items if i.get("name") == query["name"]]
        items.sort(key=lambda i: i["modifiedDate"], reverse=True)
        try:
            # `start` may be absent: aepp's DataPrep.getMappingSets sends `limit` alone and AEP
            # answers it (local/aep_contract.py, _DOCUMENTED_OPTIONAL_QUERY): the first page.
            start, limit = int(query.get("start", 0)), int(query.get("limit", 10))
        except ValueError:
            raise dp_error(400, "1000", "Bad Request", "start/limit must be integers") from None
        page = items[start:start + limit]
        links = {}
        if start + limit < len(items):
            links["next"] = {"href": f"{DP}/mappingSets?{urlencode({**query, 'start': start + limit}, doseq=True)}"}
        return 200, {"data": copy.deepcopy(page), "_page": {"count": len(page), "limit": limit},
                     "_links": links}, {}

    # Versions. "PUT /mappingSets/{id}" makes a new version of the set (data-prep.yaml putMappingSet;
    # the set's answer carries its `version`, mapping-set.md "Update a mapping set"), every earlier
    # version is kept, and "GET /mappingSets/{MAPPING_SET_ID}?version={VERSION}" answers "which
    # version of the mapping set to retrieve", an integer (help/data-prep/api/mapping-set.md, "Look
    # up a mapping set"; data-prep.yaml retrieveMappingSet: `version`, integer, int32). Not an integer
    # is "An invalid request" (its 400); a version the set does not have is a 404, as a set it does
    # not have. Without `version` the set answers its latest version, as the list does
    # (mapping-set.md's list shows a set at version 1); data-prep.yaml prints a default of 0 for the
    # parameter, which is why aepflow always names the version it reads.
    @staticmethod
    def _version_number(raw) -> int | None:
        text = str(raw) if isinstance(raw, (str, int)) and not isinstance(raw, bool) else ""
        return int(text) if re.fullmatch(r"-?\d{1,10}", text.strip()) else None

    def _get_mapping(self, sb, mid, query):
        versions = sb.mappingSets.get(mid)
        if not versions:
            raise dp_error(404, "1002", "Mapping set not found", f"Mapping set {mid} not found")
        if "version" not in query:
            return 200, copy.deepcopy(versions[-1]), {}
        version = self._version_number(query["version"])
        if version is None or not -2**31 <= version < 2**31:
            raise dp_error(400, "1000", "Bad Request",
                           f"version must be an integer (int32), not {str(query['version'])[:40]!r}")
        if not 0 <= version < len(versions):
            raise dp_error(404, "1002", "Mapping set version not found",
                           f"Mapping set {mid} has no version {version} (its versions are 0 to {len(versions) - 1})")
        return 200, copy.deepcopy(versions[version]), {}

    def mapping_version_problem(self, sb, mid, version) -> str | None:
        """Why a flow's Mapping transformation cannot use `version` of set `mid` (None: it can). A flow
        names the set and the version it maps with (flow-service.yaml's Mapping transformation params
        mappingId and mappingVersion, help/data-prep/api/mapping-set.md: a set keeps its versions), so
        a version the set never had is refused as a set it does not have is (FLOW-1417)."""
        versions = sb.mappingSets.get(mid) or []
        if version is None:
            return None  # no version named: the flow spec's schema leaves it optional
        number = self._version_number(version)
        if number is None or number < 0:
            return f"mappingVersion {str(version)[:40]!r} is not a version number"
        if number >= len(versions):
            return f"Mapping set {mid} has no version {number} (its versions are 0 to {len(versions) - 1})"
        return None

    def _put_mapping(self, sb, mid, body):
        versions = sb.mappingSets.get(mid)
        if not versions:
            raise dp_error(404, "1002", "Mapping set not found", f"Mapping set {mid} not found")
        sid = self._check_mapping_body(body, sb)
        ms = self._mapping_record(body, sid, mid, len(versions), versions[0]["createdDate"])
        versions.append(ms)
        return 200, self._mapping_summary(ms), {}
