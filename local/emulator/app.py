"""The emulator object: the local AEP (IMS token v3, Flow Service, Schema Registry, Catalog and
Data Prep), in memory, per sandbox, on 127.0.0.1.

This module is the server and the gateway: the WSGI app, request records (secrets replaced by
`***`), fault injection and latency, the gateway's checks (bearer token, API key, org, sandbox,
Content-Type, the Schema Registry's Accept header, the OpenAPI contract) and the routing table
that hands each operation to its service. The services are mixins, one module each:

  ims.py             IMS token v3                    flow_service.py  specs, connections, flows, UI changes
  explore.py         explore (tables, REST preview)  flow_runs.py     runs on the flows' schedules, /runs
  cloud_storage.py   Amazon S3: explore, source connections, Adobe's IAM role (configs)
  schema_registry.py schemas, descriptors, classes   catalog.py       datasets
  data_prep.py       mapping sets                    export.py        the runs' batches (Catalog, Data Access)
  run_retrigger.py   a run's re-trigger

with their shared parts: aep_errors.py (error bodies, INVENTED_CODES), sandbox.py, json_patch.py,
redaction.py, listing.py (Flow Service list semantics), run_payloads.py (a run's payload), drafts.py,
file_preview.py and bucket_policy.py (a cloud-storage file's preview, a bucket policy's verdict),
preloaded.py (what the org holds before a run), source_tables.py and sources_file.py (what the
source systems hold: the seeds' tables and a --sources file). No module imports this one.
"""
from __future__ import annotations

import copy
import json
import random
import re
import threading
import time
from urllib.parse import parse_qs, unquote

from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from local.aep_contract import Contract

from . import preloaded
from .aep_errors import CAT, DP, FS, SERVICES, SR, ApiError, bad_request, flow_error, gw_error, service_error, xdm_error
from .catalog import CatalogMixin
from .cloud_storage import CloudStorageMixin
from .data_prep import DataPrepMixin
from .explore import ExploreMixin
from .export import DA, ExportMixin
from .flow_runs import FlowRunsMixin
from .flow_service import FlowServiceMixin
from .ims import ImsMixin
from .redaction import SECRET_KEY, redact
from .run_retrigger import RunRetriggerMixin
from .sandbox import Sandbox, now_ms
from .schema_registry import SchemaRegistryMixin
from .source_tables import SourceTables


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs):  # every request is in .records already
        pass


