"""The AEP OpenAPI contract, read from the specs vendored in local/aep_openapi.

Used by the emulator (to refuse what the specs do not allow) and by the
project's tests (to check every recorded request against the same specs), so
both sides share a single definition of "a valid request".

Deliberate deviations from the literal spec text are listed in
``_SPEC_OVERRIDES`` / ``_DOCUMENTED_OPTIONAL_QUERY`` below, each with its reason.
"""
from __future__ import annotations

import copy
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft4Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

SPEC_DIR = Path(__file__).resolve().parent / "aep_openapi"

# file name -> service prefix. The prefix is the path part of the spec's
# servers[0].url (OpenAPI 3) or basePath (Swagger 2); it is re-read from the
# file, this table only fixes which files make up the contract.
SPEC_FILES = ("flow-service.yaml", "catalog.yaml", "schema-registry.yaml", "data-prep.yaml")

# Services the emulator serves that have no OpenAPI spec in AdobeDocs/experience-platform-apis'
# static/swagger-specs (none vendored here): prefix -> (where Adobe describes it, its operations as
# (method, path regex under the prefix)). A request under one is checked for its operation and the
# headers every documented call sends, nothing more: the pages give no schema.
OUTSIDE_SPECS = {
    "/data/foundation/export": (
        "Data Access error diagnostics: AdobeDocs/experience-platform.en help/ingestion/quality/"
        "retrieve-failed-batches.md, error-diagnostics.md",
        (("get", r"/batches/[^/]+/failed/?"), ("get", r"/batches/[^/]+/meta/?"))),
}
_DOCUMENTED_HEADERS = ("Authorization", "x-api-key", "x-gw-ims-org-id", "x-sandbox-name")

_HTTP_METHODS = ("get", "post", "put", "patch", "delete", "head", "options")

# Query parameters the spec marks required while callers that work against AEP
# send the operation without them:
# - subOp on the flow action endpoint: every documented enable/disable call
#   (FACTS.md §6) is `?op=ENABLE` alone, and a spec-literal contract would refuse
#   Adobe's own example.
# - start on Data Prep's GET /mappingSets. data-prep.yaml marks `limit` and
#   `start` required (help/data-prep/api/mapping-set.md says "you must include
#   both"), yet Adobe's community client aepp lists mapping sets with `limit`
#   alone: pitchmuc/aepp, aepp/dataprep.py, DataPrep.getMappingSets builds
#   `params = {"limit": limit}` (plus name/property/expandSchema), never a
#   `start`, and its users call it against AEP. So AEP answers that call: the
#   first page, start 0. `limit` stays required; only `start` is excused.
_DOCUMENTED_OPTIONAL_QUERY = {
    ("post", "/data/foundation/flowservice/flows/{FLOW_ID}/action"): {"subop"},
    ("get", "/data/foundation/conversion/mappingSets"): {"start"},
}


def _patch_instruction_override(schema: dict) -> dict:
    # flow-service.yaml's PatchInstruction says op is one of ADD/REPLACE/REMOVE
    # and value is an object, while the same spec's requestBody descriptions
    # say "Operations include `add`, `replace`, and `remove`" and every Adobe
    # PATCH example sends lowercase ops with string/object values (RFC 6902).
    # The spec contradicts itself, so accept either case and any value type,
    # but keep op and path required, and value required unless op is remove.
    return {
        "type": "object",
        "required": ["op", "path"],
        "properties": {
            "op": {"type": "string", "pattern": "^(?i:add|replace|remove)$"},
            "path": {"type": "string"},
            "value": {},
        },
        "anyOf": [
            {"properties": {"op": {"pattern": "^(?i:remove)$"}}},
            {"required": ["value"]},
        ],
    }


def _schema_patch_override(schema: dict) -> dict:
    # schema-registry.yaml's patchSchema types each op's `value` as a string, while the same
    # service's documented PATCH calls send arrays and objects: the union tag is
    # `{"op": "add", "path": "/meta:immutableTags", "value": ["union"]}` and adding a field group
    # sends `{"$ref": ...}` (help/xdm/api/schemas.md#union, #patch). Accept any value type.
    out = copy.deepcopy(schema)
    out["items"]["properties"]["value"] = {}
    return out


def _descriptor_override(schema: dict) -> dict:
    # createDescriptor types xdm:sourceVersion as a string, while its own example and every
    # documented descriptor send the number 1 (help/xdm/api/descriptors.md#create). The spec
    # contradicts itself: accept either.
    out = copy.deepcopy(schema)
    out["properties"]["xdm:sourceVersion"] = {"type": ["string", "integer"]}
    return out


