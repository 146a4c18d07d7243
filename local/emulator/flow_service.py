"""Flow Service: connection and flow specs, base connections (and their test), source and target
connections, and flows (create, a draft and its publish as drafts.py says, PATCH with If-Match,
enable/disable, delete), per sandbox; with
the changes made as someone would in the Experience Platform UI (ui_patch, ui_action,
ui_delete_flow). Explore is explore.py's; runs, flow_runs.py's."""
from __future__ import annotations

import copy
import re
import threading
import time
import uuid

from jsonschema import Draft7Validator

from . import drafts, filters, preloaded
from .aep_errors import flow_error
from .json_patch import json_patch
from .listing import ListError, apply_list
from .redaction import redact
from .sandbox import Sandbox, new_etag, now_ms
from .schema_registry import find_schema


def public(spec: dict) -> dict:
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


class FlowServiceMixin:
    """Mixed into AepEmulator. State (set by the emulator): `org_id`, `client_id`, `_lock`,
    `_sandboxes`, `_conn_specs` and `_flow_specs` (preloaded.py), `_source_tables`
    (source_tables.SourceTables: what a CRM's tableName may name)."""

    def _flow_service_init(self) -> None:
        self._acting = threading.local()
        self._refused_connections: set[str] = set()

    def _preload_connections(self, sb: Sandbox) -> None:
        """The accounts an org already holds (the Salesforce account seed 000 reuses), by their ids."""
        for cid, cname, spec_id, auth_name, params in preloaded.PRELOADED_CONNECTIONS:
            _, created, _ = self._create_connection(
                {"name": cname, "connectionSpec": {"id": spec_id, "version": "1.0"},
                 "auth": {"specName": auth_name, "params": params}}, sb)
            conn = sb.connections.pop(created["id"])
            conn["id"] = cid
            sb.connections[cid] = conn

    def _list(self, items, query, collection):
        sortable = {"id", "name", "createdAt", "updatedAt", "state", "flowSpec.id", "flowId",
                    "metrics.durationSummary.startedAtUTC", "metrics.durationSummary.completedAtUTC"}
        try:
            return 200, apply_list(copy.deepcopy(items), query, collection, sortable), {}
        except ListError as e:
            raise flow_error(400, e.code, "Bad Request", e.message) from e

    def _list_connection_specs(self, query):
        return self._list(list(map(public, self._conn_specs.values())), query, "connectionSpecs")

    def _list_connections(self, sb, query):
        return self._list([redact(c) for c in sb.connections.values()], query, "connections")

    def _get_connections(self, sb, ids):
        return self._get_items(sb.connections, ids, "Connection", redact)

    def _get_spec(self, specs, ids, what):
        found = [public(specs[i]) for i in ids.split(",") if i in specs]
        if not found:
            raise flow_error(404, "1439", "Resource not found", f"No {what} found with id {ids}")
        return 200, {"items": found}, {}

    def _get_items(self, coll, ids, what, transform=lambda x: x):
        found = [transform(copy.deepcopy(coll[i])) for i in ids.split(",") if i in coll]
        if not found:
            raise flow_error(404, "1439", "Resource not found", f"{what} with id {ids} was not found")
        return 200, {"items": found}, {}

    def _meta(self, sb, body):
        now = now_ms()
        return {"id": str(uuid.uuid4()), "createdAt": now, "updatedAt": now, "createdBy": f"{self.client_id}@AdobeID",
                "updatedBy": f"{self.client_id}@AdobeID", "createdClient": self.client_id,
                "updatedClient": self.client_id, "sandboxId": sb.id, "sandboxName": sb.name,
                "imsOrgId": self.org_id, "name": body.get("name"), "description": body.get("description", ""),
                "etag": new_etag()}

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
            if params["tableName"] not in self._source_tables.tables(spec):
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
        elif kind == "file":
            self._check_file_source(body, base)  # cloud_storage.py (collect/cloud-storage.md)
        filters.check_source(spec, params, self._source_tables.tables(spec))  # params.filters (filter.md)
        src = {**self._meta(sb, body), "baseConnectionId": bid, "state": "enabled",
               "data": body.get("data"), "params": params, "connectionSpec": body["connectionSpec"],
               "version": "\"1\""}
        sb.sourceConnections[src["id"]] = src
        return 201, {"id": src["id"], "etag": src["etag"]}, {}

    def _create_target(self, body, sb):
        cs = (body.get("connectionSpec") or {}).get("id")
        if cs != preloaded.DATA_LAKE_SPEC_ID:
            raise flow_error(400, "1307", "Invalid target connection spec",
                             f"Target connection spec {cs} is not allowed; "
                             f"only {preloaded.DATA_LAKE_SPEC_ID} (Data Lake)")
        ds = (body.get("params") or {}).get("dataSetId")
        if not ds or ds not in sb.dataSets:
            raise flow_error(400, "1419", "Dataset not found", f"params.dataSetId {ds} does not exist")
        sid = ((body.get("data") or {}).get("schema") or {}).get("id")
        if sid and find_schema(sb, sid) is None:
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

    def _create_flow(self, body, sb, query=None):
        draft = drafts.draft_mode(query)  # POST /flows?mode=draft (draft.md)
        fspec = self._flow_specs.get((body.get("flowSpec") or {}).get("id"))
        if fspec is None:
            raise flow_error(400, "1410", "Invalid flow spec", f"Flow spec {body['flowSpec'].get('id')} does not exist")
        srcs, tgts = body.get("sourceConnectionIds") or [], body.get("targetConnectionIds") or []
        if not srcs or not tgts:
            raise flow_error(400, "1413", "Connections required",
                             "sourceConnectionIds and targetConnectionIds are required")
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
        if draft:  # draft.md, "Check for draft mode support": the flow spec's, and the source's connection spec's
            drafts.check_draft_supported(fspec, [self._conn_specs.get(sb.sourceConnections[s]["connectionSpec"]["id"])
                                                 or {} for s in srcs])
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
        flow = {**self._meta(sb, body), "flowSpec": body["flowSpec"], "state": drafts.DRAFT if draft else "enabled",
                "version": "\"1\"",
                "sourceConnectionIds": srcs, "targetConnectionIds": tgts,
                "inheritedAttributes": inherited, "transformations": body.get("transformations") or [],
                "scheduleParams": body.get("scheduleParams"), "options": body.get("options", {}),
                "runs": None, "lastOperation": {"started": now_ms(), "updated": now_ms(), "op": "CREATE",
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
                problem = self.mapping_version_problem(sb, mid, (t.get("params") or {}).get("mappingVersion"))
                if problem:  # data_prep.py: a flow maps with a version its set has
                    raise flow_error(400, "1417", "Mapping version not found", problem)
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
            new = json_patch(res, ops)
        except (KeyError, IndexError, ValueError, TypeError) as e:
            raise flow_error(400, "1400", "Invalid patch", f"Cannot apply patch: {e!r}") from e
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
        if coll is sb.sourceConnections:  # params.filters changes in place (filter.md), checked as on create
            spec = self._conn_specs[new["connectionSpec"]["id"]]
            filters.check_source(spec, new.get("params") or {}, self._source_tables.tables(spec))
        if coll is sb.connections and "auth" in new:
            spec = self._conn_specs[new["connectionSpec"]["id"]]
            aspec = next((a for a in spec["authSpec"] if a["name"] == new["auth"].get("specName")), None)
            if aspec is None:
                raise flow_error(400, "1411", "Invalid auth spec", "auth.specName is not valid")
            errs = auth_param_errors(aspec["spec"], new["auth"].get("params") or {})
            if errs:
                raise flow_error(400, "1412", "Invalid auth params", "; ".join(errs))
        new["etag"] = new_etag()
        new["updatedAt"] = now_ms()
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
        op = str(query.get("op", "")).upper()  # flow-service.yaml: ENABLE, DISABLE, PUBLISH; draft.md: op=publish
        if op not in ("ENABLE", "DISABLE", "PUBLISH"):
            raise flow_error(400, "1400", "Bad Request", f"op '{query.get('op')}' is not supported")
        if op == "PUBLISH":
            drafts.publish(f)  # draft.md, "Publish your draft dataflow"
        else:
            drafts.refuse_if_draft(f, f"op={op}")
            f["state"] = "enabled" if op == "ENABLE" else "disabled"
        f["etag"], f["updatedAt"] = new_etag(), now_ms()
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
