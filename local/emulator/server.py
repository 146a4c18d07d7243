"""The local AEP emulator: IMS token v3 + Flow Service + Schema Registry +
Catalog + Data Prep, in memory, per sandbox.

Error bodies (FACTS §4):
  gateway      {"error_code": "401013", "message": ...}
  Flow Service {"type": ".../FLOW-<code>-<status>", "title", "status", "report": {...}, "errorMessage", "errorDetails"}
  Schema Reg.  {"type": ".../XDM-<code>-<status>", "title", "status", "report": {...}, "detail"}
  Catalog      {"type": ".../CAT-<code>-<status>", "title", "status", "detail"}        (shape not in the spec; our choice)
  Data Prep    {"type": ".../MAPPER-<code>-<status>", "title", "status", "detail", "report"} (shape not in the spec; our choice)
Codes FACTS documents are used as documented (1401, 1403, 1404, 1418, 1366, 1367, 1307,
1432/1433, 1439, 1440…1453, XDM-1012-404, XDM-1007-400); the others are listed in INVENTED_CODES.
"""
from __future__ import annotations

import base64
import copy
import json
import random
import re
import secrets
import threading
import time
import uuid
from urllib.parse import parse_qs, unquote, urlencode

from jsonschema import Draft7Validator
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from local.aep_contract import Contract

from . import catalog_data as cd
from .listing import ListError, apply_list
from .runs import RunsMixin

FS, CAT, SR, DP = ("/data/foundation/flowservice", "/data/foundation/catalog",
                   "/data/foundation/schemaregistry", "/data/foundation/conversion")

# Codes with no documented counterpart; chosen here so every refusal is distinguishable.
INVENTED_CODES = {
    "FLOW-1400-400": "request does not match the OpenAPI contract / malformed parameter",
    "FLOW-1405-405": "method not defined for this path",
    "FLOW-1410-400": "referenced connectionSpec / flowSpec does not exist",
    "FLOW-1411-400": "auth.specName not one of the connection spec's authSpec names",
    "FLOW-1412-400": "auth.params do not satisfy the authSpec JSON Schema",
    "FLOW-1413-400": "base/source/target connection referenced by id does not exist",
    "FLOW-1414-400": "connectionSpec mismatch (source vs base connection, flow spec sourceConnectionSpecIds)",
    "FLOW-1415-400": "scheduleParams do not satisfy the flow spec's scheduleSpec",
    "FLOW-1416-400": "transformation not allowed / invalid for the flow spec",
    "FLOW-1417-400": "mappingId does not exist",
    "FLOW-1419-400": "params.dataSetId / data.schema.id does not exist",
    "FLOW-1420-404": "explore: unknown object/table",
    "FLOW-1421-400": "field cannot be changed by PATCH (sourceConnectionIds/targetConnectionIds/connectionSpec)",
    "FLOW-1422-400": "source connection params invalid for the connector",
    "FLOW-1423-400": "flow options do not satisfy the flow spec's optionSpec",
    "FLOW-1425-400": "POST /runs for a flow not scheduled for one-time ingestion (on-demand-ingestion.md says it must be)",
    "FLOW-1426-400": "POST /runs with a params.deltaColumn other than the flow's Copy deltaColumn (on-demand-ingestion.md)",
    "FLOW-1427-400": "POST /runs with a windowEndTime before its windowStartTime",
    "XDM-1010-400": "allOf/meta:class references a class or field group that does not exist",
    "XDM-1011-409": "a schema with this title already exists in the sandbox",
    "XDM-1013-400": "schema is used by a dataset and cannot be deleted",
    "XDM-1014-400": "descriptor invalid (unknown @type / sourceSchema, a second primary identity)",
    "XDM-1015-404": "descriptor not found",
    "XDM-1016-400": "meta:immutableTags cannot be removed or replaced once set",
    "XDM-1000-400": "request does not match the OpenAPI contract",
    "XDM-1007-406": "Accept header missing (FACTS documents XDM-1007-400 for an invalid one)",
    "CAT-1000-400": "request does not match the contract / schemaRef.id unknown",
    "CAT-1002-404": "dataset not found",
    "CAT-1003-400": "a Profile-enabled dataset on a schema not enabled for Profile",
    "MAPPER-1000-400": "request does not match the contract / mapping invalid / schema unknown / a destination "
                       "that is not a field of the output schema, or is mapped twice",
    "MAPPER-1002-404": "mapping set not found",
    "GATEWAY 403027": "x-sandbox-name names no sandbox of the org",
    "GATEWAY 429001/500001/503001/504001": "injected faults",
}

_SECRET_KEY = re.compile(r"(password|secret|token|connectionstring|apikey|api-key|authorization|credential)", re.I)


def _now_ms() -> int:
    return int(time.time() * 1000)


def _etag() -> str:
    return f'"{uuid.uuid4()}"'


def redact(obj, under_auth_params=False):
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if under_auth_params or _SECRET_KEY.search(str(k)):
                out[k] = "***" if not isinstance(v, (dict, list)) else redact(v, True)
            elif k == "auth" and isinstance(v, dict):
                out[k] = {ak: (redact(av, True) if ak == "params" else redact(av)) for ak, av in v.items()}
            else:
                out[k] = redact(v)
        return out
    if isinstance(obj, list):
        return [redact(x, under_auth_params) for x in obj]
    return "***" if under_auth_params else obj


def _public(spec: dict) -> dict:
    return {k: v for k, v in spec.items() if not k.startswith("_")}


def auth_param_errors(schema: dict, params) -> list[str]:
    """Why `params` do not satisfy an auth spec's JSON schema, as a JSON Schema validator words it.
    Those words quote the offending value (`777000111222 is not of type 'string'`), a password as
    like as not. No Adobe page shows AEP's own wording of this refusal, and issue 8 records AEP
    echoing such a value, so the emulator keeps the hostile form: aepflow must never repeat it
    (aepflow.scrub), whatever AEP sends back."""
    out = []
    for e in Draft7Validator(schema).iter_errors(params):
        where = "/".join(str(p) for p in e.absolute_path) or "params"
        if e.validator == "required":
            out.append("missing " + ", ".join(n for n in e.validator_value if n not in (params or {})))
        else:
            out.append(f"{where}: {e.message}")
    return out


class ApiError(Exception):
    def __init__(self, status: int, body: dict, headers: dict | None = None):
        super().__init__(body)
        self.status, self.body, self.headers = status, body, headers or {}


def gw_error(status, code, message):
    return ApiError(status, {"error_code": code, "message": message})


def flow_error(status, code, title, message):
    rid = str(uuid.uuid4())
    return ApiError(status, {
        "type": f"https://ns.adobe.com/aep/errors/FLOW-{code}-{status}", "title": title, "status": status,
        "report": {"detailed-message": message, "request-id": rid},
        "errorMessage": message, "errorDetails": {"code": f"{code}-{status}", "message": message},
    })


def xdm_error(status, code, title, message):
    return ApiError(status, {
        "type": f"http://ns.adobe.com/aep/errors/XDM-{code}-{status}", "title": title, "status": status,
        "report": {"registryRequestId": str(uuid.uuid4()), "timestamp": time.strftime("%m-%d-%Y %H:%M:%S"),
                   "detailed-message": message, "sub-errors": []},
        "detail": message,
    })