_SPEC_OVERRIDES = {
    "flow-service.yaml": {("components", "schemas", "PatchInstruction"): _patch_instruction_override},
    "schema-registry.yaml": {("definitions", "patchSchema"): _schema_patch_override,
                             ("definitions", "createDescriptor"): _descriptor_override},
}


def _nullable_to_jsonschema(node: Any) -> Any:
    """OpenAPI 3.0 `nullable: true` is not JSON Schema; turn it into a null-allowing anyOf."""
    if isinstance(node, list):
        return [_nullable_to_jsonschema(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {k: _nullable_to_jsonschema(v) for k, v in node.items()}
    if out.pop("nullable", False) is True:
        return {"anyOf": [out, {"type": "null"}]}
    return out


@dataclass
class Operation:
    service: str  # file name
    method: str
    prefix: str
    template: str  # path as written in the spec, e.g. /flows/{FLOW_ID}
    op: dict
    parameters: list = field(default_factory=list)  # resolved parameter objects
    body_schema: dict | None = None  # JSON Schema ({"$ref": ...}) or None
    body_required: bool = False

    @property
    def full_template(self) -> str:
        return self.prefix + self.template

    @property
    def operation_id(self) -> str | None:
        return self.op.get("operationId")


class Contract:
    _cache: Contract | None = None
    _cache_lock = threading.Lock()

    def __init__(self, spec_dir: Path = SPEC_DIR):
        self.operations: list[Operation] = []
        self._registry = Registry()
        for name in SPEC_FILES:
            # libyaml's loader when built with it: the four specs take 2.7 s with the pure-Python one.
            doc = yaml.load((spec_dir / name).read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506
            doc = _nullable_to_jsonschema(doc)
            for keypath, fn in _SPEC_OVERRIDES.get(name, {}).items():
                node = doc
                for k in keypath[:-1]:
                    node = node[k]
                node[keypath[-1]] = fn(node[keypath[-1]])
            uri = f"urn:aep-openapi:{name}"
            self._registry = self._registry.with_resource(
                uri, Resource.from_contents(doc, default_specification=DRAFT4)
            )
            self._load_operations(name, uri, doc)
        self._registry = self._registry.crawl()
        self._validators: dict[int, Draft4Validator] = {}

    @classmethod
    def load(cls) -> Contract:
        with cls._cache_lock:
            if cls._cache is None:
                cls._cache = cls()
            return cls._cache

    # ------------------------------------------------------------------ loading
    @staticmethod
    def _prefix(doc: dict) -> str:
        if "basePath" in doc:
            return doc["basePath"].rstrip("/")
        url = doc["servers"][0]["url"]
        m = re.match(r"^(?:[a-z]+:)?//[^/]+(/.*)?$", url)
        return ((m.group(1) if m else url) or "").rstrip("/")

    def _load_operations(self, name: str, uri: str, doc: dict) -> None:
        prefix = self._prefix(doc)
        swagger2 = "swagger" in doc

        def resolve_param(p):
            if "$ref" in p:
                ref = p["$ref"]
                node = doc
                for part in ref.lstrip("#/").split("/"):
                    node = node[part]
                return node
            return p

        for tmpl, item in doc["paths"].items():
            common = [resolve_param(p) for p in item.get("parameters", [])]
            for method, op in item.items():
                if method not in _HTTP_METHODS:
                    continue
                params = {(p["name"].lower(), p["in"]): p for p in common}
                for p in op.get("parameters", []):
                    p = resolve_param(p)
                    params[(p["name"].lower(), p["in"])] = p
                body_schema, body_required = None, False
                if swagger2:
                    for p in params.values():
                        if p["in"] == "body":
                            body_schema = self._schema_ref(uri, p.get("schema"), f"#/paths/{_esc(tmpl)}/{method}")
                            body_required = bool(p.get("required"))
                else:
                    rb = op.get("requestBody")
                    if rb and "$ref" in rb:
                        rb = resolve_param(rb)
                    if rb:
                        content = rb.get("content", {})
                        media = content.get("application/json") or next(
                            (v for k, v in content.items() if "json" in k), None
                        )
                        if media and "schema" in media:
                            body_schema = self._schema_ref(uri, media["schema"], None)
                        body_required = bool(rb.get("required"))
                self.operations.append(
                    Operation(name, method, prefix, tmpl, op, [p for p in params.values() if p["in"] != "body"],
                              body_schema, body_required)
                )

    @staticmethod
    def _schema_ref(uri: str, schema: dict | None, _where) -> dict | None:
        if schema is None:
            return None
        if "$ref" in schema and len(schema) == 1:
            return {"$ref": uri + schema["$ref"]}
        # inline schema: its inner "#/..." refs must resolve against the spec doc
        return {"allOf": [_rebase(copy.deepcopy(schema), uri)]}

    # ------------------------------------------------------------------ lookup
    def find_operation(self, method: str, path: str) -> Operation | None:
        method = method.lower()
        path = path.split("?", 1)[0]
        segs = _segments(path)
        best, best_score = None, None
        for op in self.operations:
            if op.method != method:
                continue
            tsegs = _segments(op.full_template)
            if len(tsegs) != len(segs):
                continue
            score = 0
            for t, s in zip(tsegs, segs, strict=True):  # lengths compared just above
                if t.startswith("{") and t.endswith("}"):
                    if not s:
                        break
                elif t == s:
                    score += 1  # literal segments win over templates (/flows/search vs /flows/{id})
                else:
                    break
            else:
                if best_score is None or score > best_score:
                    best, best_score = op, score
        return best

    def path_params(self, op: Operation, path: str) -> dict:
        out = {}
        # `op` is the operation find_operation matched to `path`: as many segments as its template
        for t, s in zip(_segments(op.full_template), _segments(path), strict=True):
            if t.startswith("{"):
                out[t[1:-1]] = s
        return out

    def path_exists(self, path: str) -> bool:
        return any(self.find_operation(m, path) for m in _HTTP_METHODS)

    # ------------------------------------------------------------------ validation
    def validate_body(self, op: Operation, body: Any) -> list[str]:
        if op.body_schema is None:
            return []
        v = self._validators.get(id(op))
        if v is None:
            v = Draft4Validator(op.body_schema, registry=self._registry)
            self._validators[id(op)] = v
        problems = []
        for err in sorted(v.iter_errors(body), key=lambda e: list(e.absolute_path)):
            loc = "/".join(str(p) for p in err.absolute_path) or "(root)"
            problems.append(f"body {loc}: {err.message}")
        return problems

    def validate_request(self, method: str, path: str, query: dict | None = None,
                         headers: dict | None = None, body: Any = None) -> list[str]:
        query = query or {}
        headers = headers or {}
        outside = _outside_specs(method, path, headers)
        if outside is not None:
            return outside
        op = self.find_operation(method, path)
        if op is None:
            return [f"operation {method.upper()} {path.split('?', 1)[0]} is not defined by the AEP specs"]
        problems = []
        hdrs = {k.lower() for k, v in headers.items() if v is not None}
        qry = {k.lower() for k in query}
        optional_q = _DOCUMENTED_OPTIONAL_QUERY.get((op.method, op.full_template), set())
        for p in op.parameters:
            if not p.get("required"):
                continue
            name = p["name"].lower()
            if p["in"] == "header" and name not in hdrs:
                if name == "content-type" and body is None:
                    continue  # nothing to describe
                problems.append(f"missing required header {p['name']}")
            elif p["in"] == "query" and name not in qry and name not in optional_q:
                problems.append(f"missing required query parameter {p['name']}")
        if body is None:
            if op.body_required:
                problems.append("missing required request body")
        else:
            problems.extend(self.validate_body(op, body))
        return problems


def _outside_specs(method: str, path: str, headers: dict) -> list[str] | None:
    """The problems of a request to a service of OUTSIDE_SPECS, or None when it is not one."""
    path = path.split("?", 1)[0]
    for prefix, (_, operations) in OUTSIDE_SPECS.items():
        if not path.startswith(prefix + "/"):
            continue
        rest = path[len(prefix):]
        if not any(m == method.lower() and re.fullmatch(rx, rest) for m, rx in operations):
            return [f"operation {method.upper()} {path} is not one Adobe documents for {prefix}"]
        hdrs = {k.lower() for k, v in headers.items() if v is not None}
        return [f"missing required header {h}" for h in _DOCUMENTED_HEADERS if h.lower() not in hdrs]
    return None


def _segments(path: str) -> list[str]:
    # trailing slash ignored: the spec writes /connections/{BASE_CONNECTION_ID}/
    # for PATCH/DELETE while clients call it without the slash.
    return path.rstrip("/").split("/")


def _esc(s: str) -> str:
    return s.replace("~", "~0").replace("/", "~1")


def _rebase(node: Any, uri: str) -> Any:
    if isinstance(node, list):
        return [_rebase(x, uri) for x in node]
    if isinstance(node, dict):
        return {k: (uri + v if k == "$ref" and isinstance(v, str) and v.startswith("#") else _rebase(v, uri))
                for k, v in node.items()}
    return node