class AepEmulator(ImsMixin, FlowServiceMixin, ExploreMixin, CloudStorageMixin, FlowRunsMixin, RunRetriggerMixin,
                  SchemaRegistryMixin, CatalogMixin, DataPrepMixin, ExportMixin):
    def __init__(self, org_id: str = "ACME0123456789ABCDEF@AdobeOrg", client_id: str = "aepflow-local-client",
                 client_secret: str = "local-secret", tenant: str = "acme", sandboxes=("prod", "dev"),
                 latency_ms: int = 0, fault_rate: float = 0.0, seed: int = 0, sources: dict | None = None,
                 object_store=None):
        """`sources`: what one's own source systems hold, beside the seeds' tables (a --sources
        file's object, sources_file.py); refused with sources_file.SourcesInvalid. `object_store`:
        a zero-argument callable answering the boto3 S3 client an Amazon S3 connection reads
        (the local stack's, cloud_storage.py); without it, exploring one says there is no S3."""
        self.org_id, self.client_id, self.client_secret, self.tenant = org_id, client_id, client_secret, tenant
        self.sandbox_names = tuple(sandboxes)
        self.latency_ms, self.fault_rate = latency_ms, fault_rate
        self._rng = random.Random(seed)
        self._lock = threading.RLock()
        self._records_lock = threading.Lock()
        self.records: list[dict] = []
        self._ims_init()
        self._contract = Contract.load()
        self._conn_specs = preloaded.connection_specs()
        self._flow_specs = preloaded.flow_specs()
        self._classes = preloaded.global_classes()
        self._fieldgroups = preloaded.global_fieldgroups()
        self._source_tables = SourceTables(sources)
        self._flow_service_init()
        self._cloud_storage_init(object_store)
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

    # ------------------------------------------------------------ sandboxes
    def _new_sandbox(self, name) -> Sandbox:
        """A sandbox with what the seeds find in it: schemas, datasets and an account."""
        sb = Sandbox(name)
        self._preload_schemas(sb)
        self._preload_datasets(sb)
        self._preload_connections(sb)
        return sb

    # ------------------------------------------------------------ WSGI
    def _wsgi(self, environ, start_response):
        started = now_ms()
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
        rec_headers = {k: ("***" if k.lower() in ("authorization", "x-api-key") or SECRET_KEY.search(k) else v)
                       for k, v in headers.items()}
        rec_body = body_for_record
        if isinstance(rec_body, (dict, list)):
            rec_body = redact(rec_body)
        record = {"method": req.method, "path": raw_path, "query": req.args.to_dict(flat=False),
                  "headers": rec_headers, "body": rec_body, "status": status,
                  "startedAt": started, "endedAt": now_ms()}
        record["query"] = {k: (v[0] if len(v) == 1 else v) for k, v in record["query"].items()}
        for k in list(record["query"]):
            # continuationToken is a paging cursor, not a credential
            if SECRET_KEY.search(k) and k != "continuationToken":
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

    # ------------------------------------------------------------ gateway + dispatch
    def _aep(self, req, query, headers, raw, body):
        path = req.environ["aep.raw_path"]
        if path.startswith(DA + "/"):
            return self._data_access(req.method, path, query, headers)
        prefix = next((p for p in SERVICES if path == p or path.startswith(p + "/")), None)
        if prefix is None:
            return 404, {"error_code": "404000", "message": "Not Found"}, {}
        h = {k.lower(): v for k, v in headers.items()}
        sb = self._gateway_sandbox(h)
        if req.method in ("POST", "PUT", "PATCH") and raw:
            self._check_json_body(prefix, h, body)
        # "Descriptors are not versioned, therefore no Accept header is required in the lookup
        # request" (help/xdm/api/descriptors.md#lookup).
        if prefix == SR and req.method == "GET" and not re.search(r"/descriptors/[^/]+$", path):
            self._check_xdm_accept(h)
        op = self._contract.find_operation(req.method, path)
        if op is None:
            if self._contract.path_exists(path):
                return 405, service_error(prefix)(405, "1405", "Method Not Allowed",
                                                   f"{req.method} is not defined for {path}").body, {}
            raise service_error(prefix)(
                404, "1439" if prefix == FS else "1012" if prefix == SR else "1002", "Resource not found",
                f"No operation {req.method} {path}")
        if prefix == FS and req.method == "PATCH" and "if-match" not in h:
            raise flow_error(400, "1403", "Missing If-Match", "If-Match header is required for PATCH")
        problems = self._contract.validate_request(req.method, path, query, headers, body)
        if problems:
            raise bad_request(prefix, "; ".join(problems))
        pp = {k: unquote(v) for k, v in self._contract.path_params(op, path).items()}
        with self._lock:
            return self._route(prefix, op.template, req.method, pp, query, h, body, sb)

    def _data_access(self, method, path, query, headers):
        """Data Access (no vendored OpenAPI spec: export.py cites Adobe's pages): the gateway's
        checks, the contract's header check (aep_contract.OUTSIDE_SPECS), then export.py."""
        h = {k.lower(): v for k, v in headers.items()}
        sb = self._gateway_sandbox(h)
        m = re.fullmatch(re.escape(DA) + r"/batches/([^/]+)/(failed|meta)/?", path)
        if m is None or method != "GET":
            return 404, {"type": "http://ns.adobe.com/aep/errors/DAS-404", "status": 404, "title": "Not Found",
                         "detail": f"No operation {method} {path}"}, {}
        problems = self._contract.validate_request(method, path, query, headers, None)
        if problems:
            return 400, {"type": "http://ns.adobe.com/aep/errors/DAS-400", "status": 400, "title": "Bad Request",
                         "detail": "; ".join(problems)}, {}
        with self._lock:
            return self._export(sb, unquote(m.group(1)), m.group(2), query)

    def _gateway_sandbox(self, h):
        """The gateway's checks of the token, API key, org and sandbox headers (`h`: lower-cased
        names), in AEP's order; the sandbox the request is for."""
        auth = h.get("authorization")
        if not auth:
            raise gw_error(403, "403010", "Oauth token is missing")
        tok = auth[7:].strip() if auth.lower().startswith("bearer ") else None
        if not self._token_valid(tok):
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
        return sb

    @staticmethod
    def _check_json_body(prefix, h, body):
        """A request that sends a body sends JSON, declared as such."""
        ct = h.get("content-type", "")
        if "json" not in ct.lower():
            raise ApiError(400, {"type": "http://ns.adobe.com/aep/errors/400", "status": 400,
                                 "title": "BadRequestError",
                                 "detail": f"Content-Type '{ct}' is not supported; use application/json"})
        if body is None:
            raise bad_request(prefix, "Request body is not valid JSON")

    @staticmethod
    def _check_xdm_accept(h):
        """A Schema Registry read names the XDM format it wants in its Accept header."""
        acc = h.get("accept", "")
        if not acc:
            raise xdm_error(406, "1007", "Accept header missing",
                            "An Accept header of application/vnd.adobe.xed…+json is required")
        if not re.search(r"application/vnd\.adobe\.(xed|xdm)[a-z0-9-]*\+json", acc):
            raise xdm_error(400, "1007", "Accept header invalid",
                            f"The supplied Accept header is not valid: {acc} - A valid Accept value should look "
                            "like application/vnd.adobe.'{xed|xdm'}+json")

    def _route(self, prefix, tmpl, method, pp, query, h, body, sb):
        key = (prefix, method, tmpl)
        handler = {
            (FS, "GET", "/connectionSpecs"): lambda: self._list_connection_specs(query),
            (FS, "GET", "/connectionSpecs/{CONNECTION_SPEC_ID}"): lambda: self._get_spec(
                self._conn_specs, pp["CONNECTION_SPEC_ID"], "connection spec"),
            (FS, "GET", "/connectionSpecs/{CONNECTION_SPEC_ID}/configs"): lambda: self._connection_spec_configs(
                pp["CONNECTION_SPEC_ID"], query),
            (FS, "GET", "/flowSpecs"): lambda: self._list(list(self._flow_specs.values()), query, "flowSpecs"),
            (FS, "GET", "/flowSpecs/{FLOW_SPEC_ID}"): lambda: self._get_spec(
                self._flow_specs, pp["FLOW_SPEC_ID"], "flow spec"),
            (FS, "POST", "/connections"): lambda: self._create_connection(body, sb),
            (FS, "GET", "/connections"): lambda: self._list_connections(sb, query),
            (FS, "GET", "/connections/{BASE_CONNECTION_ID}"): lambda: self._get_connections(
                sb, pp["BASE_CONNECTION_ID"]),
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
            (FS, "POST", "/flows"): lambda: self._create_flow(body, sb, query),  # query: mode=draft (drafts.py)
            (FS, "GET", "/flows"): lambda: self._list(list(sb.flows.values()), query, "flows"),
            (FS, "GET", "/flows/{FLOW_ID}"): lambda: self._get_items(sb.flows, pp["FLOW_ID"], "Flow"),
            (FS, "PATCH", "/flows/{FLOW_ID}"): lambda: self._patch(sb, sb.flows, pp["FLOW_ID"], "Flow", h, body),
            (FS, "DELETE", "/flows/{FLOW_ID}"): lambda: self._delete_flow(sb, pp["FLOW_ID"]),
            (FS, "POST", "/flows/{FLOW_ID}/action"): lambda: self._flow_action(sb, pp["FLOW_ID"], query),
            (FS, "GET", "/runs"): lambda: self._list_runs(sb, query),
            (FS, "POST", "/runs"): lambda: self._create_run(sb, body),
            (FS, "GET", "/runs/{RUN_ID}"): lambda: self._get_run(sb, pp["RUN_ID"]),
            (FS, "POST", "/runs/{RUN_ID}/action"): lambda: self._retrigger_run(sb, pp["RUN_ID"], query),
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
            (CAT, "GET", "/batches/{BATCH_ID}"): lambda: self._get_batch(sb, pp["BATCH_ID"]),
            (DP, "POST", "/mappingSets"): lambda: self._create_mapping(body, sb),
            (DP, "GET", "/mappingSets"): lambda: self._list_mappings(sb, query),
            (DP, "GET", "/mappingSets/{MAPPING_SET_ID}"): lambda: self._get_mapping(sb, pp["MAPPING_SET_ID"], query),
            (DP, "PUT", "/mappingSets/{MAPPING_SET_ID}"): lambda: self._put_mapping(sb, pp["MAPPING_SET_ID"], body),
        }.get(key)
        if handler is None:
            # Defined by the spec but not emulated: say so rather than pretend.
            return 501, service_error(prefix)(501, "1501", "Not Implemented",
                                               f"{method} {tmpl} is defined by the spec but not emulated").body, {}
        return handler()