def cat_error(status, code, title, message):
    return ApiError(status, {"type": f"http://ns.adobe.com/aep/errors/CAT-{code}-{status}", "title": title,
                             "status": status, "detail": message})


def dp_error(status, code, title, message):
    return ApiError(status, {"type": f"http://ns.adobe.com/aep/errors/MAPPER-{code}-{status}", "title": title,
                             "status": status, "detail": message,
                             "report": {"detailed-message": message, "request-id": str(uuid.uuid4())}})


def _service_error(prefix):
    return {FS: flow_error, SR: xdm_error, CAT: cat_error, DP: dp_error}[prefix]


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs):  # every request is in .records already
        pass


class _Sandbox:
    def __init__(self, name: str):
        self.name = name
        self.id = str(uuid.uuid4())
        self.connections: dict[str, dict] = {}
        self.sourceConnections: dict[str, dict] = {}
        self.targetConnections: dict[str, dict] = {}
        self.flows: dict[str, dict] = {}
        self.schemas: dict[str, dict] = {}
        self.dataSets: dict[str, dict] = {}
        self.mappingSets: dict[str, list[dict]] = {}  # id -> versions
        self.descriptors: dict[str, dict] = {}  # @id -> descriptor
        self.fieldgroups: dict[str, dict] = {}  # tenant field groups, $id -> field group


def _json_patch(doc: dict, ops: list) -> dict:
    doc = copy.deepcopy(doc)
    for op in ops:
        kind = op["op"].lower()
        parts = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].split("/")[1:]]
        if not parts:
            raise ValueError("cannot patch the root")
        parent = doc
        for p in parts[:-1]:
            if isinstance(parent, list):
                parent = parent[int(p)]
            else:
                parent = parent.setdefault(p, {}) if kind == "add" else parent[p]
        last = parts[-1]
        if isinstance(parent, list):
            idx = len(parent) if last == "-" else int(last)
            if kind == "add":
                parent.insert(idx, op.get("value"))
            elif kind == "replace":
                parent[idx] = op.get("value")
            else:
                del parent[idx]
        else:
            if kind in ("replace", "remove") and last not in parent:
                raise KeyError(op["path"])
            if kind == "remove":
                del parent[last]
            else:
                parent[last] = op.get("value")
    return doc


class AepEmulator(RunsMixin):
    def __init__(self, org_id: str = "ACME0123456789ABCDEF@AdobeOrg", client_id: str = "aepflow-local-client",
                 client_secret: str = "local-secret", tenant: str = "acme", sandboxes=("prod", "dev"),
                 latency_ms: int = 0, fault_rate: float = 0.0, seed: int = 0):
        self.org_id, self.client_id, self.client_secret, self.tenant = org_id, client_id, client_secret, tenant
        self.sandbox_names = tuple(sandboxes)
        self.latency_ms, self.fault_rate = latency_ms, fault_rate
        self._rng = random.Random(seed)
        self._lock = threading.RLock()
        self._records_lock = threading.Lock()
        self.records: list[dict] = []
        self.ims_token_requests = 0
        self._tokens: dict[str, float] = {}
        self._contract = Contract.load()
        self._conn_specs = cd.connection_specs()
        self._flow_specs = cd.flow_specs()
        self._classes = cd.global_classes()
        self._fieldgroups = cd.global_fieldgroups()
        self._samples = cd.sample_sources()
        self._acting = threading.local()
        self._refused_connections: set[str] = set()
        self._sandboxes = {n: self._new_sandbox(n) for n in self.sandbox_names}
        self._runs_init(seed)
        self._server = None
        self._thread = None
        self.base_url = None

    # ------------------------------------------------------------ lifecycle
    def start(self) -> str:
        self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True,
                                   request_handler=_QuietHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.base_url = f"http://127.0.0.1:{self._server.server_port}"
        return self.base_url

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = None

    def set_faults(self, latency_ms: int | None = None, fault_rate: float | None = None) -> None:
        with self._lock:
            if latency_ms is not None:
                self.latency_ms = latency_ms
            if fault_rate is not None:
                self.fault_rate = fault_rate

    def dump_state(self, sandbox: str | None = None) -> dict:
        with self._lock:
            sb = self._sandboxes[sandbox or self.sandbox_names[0]]
            return copy.deepcopy({
                "connections": [redact(c) for c in sb.connections.values()],
                "sourceConnections": list(sb.sourceConnections.values()),
                "targetConnections": list(sb.targetConnections.values()),
                "schemas": list(sb.schemas.values()),
                "descriptors": list(sb.descriptors.values()),
                "dataSets": [{"id": k, **v} for k, v in sb.dataSets.items()],
                "mappingSets": [v[-1] for v in sb.mappingSets.values()],
                "flows": list(sb.flows.values()),
                "runs": self._dump_runs(sb),
            })

    # ------------------------------------------------------------ preload
    def _schema_ids(self, hexid):
        return (f"https://ns.adobe.com/{self.tenant}/schemas/{hexid}", f"_{self.tenant}.schemas.{hexid}")

    def _make_schema(self, hexid, title, description, allof, cls, sb: _Sandbox, profile=False):
        sid, alt = self._schema_ids(hexid)
        now = _now_ms()
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

    def _tenant_fieldgroup(self, hexid, title, extends, properties, sb: _Sandbox):
        now = _now_ms()
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

    def _new_sandbox(self, name) -> _Sandbox:
        sb = _Sandbox(name)
        for hexid, title, extends, properties in cd.PRELOADED_FIELD_GROUPS:
            fg = self._tenant_fieldgroup(hexid, title, extends, properties, sb)
            sb.fieldgroups[fg["$id"]] = fg
        for hexid, title, cls, profile, groups, tenant_groups in cd.PRELOADED_SCHEMAS:
            refs = [cls, *groups, *(f"https://ns.adobe.com/{self.tenant}/mixins/{h}" for h in tenant_groups)]
            allof = [{"$ref": r, "type": "object", "meta:xdmType": "object"} for r in refs]
            s = self._make_schema(hexid, title, title, allof, cls, sb, profile)
            sb.schemas[s["$id"]] = s
            if profile:  # a union schema has a primary identity (XDM-1528-400 refuses the tag otherwise)
                self._add_descriptor(sb, {"@type": "xdm:descriptorIdentity", "xdm:sourceSchema": s["$id"],
                                          "xdm:sourceVersion": 1, "xdm:sourceProperty": "/personalEmail/address",
                                          "xdm:namespace": "Email", "xdm:property": "xdm:code",
                                          "xdm:isPrimary": True})
        for dsid, dsname, hexid in cd.PRELOADED_DATASETS:
            sb.dataSets[dsid] = self._make_dataset(dsname, self._schema_ids(hexid)[0], {}, sb)
        for cid, cname, spec_id, auth_name, params in cd.PRELOADED_CONNECTIONS:
            _, created, _ = self._create_connection(
                {"name": cname, "connectionSpec": {"id": spec_id, "version": "1.0"},
                 "auth": {"specName": auth_name, "params": params}}, sb)
            conn = sb.connections.pop(created["id"])
            conn["id"] = cid
            sb.connections[cid] = conn
        return sb

    def _make_dataset(self, name, schema_id, tags, sb, description=None):
        now = _now_ms()
        ds = {"name": name, "imsOrg": self.org_id, "sandboxId": sb.id, "version": "1.0.0",
              "created": now, "updated": now, "createdClient": self.client_id, "createdUser": self.client_id,
              "updatedUser": self.client_id, "tags": tags or {},
              "schemaRef": {"id": schema_id, "contentType": "application/vnd.adobe.xed-full-notext+json; version=1"},
              "viewId": secrets.token_hex(12), "files": "@/dataSets/{id}/views/{vid}/files"}
        if description:
            ds["description"] = description
        return ds

    # ------------------------------------------------------------ WSGI
    def _wsgi(self, environ, start_response):
        started = _now_ms()
        req = Request(environ)
        # keep %2F inside a segment (schema $ids are sent URL-encoded as one segment)
        raw_path = environ.get("RAW_URI") or environ.get("REQUEST_URI") or req.path
        raw_path = raw_path.split("?", 1)[0] or req.path
        req.environ["aep.raw_path"] = raw_path
        raw = req.get_data(cache=True)
        query = {k: (v[0] if len(v) == 1 else v) for k, v in req.args.to_dict(flat=False).items()}
        headers = {k: v for k, v in req.headers.items()}
        body, body_for_record = None, None
        ctype = req.headers.get("Content-Type", "")
        if raw:
            text = raw.decode("utf-8", "replace")
            if "x-www-form-urlencoded" in ctype:
                body_for_record = {k: v[0] if len(v) == 1 else v for k, v in parse_qs(text).items()}
            else:
                try:
                    body = json.loads(text)
                    body_for_record = body
                except ValueError:
                    body_for_record = text
        with self._lock:
            fault = None
            if self.fault_rate and self._rng.random() < self.fault_rate:
                fault = self._rng.choice(["429", "500", "503", "504"])
            latency = self.latency_ms
        if latency:
            time.sleep(latency / 1000.0)  # outside the lock so concurrent requests overlap
        status, resp_body, resp_headers = self._handle(req, query, headers, raw, body, body_for_record, fault)
        if isinstance(resp_body, (dict, list)):
            resp = Response(json.dumps(resp_body), status=status, mimetype="application/json")
        else:
            resp = Response(resp_body or b"", status=status)
        for k, v in resp_headers.items():
            resp.headers[k] = v
        rec_headers = {k: ("***" if k.lower() in ("authorization", "x-api-key") or _SECRET_KEY.search(k) else v)
                       for k, v in headers.items()}
        rec_body = body_for_record
        if isinstance(rec_body, (dict, list)):
            rec_body = redact(rec_body)
        record = {"method": req.method, "path": raw_path, "query": req.args.to_dict(flat=False),
                  "headers": rec_headers, "body": rec_body, "status": status,
                  "startedAt": started, "endedAt": _now_ms()}
        record["query"] = {k: (v[0] if len(v) == 1 else v) for k, v in record["query"].items()}
        for k in list(record["query"]):
            # continuationToken is a paging cursor, not a credential
            if _SECRET_KEY.search(k) and k != "continuationToken":
                record["query"][k] = "***"
        with self._records_lock:
            self.records.append(record)
        return resp(environ, start_response)

    def _handle(self, req, query, headers, raw, body, body_form, fault):
        if fault in ("429", "500", "503"):
            code = {"429": "429001", "500": "500001", "503": "503001"}[fault]
            msg = {"429": "Too many requests", "500": "Internal Server Error", "503": "Service Unavailable"}[fault]
            return int(fault), {"error_code": code, "message": msg}, ({"Retry-After": "1"} if fault == "429" else {})
        try:
            if req.environ["aep.raw_path"].rstrip("/") == "/ims/token/v3":
                status, out, hdrs = self._ims(req, query, body_form)
            else:
                status, out, hdrs = self._aep(req, query, headers, raw, body)
        except ApiError as e:
            status, out, hdrs = e.status, e.body, e.headers
        except Exception as e:  # an emulator bug must still answer like a server
            status, out, hdrs = 500, {"error_code": "500000", "message": f"emulator error: {e!r}"}, {}
        if fault == "504":
            # processed, but the client never sees the answer
            return 504, {"error_code": "504001", "message": "Gateway Timeout"}, {}
        return status, out, hdrs

    # ------------------------------------------------------------ IMS
    def _ims(self, req, query, form):
        if req.method != "POST":
            return 405, {"error": "invalid_request", "error_description": "POST required"}, {}
        params = dict(query)
        if isinstance(form, dict):
            params.update(form)
        for p in ("grant_type", "client_id", "client_secret", "scope"):
            if not params.get(p):
                return 400, {"error": "invalid_request", "error_description": f"missing {p} parameter"}, {}
        if params["grant_type"] != "client_credentials":
            return 400, {"error": "unsupported_grant_type", "error_description": "unsupported grant_type"}, {}
        if params["client_id"] != self.client_id:
            return 401, {"error": "invalid_client", "error_description": "invalid client_id parameter"}, {}
        if params["client_secret"] != self.client_secret:
            return 401, {"error": "invalid_client", "error_description": "invalid client_secret parameter"}, {}
        token = "eyJ" + secrets.token_urlsafe(48)
        with self._lock:
            self._tokens[token] = time.time() + 86399
            self.ims_token_requests += 1
        return 200, {"access_token": token, "token_type": "bearer", "expires_in": 86399}, {}

    # ------------------------------------------------------------ gateway + dispatch
    def _aep(self, req, query, headers, raw, body):
        path = req.environ["aep.raw_path"]
        prefix = next((p for p in (FS, CAT, SR, DP) if path == p or path.startswith(p + "/")), None)
        if prefix is None:
            return 404, {"error_code": "404000", "message": "Not Found"}, {}
        h = {k.lower(): v for k, v in headers.items()}
        auth = h.get("authorization")
        if not auth:
            raise gw_error(403, "403010", "Oauth token is missing")
        tok = auth[7:].strip() if auth.lower().startswith("bearer ") else None
        with self._lock:
            exp = self._tokens.get(tok) if tok else None
        if not exp or exp < time.time():
            raise gw_error(401, "401013", "Oauth token is not valid")
        if "x-api-key" not in h:
            raise gw_error(403, "403000", "Api Key is required")
        if h["x-api-key"] != self.client_id:
            raise gw_error(403, "403003", "Api Key is invalid")
        if "x-gw-ims-org-id" not in h:
            raise gw_error(400, "400003", "Missing header x-gw-ims-org-id")
        if h["x-gw-ims-org-id"] != self.org_id:
            raise gw_error(403, "403025", "Profile is not valid")
        # AEP routes a request without x-sandbox-name to the production sandbox
        sbname = h.get("x-sandbox-name", "prod")
        sb = self._sandboxes.get(sbname)
        if sb is None:
            raise gw_error(403, "403027", f"Sandbox '{sbname}' is not found or not accessible")
        err = _service_error(prefix)
        if req.method in ("POST", "PUT", "PATCH") and raw:
            ct = h.get("content-type", "")
            if "json" not in ct.lower():
                raise ApiError(400, {"type": "http://ns.adobe.com/aep/errors/400", "status": 400,
                                     "title": "BadRequestError",
                                     "detail": f"Content-Type '{ct}' is not supported; use application/json"})
            if body is None:
                raise _bad(err, prefix, "Request body is not valid JSON")
        # "Descriptors are not versioned, therefore no Accept header is required in the lookup
        # request" (help/xdm/api/descriptors.md#lookup).
        if prefix == SR and req.method == "GET" and not re.search(r"/descriptors/[^/]+$", path):
            acc = h.get("accept", "")
            if not acc:
                raise xdm_error(406, "1007", "Accept header missing",
                                "An Accept header of application/vnd.adobe.xed…+json is required")
            if not re.search(r"application/vnd\.adobe\.(xed|xdm)[a-z0-9-]*\+json", acc):
                raise xdm_error(400, "1007", "Accept header invalid",
                                f"The supplied Accept header is not valid: {acc} - A valid Accept value should look "
                                "like application/vnd.adobe.'{xed|xdm'}+json")
        op = self._contract.find_operation(req.method, path)
        if op is None:
            if self._contract.path_exists(path):
                return 405, _service_error(prefix)(405, "1405", "Method Not Allowed",
                                                   f"{req.method} is not defined for {path}").body, {}
            raise {FS: flow_error, SR: xdm_error, CAT: cat_error, DP: dp_error}[prefix](
                404, "1439" if prefix == FS else "1012" if prefix == SR else "1002", "Resource not found",
                f"No operation {req.method} {path}")
        if prefix == FS and req.method == "PATCH" and "if-match" not in h:
            raise flow_error(400, "1403", "Missing If-Match", "If-Match header is required for PATCH")
        problems = self._contract.validate_request(req.method, path, query, headers, body)
        if problems:
            raise _bad(err, prefix, "; ".join(problems))
        pp = {k: unquote(v) for k, v in self._contract.path_params(op, path).items()}
        with self._lock:
            return self._route(prefix, op.template, req.method, pp, query, h, body, sb)

    def _route(self, prefix, tmpl, method, pp, query, h, body, sb):
        key = (prefix, method, tmpl)
        handler = {
            (FS, "GET", "/connectionSpecs"): lambda: self._list(list(map(_public, self._conn_specs.values())),
                                                                  query, "connectionSpecs"),
            (FS, "GET", "/connectionSpecs/{CONNECTION_SPEC_ID}"): lambda: self._get_spec(
                self._conn_specs, pp["CONNECTION_SPEC_ID"], "connection spec"),
            (FS, "GET", "/flowSpecs"): lambda: self._list(list(self._flow_specs.values()), query, "flowSpecs"),
            (FS, "GET", "/flowSpecs/{FLOW_SPEC_ID}"): lambda: self._get_spec(
                self._flow_specs, pp["FLOW_SPEC_ID"], "flow spec"),
            (FS, "POST", "/connections"): lambda: self._create_connection(body, sb),
            (FS, "GET", "/connections"): lambda: self._list([redact(c) for c in sb.connections.values()],
                                                            query, "connections"),
            (FS, "GET", "/connections/{BASE_CONNECTION_ID}"): lambda: self._get_items(
                sb.connections, pp["BASE_CONNECTION_ID"], "Connection", redact),
            (FS, "PATCH", "/connections/{BASE_CONNECTION_ID}/"): lambda: self._patch(
                sb, sb.connections, pp["BASE_CONNECTION_ID"], "Connection", h, body),
            (FS, "DELETE", "/connections/{BASE_CONNECTION_ID}/"): lambda: self._delete_connection(
                sb, pp["BASE_CONNECTION_ID"]),
            (FS, "GET", "/connections/{BASE_CONNECTION_ID}/explore"): lambda: self._explore(
                sb, pp["BASE_CONNECTION_ID"], query),
            (FS, "GET", "/connections/{BASE_CONNECTION_ID}/test"): lambda: self._test_connection(
                sb, pp["BASE_CONNECTION_ID"]),
            (FS, "POST", "/sourceConnections"): lambda: self._create_source(body, sb),
            (FS, "GET", "/sourceConnections"): lambda: self._list(list(sb.sourceConnections.values()), query,
                                                                  "sourceConnections"),
            (FS, "GET", "/sourceConnections/{SOURCE_CONNECTION_ID}"): lambda: self._get_items(
                sb.sourceConnections, pp["SOURCE_CONNECTION_ID"], "Source connection"),
            (FS, "PATCH", "/sourceConnections/{SOURCE_CONNECTION_ID}"): lambda: self._patch(
                sb, sb.sourceConnections, pp["SOURCE_CONNECTION_ID"], "Source connection", h, body),
            (FS, "DELETE", "/sourceConnections/{SOURCE_CONNECTION_ID}"): lambda: self._delete_used(
                sb, sb.sourceConnections, pp["SOURCE_CONNECTION_ID"], "sourceConnectionIds", "Source connection"),
            (FS, "POST", "/targetConnections"): lambda: self._create_target(body, sb),
            (FS, "GET", "/targetConnections"): lambda: self._list(list(sb.targetConnections.values()), query,
                                                                  "targetConnections"),
            (FS, "GET", "/targetConnections/{TARGET_CONNECTION_ID}"): lambda: self._get_items(
                sb.targetConnections, pp["TARGET_CONNECTION_ID"], "Target connection"),
            (FS, "PATCH", "/targetConnections/{TARGET_CONNECTION_ID}"): lambda: self._patch(
                sb, sb.targetConnections, pp["TARGET_CONNECTION_ID"], "Target connection", h, body),
            (FS, "DELETE", "/targetConnections/{TARGET_CONNECTION_ID}"): lambda: self._delete_used(
                sb, sb.targetConnections, pp["TARGET_CONNECTION_ID"], "targetConnectionIds", "Target connection"),
            (FS, "POST", "/flows"): lambda: self._create_flow(body, sb),
            (FS, "GET", "/flows"): lambda: self._list(list(sb.flows.values()), query, "flows"),
            (FS, "GET", "/flows/{FLOW_ID}"): lambda: self._get_items(sb.flows, pp["FLOW_ID"], "Flow"),
            (FS, "PATCH", "/flows/{FLOW_ID}"): lambda: self._patch(sb, sb.flows, pp["FLOW_ID"], "Flow", h, body),
            (FS, "DELETE", "/flows/{FLOW_ID}"): lambda: self._delete_flow(sb, pp["FLOW_ID"]),
            (FS, "POST", "/flows/{FLOW_ID}/action"): lambda: self._flow_action(sb, pp["FLOW_ID"], query),
            (FS, "GET", "/runs"): lambda: self._list_runs(sb, query),
            (FS, "POST", "/runs"): lambda: self._create_run(sb, body),
            (FS, "GET", "/runs/{RUN_ID}"): lambda: self._get_run(sb, pp["RUN_ID"]),
            (SR, "POST", "/tenant/schemas"): lambda: self._create_schema(body, sb),
            (SR, "GET", "/{CONTAINER_ID}/schemas"): lambda: self._list_xdm(
                self._container(sb, pp["CONTAINER_ID"], "schemas"), query, h, f"{pp['CONTAINER_ID']}/schemas"),
            (SR, "GET", "/{CONTAINER_ID}/schemas/{SCHEMA_ID}"): lambda: self._get_schema(
                sb, pp["CONTAINER_ID"], pp["SCHEMA_ID"], h),
            (SR, "DELETE", "/tenant/schemas/{SCHEMA_ID}"): lambda: self._delete_schema(sb, pp["SCHEMA_ID"]),
            (SR, "PATCH", "/tenant/schemas/{SCHEMA_ID}"): lambda: self._patch_schema(sb, pp["SCHEMA_ID"], body),
            (SR, "POST", "/tenant/descriptors"): lambda: self._create_descriptor(body, sb),
            (SR, "GET", "/{CONTAINER_ID}/descriptors"): lambda: self._list_descriptors(
                sb, pp["CONTAINER_ID"], query, h),
            (SR, "GET", "/{CONTAINER_ID}/descriptors/{DESCRIPTOR_ID}"): lambda: self._get_descriptor(
                sb, pp["CONTAINER_ID"], pp["DESCRIPTOR_ID"]),
            (SR, "DELETE", "/tenant/descriptors/{DESCRIPTOR_ID}"): lambda: self._delete_descriptor(
                sb, pp["DESCRIPTOR_ID"]),
            (SR, "GET", "/{CONTAINER_ID}/classes"): lambda: self._list_xdm(
                self._container(sb, pp["CONTAINER_ID"], "classes"), query, h, f"{pp['CONTAINER_ID']}/classes"),
            (SR, "GET", "/{CONTAINER_ID}/classes/{CLASS_ID}"): lambda: self._get_xdm(
                self._container(sb, pp["CONTAINER_ID"], "classes"), pp["CLASS_ID"]),
            (SR, "GET", "/{CONTAINER_ID}/fieldgroups"): lambda: self._list_xdm(
                self._container(sb, pp["CONTAINER_ID"], "fieldgroups"), query, h,
                f"{pp['CONTAINER_ID']}/fieldgroups"),
            (SR, "GET", "/{CONTAINER_ID}/fieldgroups/{FIELD_GROUP_ID}"): lambda: self._get_xdm(
                self._container(sb, pp["CONTAINER_ID"], "fieldgroups"), pp["FIELD_GROUP_ID"]),
            (CAT, "POST", "/dataSets"): lambda: self._create_dataset(body, sb),
            (CAT, "GET", "/dataSets"): lambda: self._list_datasets(sb, query),
            (CAT, "GET", "/dataSets/{DATASET_ID}"): lambda: self._get_dataset(sb, pp["DATASET_ID"]),
            (CAT, "DELETE", "/dataSets/{DATASET_ID}"): lambda: self._delete_dataset(sb, pp["DATASET_ID"]),
            (DP, "POST", "/mappingSets"): lambda: self._create_mapping(body, sb),
            (DP, "GET", "/mappingSets"): lambda: self._list_mappings(sb, query),
            (DP, "GET", "/mappingSets/{MAPPING_SET_ID}"): lambda: self._get_mapping(sb, pp["MAPPING_SET_ID"], query),
            (DP, "PUT", "/mappingSets/{MAPPING_SET_ID}"): lambda: self._put_mapping(sb, pp["MAPPING_SET_ID"], body),
        }.get(key)
        if handler is None:
            # Defined by the spec but not emulated: say so rather than pretend.
            return 501, _service_error(prefix)(501, "1501", "Not Implemented",
                                               f"{method} {tmpl} is defined by the spec but not emulated").body, {}
        return handler()

    # ------------------------------------------------------------ flow service helpers
    def _list(self, items, query, collection):
        sortable = {"id", "name", "createdAt", "updatedAt", "state", "flowSpec.id", "flowId",
                    "metrics.durationSummary.startedAtUTC", "metrics.durationSummary.completedAtUTC"}
        try:
            return 200, apply_list(copy.deepcopy(items), query, collection, sortable), {}
        except ListError as e:
            raise flow_error(400, e.code, "Bad Request", e.message)

    def _get_spec(self, specs, ids, what):
        found = [_public(specs[i]) for i in ids.split(",") if i in specs]
        if not found:
            raise flow_error(404, "1439", "Resource not found", f"No {what} found with id {ids}")
        return 200, {"items": found}, {}

    def _get_items(self, coll, ids, what, transform=lambda x: x):
        found = [transform(copy.deepcopy(coll[i])) for i in ids.split(",") if i in coll]
        if not found:
            raise flow_error(404, "1439", "Resource not found", f"{what} with id {ids} was not found")
        return 200, {"items": found}, {}

    def _meta(self, sb, body):
        now = _now_ms()
        return {"id": str(uuid.uuid4()), "createdAt": now, "updatedAt": now, "createdBy": f"{self.client_id}@AdobeID",
                "updatedBy": f"{self.client_id}@AdobeID", "createdClient": self.client_id,
                "updatedClient": self.client_id, "sandboxId": sb.id, "sandboxName": sb.name,
                "imsOrgId": self.org_id, "name": body.get("name"), "description": body.get("description", ""),
                "etag": _etag()}

    def _conn_spec(self, cs_ref):
        spec = self._conn_specs.get((cs_ref or {}).get("id"))
        if spec is None:
            raise flow_error(400, "1410", "Invalid connection spec",
                             f"Connection spec {(cs_ref or {}).get('id')} does not exist")
        return spec

    def _create_connection(self, body, sb):
        spec = self._conn_spec(body.get("connectionSpec"))
        auth = body.get("auth") or {}
        names = [a["name"] for a in spec["authSpec"]]
        aspec = next((a for a in spec["authSpec"] if a["name"] == auth.get("specName")), None)
        if aspec is None:
            raise flow_error(400, "1411", "Invalid auth spec",
                             f"auth.specName '{auth.get('specName')}' is not one of {names}")
        errs = auth_param_errors(aspec["spec"], auth.get("params") or {})
        if errs:
            raise flow_error(400, "1412", "Invalid auth params",
                             f"auth.params do not satisfy auth spec '{aspec['name']}': " + "; ".join(errs))
        conn = {**self._meta(sb, body), "connectionSpec": body["connectionSpec"], "state": "enabled",
                "auth": copy.deepcopy(auth), "version": "\"1\""}
        sb.connections[conn["id"]] = conn
        return 201, {"id": conn["id"], "etag": conn["etag"]}, {}

    def _flows_using(self, sb, field, rid):
        return [f["id"] for f in sb.flows.values() if rid in f.get(field, [])]

    def _delete_connection(self, sb, cid):
        if cid not in sb.connections:
            raise flow_error(404, "1439", "Resource not found", f"Connection with id {cid} was not found")
        srcs = [s["id"] for s in sb.sourceConnections.values() if s.get("baseConnectionId") == cid]
        flows = [f for s in srcs for f in self._flows_using(sb, "sourceConnectionIds", s)]
        if flows:
            raise flow_error(400, "1418", "Connection in use",
                             f"Connection {cid} is used by flows {sorted(set(flows))} and cannot be deleted")
        del sb.connections[cid]
        return 204, None, {}

    def _delete_used(self, sb, coll, rid, field, what):
        if rid not in coll:
            raise flow_error(404, "1439", "Resource not found", f"{what} with id {rid} was not found")
        flows = self._flows_using(sb, field, rid)
        if flows:
            raise flow_error(400, "1418", f"{what} in use", f"{what} {rid} is used by flows {flows}")
        del coll[rid]
        return 204, None, {}

    def _explore(self, sb, cid, query):
        conn = sb.connections.get(cid)
        if conn is None:
            raise flow_error(404, "1439", "Resource not found", f"Connection with id {cid} was not found")
        spec = self._conn_specs[conn["connectionSpec"]["id"]]
        family = cd.source_family(spec)
        samples = self._samples.get(family, {})
        otype = str(query.get("objectType", "root")).lower()
        obj = query.get("object")
        if otype == "root":
            return 200, [{"type": "table", "name": n, "path": n, "canPreview": True, "canFetchSchema": True}
                         for n in samples], {}
        if otype == "table":
            if spec["_kind"] not in ("crm", "database"):
                raise flow_error(400, "1400", "Bad Request", f"objectType=table is not supported by {spec['name']}")
            if obj not in samples:
                raise flow_error(404, "1420", "Object not found", f"Table '{obj}' was not found")
            return 200, copy.deepcopy(samples[obj]), {}
        if otype == "rest":
            if spec["_kind"] != "rest":
                raise flow_error(400, "1400", "Bad Request", f"objectType=rest is not supported by {spec['name']}")
            sp = {}
            if query.get("sourceParams"):
                try:
                    s = query["sourceParams"]
                    sp = json.loads(base64.b64decode(s + "=" * (-len(s) % 4)).decode())
                except Exception:
                    raise flow_error(400, "1400", "Bad Request", "sourceParams is not base64-encoded JSON")
            req = spec.get("sourceSpec", {}).get("spec", {}).get("required", []) or spec.get("_sourceParams", [])
            missing = [r for r in req if not sp.get(r)]
            if missing:
                raise flow_error(400, "1422", "Invalid source params", f"sourceParams missing {missing}")
            return 200, copy.deepcopy(next(iter(samples.values()))), {}
        raise flow_error(400, "1400", "Bad Request", f"objectType '{query.get('objectType')}' is not supported")

    def _create_source(self, body, sb):
        bid = body.get("baseConnectionId")
        if not bid:
            # seed 004 sends "connectionId"; the spec's field is baseConnectionId.
            raise flow_error(400, "1413", "Base connection required", "baseConnectionId is required")
        base = sb.connections.get(bid)
        if base is None:
            raise flow_error(400, "1413", "Base connection not found", f"Base connection {bid} does not exist")
        spec = self._conn_spec(body.get("connectionSpec"))
        if spec["id"] != base["connectionSpec"]["id"]:
            raise flow_error(400, "1414", "Connection spec mismatch",
                             f"connectionSpec {spec['id']} differs from the base connection's "
                             f"{base['connectionSpec']['id']}")
        params = body.get("params") or {}
        fmt = (body.get("data") or {}).get("format")
        kind = spec["_kind"]
        if kind == "crm":
            if fmt != "tabular" or not params.get("tableName"):
                raise flow_error(400, "1422", "Invalid source params",
                                 "CRM sources need data.format 'tabular' and params.tableName")
            if params["tableName"] not in self._samples.get(cd.source_family(spec), {}):
                raise flow_error(400, "1422", "Invalid source params", f"Table {params['tableName']} not found")
        elif kind == "database":
            if fmt != "tabular" or not params.get("path"):
                raise flow_error(400, "1422", "Invalid source params",
                                 "Database sources need data.format 'tabular' and params.path")
        elif kind == "rest":
            req = spec.get("sourceSpec", {}).get("spec", {}).get("required", []) or spec.get("_sourceParams", [])
            missing = [r for r in req if not params.get(r)]
            if missing:
                raise flow_error(400, "1422", "Invalid source params", f"params missing {missing}")
        src = {**self._meta(sb, body), "baseConnectionId": bid, "state": "enabled",
               "data": body.get("data"), "params": params, "connectionSpec": body["connectionSpec"],
               "version": "\"1\""}
        sb.sourceConnections[src["id"]] = src
        return 201, {"id": src["id"], "etag": src["etag"]}, {}

    def _create_target(self, body, sb):
        cs = (body.get("connectionSpec") or {}).get("id")
        if cs != cd.DATA_LAKE_SPEC_ID:
            raise flow_error(400, "1307", "Invalid target connection spec",
                             f"Target connection spec {cs} is not allowed; only {cd.DATA_LAKE_SPEC_ID} (Data Lake)")
        ds = (body.get("params") or {}).get("dataSetId")
        if not ds or ds not in sb.dataSets:
            raise flow_error(400, "1419", "Dataset not found", f"params.dataSetId {ds} does not exist")
        sid = ((body.get("data") or {}).get("schema") or {}).get("id")
        if sid and self._find_schema(sb, sid) is None:
            raise flow_error(400, "1419", "Schema not found", f"data.schema.id {sid} does not exist")
        tgt = {**self._meta(sb, body), "state": "enabled", "data": body.get("data"),
               "params": body.get("params"), "connectionSpec": body["connectionSpec"], "version": "\"1\""}
        sb.targetConnections[tgt["id"]] = tgt
        return 201, {"id": tgt["id"], "etag": tgt["etag"]}, {}

    def _check_schedule(self, fspec, sched):
        s = copy.deepcopy(sched)
        # flow-service.yaml types interval as a string ("15") while the flow
        # spec's scheduleSpec types it as an integer; coerce numeric strings
        # here only, the contract check already enforced the OpenAPI type.
        if isinstance(s.get("interval"), str) and re.fullmatch(r"\d+", s["interval"]):
            s["interval"] = int(s["interval"])
        errs = [e.message for e in Draft7Validator(fspec["scheduleSpec"]["spec"]).iter_errors(s)]
        if errs:
            raise flow_error(400, "1415", "Invalid schedule", "scheduleParams: " + "; ".join(errs))

    def _create_flow(self, body, sb):
        fspec = self._flow_specs.get((body.get("flowSpec") or {}).get("id"))
        if fspec is None:
            raise flow_error(400, "1410", "Invalid flow spec", f"Flow spec {body['flowSpec'].get('id')} does not exist")
        srcs, tgts = body.get("sourceConnectionIds") or [], body.get("targetConnectionIds") or []
        if not srcs or not tgts:
            raise flow_error(400, "1413", "Connections required", "sourceConnectionIds and targetConnectionIds are required")
        for s in srcs:
            if s not in sb.sourceConnections:
                raise flow_error(400, "1413", "Source connection not found", f"Source connection {s} does not exist")
            csid = sb.sourceConnections[s]["connectionSpec"]["id"]
            if csid not in fspec["sourceConnectionSpecIds"]:
                raise flow_error(400, "1414", "Connection spec not supported",
                                 f"Flow spec {fspec['name']} does not accept source connection spec {csid}")
        for t in tgts:
            if t not in sb.targetConnections:
                raise flow_error(400, "1413", "Target connection not found", f"Target connection {t} does not exist")
        self._check_transformations(fspec, body.get("transformations") or [], sb)
        if body.get("scheduleParams") is not None:
            self._check_schedule(fspec, body["scheduleParams"])
        if body.get("options") is not None:
            # The flow spec's optionSpec (seeds 000, 001, 004) defines what a flow's options may be.
            option_spec = (fspec.get("optionSpec") or {}).get("spec") or {"type": "object", "maxProperties": 0}
            errs = [e.message for e in Draft7Validator(option_spec).iter_errors(body["options"])]
            if errs:
                raise flow_error(400, "1423", "Invalid options", "options: " + "; ".join(errs))
        inherited = {
            "sourceConnections": [{"id": s, "connectionSpec": sb.sourceConnections[s]["connectionSpec"],
                                   "baseConnection": {"id": sb.sourceConnections[s]["baseConnectionId"],
                                                      "connectionSpec": sb.sourceConnections[s]["connectionSpec"]}}
                                  for s in srcs],
            "targetConnections": [{"id": t, "connectionSpec": sb.targetConnections[t]["connectionSpec"]}
                                  for t in tgts],
        }
        flow = {**self._meta(sb, body), "flowSpec": body["flowSpec"], "state": "enabled", "version": "\"1\"",
                "sourceConnectionIds": srcs, "targetConnectionIds": tgts,
                "inheritedAttributes": inherited, "transformations": body.get("transformations") or [],
                "scheduleParams": body.get("scheduleParams"), "options": body.get("options", {}),
                "runs": None, "lastOperation": {"started": _now_ms(), "updated": _now_ms(), "op": "CREATE",
                                                "status": {"value": "completed"}}}
        flow["runs"] = f"/runs?property=flowId=={flow['id']}"
        sb.flows[flow["id"]] = flow
        return 201, {"id": flow["id"], "etag": flow["etag"]}, {}

    def _check_transformations(self, fspec, transformations, sb):
        tspecs = {t["name"]: t for t in fspec.get("transformationSpecs", [])}
        given = {t.get("name") for t in transformations}
        for t in transformations:
            ts = tspecs.get(t.get("name"))
            if ts is None:
                raise flow_error(400, "1416", "Invalid transformation",
                                 f"Transformation '{t.get('name')}' is not defined by flow spec {fspec['name']}")
            errs = [e.message for e in Draft7Validator(ts["spec"]).iter_errors(t.get("params") or {})]
            if errs:
                code = "1367" if t["name"] == "Copy" else "1416"
                raise flow_error(400, code, "Invalid transformation", f"{t['name']}: " + "; ".join(errs))
            if t["name"] == "Mapping":
                mid = (t.get("params") or {}).get("mappingId")
                if mid not in sb.mappingSets:
                    raise flow_error(400, "1417", "Mapping not found", f"Mapping set {mid} does not exist")
        if "Copy" in tspecs and "Copy" not in given:
            raise flow_error(400, "1367", "Delta column required",
                             "A Copy transformation with deltaColumn is required for this flow spec")

    def _patch(self, sb, coll, rid, what, h, ops):
        # flow-service.yaml types PATCH /connections/{id}'s body as one PatchInstruction (the other
        # PATCHes take an array of them; seed 002 sends /connections an array, which the contract
        # check refuses: the spec wins). One instruction is one change.
        ops = [ops] if isinstance(ops, dict) else ops
        res = coll.get(rid)
        if res is None:
            raise flow_error(404, "1439", "Resource not found", f"{what} with id {rid} was not found")
        im = h.get("if-match", "").strip()
        if im.strip('"') != res["etag"].strip('"'):
            raise flow_error(412, "1404", "Version not matching",
                             f"If-Match {im} does not match the current version of {what} {rid}")
        for op in ops:
            top = op["path"].strip("/").split("/")[0]
            if top in ("id", "sourceConnectionIds", "targetConnectionIds", "connectionSpec", "flowSpec",
                       "baseConnectionId", "etag", "createdAt"):
                raise flow_error(400, "1421", "Field not updatable", f"'{top}' cannot be changed")
        try:
            new = _json_patch(res, ops)
        except (KeyError, IndexError, ValueError, TypeError) as e:
            raise flow_error(400, "1400", "Invalid patch", f"Cannot apply patch: {e!r}")
        if coll is sb.flows:
            fspec = self._flow_specs[new["flowSpec"]["id"]]
            old_start = (res.get("scheduleParams") or {}).get("startTime")
            new_start = (new.get("scheduleParams") or {}).get("startTime")
            if new_start != old_start:
                try:
                    passed = old_start is not None and int(old_start) < time.time() or int(new_start) < time.time()
                except (TypeError, ValueError):
                    passed = False
                if passed:
                    raise flow_error(400, "1366", "startTime cannot be changed",
                                     "startTime cannot be changed to or from a time that has already passed")
            if new.get("scheduleParams") is not None:
                self._check_schedule(fspec, new["scheduleParams"])
            self._check_transformations(fspec, new.get("transformations") or [], sb)
        if coll is sb.connections and "auth" in new:
            spec = self._conn_specs[new["connectionSpec"]["id"]]
            aspec = next((a for a in spec["authSpec"] if a["name"] == new["auth"].get("specName")), None)
            if aspec is None:
                raise flow_error(400, "1411", "Invalid auth spec", "auth.specName is not valid")
            errs = auth_param_errors(aspec["spec"], new["auth"].get("params") or {})
            if errs:
                raise flow_error(400, "1412", "Invalid auth params", "; ".join(errs))
        new["etag"] = _etag()
        new["updatedAt"] = _now_ms()
        new["updatedBy"], new["updatedClient"] = self._acting_user()
        coll[rid] = new
        return 200, {"id": rid, "etag": new["etag"]}, {}

    def _delete_flow(self, sb, fid):
        if fid not in sb.flows:
            raise flow_error(404, "1439", "Resource not found", f"Flow with id {fid} was not found")
        del sb.flows[fid]
        return 204, None, {}

    def _flow_action(self, sb, fid, query):
        f = sb.flows.get(fid)
        if f is None:
            raise flow_error(404, "1439", "Resource not found", f"Flow with id {fid} was not found")
        op = str(query.get("op", "")).upper()
        if op not in ("ENABLE", "DISABLE"):
            raise flow_error(400, "1400", "Bad Request", f"op '{query.get('op')}' is not supported")
        f["state"] = "enabled" if op == "ENABLE" else "disabled"
        f["etag"], f["updatedAt"] = _etag(), _now_ms()
        f["updatedBy"], f["updatedClient"] = self._acting_user()
        return 200, {"id": fid, "etag": f["etag"]}, {}

    # ------------------------------------------------------------ who acts
    # A change made through the API is stamped with the API client (`<clientId>@AdobeID`); one made
    # with ui_patch()/ui_action() like someone's in the Experience Platform UI, whose client AEP
    # answers as `exc_app` (help/sources/tutorials/api/create-flow-runs.md, `createdClient: "exc_app"`).
    # These are for tests and demos: what changes behind aepflow's back.
    def _acting_user(self) -> tuple[str, str]:
        acting = getattr(self._acting, "user", None)
        return (acting, "exc_app") if acting else (f"{self.client_id}@AdobeID", self.client_id)

    def _as_user(self, user: str, change):
        with self._lock:
            self._acting.user = user
            try:
                return change()
            finally:
                self._acting.user = None

    def ui_patch(self, kind: str, resource_id: str, ops: list, *, sandbox: str = "prod",
                 user: str = "jane.doe@acme.example") -> str:
        """PATCH a flow or connection as the UI does (JSON Patch, If-Match its etag); its new etag."""
        sb = self._sandboxes[sandbox]
        coll = {"flow": sb.flows, "baseConnection": sb.connections, "sourceConnection": sb.sourceConnections,
                "targetConnection": sb.targetConnections}[kind]
        return self._as_user(user, lambda: self._patch(sb, coll, resource_id, kind,
                                                       {"if-match": coll[resource_id]["etag"]}, ops)[1]["etag"])

    def ui_action(self, flow_id: str, op: str, *, sandbox: str = "prod", user: str = "jane.doe@acme.example") -> str:
        """Enable or disable a flow as the UI does; its new etag."""
        return self._as_user(user, lambda: self._flow_action(self._sandboxes[sandbox], flow_id, {"op": op})[1]["etag"])

    def ui_delete_flow(self, flow_id: str, *, sandbox: str = "prod", user: str = "jane.doe@acme.example") -> None:
        self._as_user(user, lambda: self._delete_flow(self._sandboxes[sandbox], flow_id))

    # ------------------------------------------------------------ connection test
    def set_connection_test(self, connection_id: str, ok: bool) -> None:
        """Fault injection: the source refuses (or accepts again) this connection's credentials, as
        GET /connections/{id}/test will tell."""
        with self._lock:
            if ok:
                self._refused_connections.discard(connection_id)
            else:
                self._refused_connections.add(connection_id)

    def _test_connection(self, sb, cid):
        # flow-service.yaml testConnection: 200 {"result": true|false} (TestConnectionResponse).
        conn = sb.connections.get(cid)
        if conn is None:
            raise flow_error(404, "1439", "Resource not found", f"Connection with id {cid} was not found")
        spec = self._conn_specs.get(conn["connectionSpec"]["id"]) or {}
        auth = conn.get("auth") or {}
        aspec = next((a for a in spec.get("authSpec") or [] if a["name"] == auth.get("specName")), None)
        valid = aspec is not None and not auth_param_errors(aspec["spec"], auth.get("params") or {})
        return 200, {"result": valid and cid not in self._refused_connections}, {}

    # ------------------------------------------------------------ schema registry
    def _find_schema(self, sb, sid):
        sid = unquote(sid)
        for s in sb.schemas.values():
            if sid in (s["$id"], s["meta:altId"]):
                return s
        return None

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
            raise xdm_error(400, "1000", "Invalid paging", "start/limit must be integers")
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
        """A schema's fields: the `properties` of its class and field groups (global or tenant), merged."""
        fields: dict = {}
        refs = [a.get("$ref") for a in schema.get("allOf") or [] if isinstance(a, dict)]
        for ref in refs or schema.get("meta:extends") or []:
            part = self._classes.get(ref) or self._fieldgroups.get(ref) or sb.fieldgroups.get(ref)
            if part:
                fields = _merge_fields(fields, part.get("properties") or {})
        return fields

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
             "imsOrg": self.org_id, "createdClient": self.client_id, "created": _now_ms(), "updated": _now_ms()}
        sb.descriptors[d["@id"]] = d
        return d

    def _create_descriptor(self, body, sb):
        if not isinstance(body, dict) or not isinstance(body.get("@type"), str):
            raise xdm_error(400, "1014", "Invalid descriptor", "@type is required")
        schema = self._find_schema(sb, str(body.get("xdm:sourceSchema") or ""))
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
        s = self._find_schema(sb, sid)
        if s is None:
            raise xdm_error(404, "1012", "Resource Not Found", f"Requested resource {unquote(sid)} is not found")
        for op in ops:
            top = str(op.get("path", "")).lstrip("/").split("/")[0]
            if top in ("$id", "meta:altId", "meta:containerId", "meta:sandboxId", "meta:registryMetadata",
                       "version", "imsOrg", "meta:resourceType"):
                raise xdm_error(400, "1000", "Invalid patch", f"'{top}' cannot be changed")
        try:
            new = _json_patch(s, ops)
        except (KeyError, IndexError, ValueError, TypeError) as e:
            raise xdm_error(400, "1000", "Invalid patch", f"Cannot apply patch: {e!r}")
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
        new["meta:registryMetadata"] = {**s["meta:registryMetadata"], "repo:lastModifiedDate": _now_ms()}
        sb.schemas[s["$id"]] = new
        return 200, copy.deepcopy(new), {}

    def _delete_schema(self, sb, sid):
        s = self._find_schema(sb, sid)
        if s is None:
            raise xdm_error(404, "1012", "Resource Not Found", f"Requested resource {unquote(sid)} is not found")
        users = [k for k, d in sb.dataSets.items() if d["schemaRef"]["id"] == s["$id"]]
        if users:
            raise xdm_error(400, "1013", "Schema in use", f"Schema {s['$id']} is used by datasets {users}")
        del sb.schemas[s["$id"]]
        return 204, None, {}

    # ------------------------------------------------------------ catalog
    def _create_dataset(self, body, sb):
        sid = (body.get("schemaRef") or {}).get("id")
        if not sid or self._find_schema(sb, sid) is None:
            raise cat_error(400, "1000", "Bad Request", f"schemaRef.id {sid} does not exist")
        schema = self._find_schema(sb, sid)
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
            raise cat_error(400, "1000", "Bad Request", "start/limit must be integers")
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

    # ------------------------------------------------------------ data prep
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
                return f"'{path}' is not a field of the output schema: {here} is a {_xdm_kind(node)} field"
            for _ in re.findall(r"\[(\d+|\*)\]", m.group(2)):
                if child.get("type") != "array":
                    return f"'{path}' indexes {'.'.join(walked + [name])}, which is not an array"
                child = child.get("items") or {}
            walked.append(segment)
            node = child
        return None

    def _check_mapping_body(self, body, sb):
        sid = ((body.get("outputSchema") or {}).get("schemaRef") or {}).get("id") or body.get("xdmSchema")
        schema = self._find_schema(sb, sid) if sid else None
        if schema is None:
            raise dp_error(400, "1000", "Invalid output schema", f"Schema {sid} does not exist")
        maps = body.get("mappings") or []
        if not maps:
            raise dp_error(400, "1000", "Invalid mapping set", "mappings must not be empty")
        fields = self._schema_fields(sb, schema)
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
        now = _now_ms()
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
        ms = self._mapping_record(body, sid, mid, 0, _now_ms())
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
            raise dp_error(400, "1000", "Bad Request", "start/limit must be integers")
        page = items[start:start + limit]
        links = {}
        if start + limit < len(items):
            links["next"] = {"href": f"{DP}/mappingSets?{urlencode({**query, 'start': start + limit}, doseq=True)}"}
        return 200, {"data": copy.deepcopy(page), "_page": {"count": len(page), "limit": limit},
                     "_links": links}, {}

    def _get_mapping(self, sb, mid, query):
        versions = sb.mappingSets.get(mid)
        if not versions:
            raise dp_error(404, "1002", "Mapping set not found", f"Mapping set {mid} not found")
        if "version" in query:
            try:
                v = int(query["version"])
                return 200, copy.deepcopy(versions[v]), {}
            except (ValueError, IndexError):
                raise dp_error(404, "1002", "Mapping set not found", f"Mapping set {mid} version {query['version']}")
        return 200, copy.deepcopy(versions[-1]), {}

    def _put_mapping(self, sb, mid, body):
        versions = sb.mappingSets.get(mid)
        if not versions:
            raise dp_error(404, "1002", "Mapping set not found", f"Mapping set {mid} not found")
        sid = self._check_mapping_body(body, sb)
        ms = self._mapping_record(body, sid, mid, len(versions), versions[0]["createdDate"])
        versions.append(ms)
        return 200, self._mapping_summary(ms), {}


def _merge_fields(into: dict, fields: dict) -> dict:
    """Two parts of a schema defining one object field merge their fields (XDM composition)."""
    out = dict(into)
    for name, node in fields.items():
        old = out.get(name)
        if old and old.get("type") == node.get("type") == "object" and "properties" in node and "properties" in old:
            out[name] = {**old, "properties": _merge_fields(old["properties"], node["properties"])}
        else:
            out[name] = copy.deepcopy(node)
    return out


def _xdm_kind(node: dict) -> str:
    return str(node.get("meta:xdmType") or node.get("type") or "scalar")


def _bad(err, prefix, message):
    code = {FS: "1400", SR: "1000", CAT: "1000", DP: "1000"}[prefix]
    return err(400, code, "Bad Request", message)
