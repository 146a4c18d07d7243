import base64
import json
import threading
import time

import pytest
import requests

from local.stack import emulator_running

T = 5
SECRET = "very-secret-value"
CRM_FLOW_SPEC = "14518937-270c-4525-bdec-c2ba7cce3860"
REST_FLOW_SPEC = "6499120c-0b15-42dc-936e-847ea3c24d72"
SALESFORCE = "cfc0fee1-7dc0-40ef-b73e-d8b134c436f5"
MIXPANEL = "fd2c8ff3-1de0-4f6b-8fa8-4264784870eb"
DATA_LAKE = "c604ff05-7f1a-43c0-8e18-33bf874cb11c"
SCHEMA = "https://ns.adobe.com/acme/schemas/52b59140414aa6a370ef5e21155fd7a686744b8739ecc168"
DATASET = "5c8c3c555033b814b69f947f"


@pytest.fixture
def emu():
    with emulator_running(client_secret=SECRET, seed=1) as e:
        yield e


def token(e):
    r = requests.post(e.base_url + "/ims/token/v3", data={
        "grant_type": "client_credentials", "client_id": e.client_id, "client_secret": SECRET,
        "scope": "openid,AdobeID"}, timeout=T)
    assert r.status_code == 200
    return r.json()["access_token"]


@pytest.fixture
def api(emu):
    h = {"Authorization": "Bearer " + token(emu), "x-api-key": emu.client_id,
         "x-gw-ims-org-id": emu.org_id, "x-sandbox-name": "prod"}

    class Api:
        base = emu.base_url
        headers = h

        def req(self, method, path, headers=None, **kw):
            return requests.request(method, emu.base_url + path, headers={**h, **(headers or {})}, timeout=T, **kw)

        def fs(self, method, path, **kw):
            return self.req(method, "/data/foundation/flowservice" + path, **kw)

    return Api()


def salesforce_connection(api):
    r = api.fs("POST", "/connections", json={
        "name": "SF", "connectionSpec": {"id": SALESFORCE, "version": "1.0"},
        "auth": {"specName": "Basic Authentication",
                 "params": {"username": "u@acme", "password": SECRET, "securityToken": SECRET}}})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def full_flow(api, schedule=None):
    bc = salesforce_connection(api)
    sc = api.fs("POST", "/sourceConnections", json={
        "name": "src", "baseConnectionId": bc, "data": {"format": "tabular"},
        "params": {"tableName": "Contact"}, "connectionSpec": {"id": SALESFORCE, "version": "1.0"}}).json()["id"]
    tc = api.fs("POST", "/targetConnections", json={
        "name": "tgt", "data": {"schema": {"id": SCHEMA, "version": "application/vnd.adobe.xed-full+json;version=1"}},
        "params": {"dataSetId": DATASET}, "connectionSpec": {"id": DATA_LAKE, "version": "1.0"}}).json()["id"]
    r = api.req("POST", "/data/foundation/conversion/mappingSets", json={
        "version": 0, "xdmSchema": SCHEMA, "xdmVersion": "1.0",
        "mappings": [{"destinationXdmPath": "_id", "sourceAttribute": "TestID", "identity": False, "version": 0}]})
    assert r.status_code == 200, r.text
    mid = r.json()["id"]
    body = {"name": "flow", "flowSpec": {"id": CRM_FLOW_SPEC, "version": "1.0"},
            "sourceConnectionIds": [sc], "targetConnectionIds": [tc],
            "transformations": [{"name": "Copy", "params": {"deltaColumn": {"name": "Datefield"}}},
                                {"name": "Mapping", "params": {"mappingId": mid, "mappingVersion": "0"}}],
            "scheduleParams": schedule or {"startTime": int(time.time()) + 3600, "frequency": "minute",
                                           "interval": "15"}}
    return bc, sc, tc, mid, body


def flow_code(r):
    return r.json()["type"].rsplit("/", 1)[1]


def test_ims_token_and_refusals(emu):
    base = emu.base_url + "/ims/token/v3"
    assert requests.post(base, data={"grant_type": "client_credentials", "client_id": emu.client_id,
                                     "client_secret": "wrong", "scope": "openid"},
                         timeout=T).json()["error"] == "invalid_client"
    assert requests.post(base, data={"grant_type": "client_credentials"}, timeout=T).status_code == 400
    r = requests.post(base, params={"grant_type": "client_credentials", "client_id": emu.client_id,
                                    "client_secret": SECRET, "scope": "openid"}, timeout=T)
    assert r.status_code == 200 and r.json()["expires_in"] == 86399 and r.json()["token_type"] == "bearer"
    assert emu.ims_token_requests == 1


def test_gateway_header_refusals(api, emu):
    url = api.base + "/data/foundation/flowservice/flows"
    h = dict(api.headers)
    r = requests.get(url, headers={**h, "Authorization": "Bearer forged"}, timeout=T)
    assert r.status_code == 401 and r.json() == {"error_code": "401013", "message": "Oauth token is not valid"}
    assert requests.get(url, headers={k: v for k, v in h.items() if k != "Authorization"},
                        timeout=T).json()["error_code"] == "403010"
    assert requests.get(url, headers={k: v for k, v in h.items() if k != "x-api-key"},
                        timeout=T).json()["error_code"] == "403000"
    assert requests.get(url, headers={**h, "x-api-key": "other"}, timeout=T).json()["error_code"] == "403003"
    r = requests.get(url, headers={k: v for k, v in h.items() if k != "x-gw-ims-org-id"}, timeout=T)
    assert r.status_code == 400 and r.json()["error_code"] == "400003"
    assert requests.get(url, headers={**h, "x-sandbox-name": "nope"}, timeout=T).status_code == 403
    r = requests.post(url, headers={**h, "Content-Type": "text/plain"}, data="{}", timeout=T)
    assert r.status_code == 400 and r.json()["title"] == "BadRequestError"


def test_undefined_operations(api):
    assert api.fs("GET", "/nothing").status_code == 404
    # no DELETE for mapping sets in data-prep.yaml
    assert api.req("DELETE", "/data/foundation/conversion/mappingSets/abc").status_code == 405


def test_schema_registry_needs_accept(api):
    r = api.req("GET", "/data/foundation/schemaregistry/tenant/schemas", headers={"Accept": "application/json"})
    assert r.status_code == 400 and "XDM-1007" in r.json()["type"]
    r = api.req("GET", "/data/foundation/schemaregistry/tenant/schemas/" + requests.utils.quote(SCHEMA, safe=""),
                headers={"Accept": "application/vnd.adobe.xed+json; version=1"})
    assert r.status_code == 200 and r.json()["$id"] == SCHEMA
    r = api.req("GET", "/data/foundation/schemaregistry/tenant/schemas/_acme.schemas.nope",
                headers={"Accept": "application/vnd.adobe.xed+json; version=1"})
    assert r.status_code == 404 and r.json()["type"].endswith("XDM-1012-404")


def test_create_schema_dataset_and_refusals(api):
    sr = "/data/foundation/schemaregistry/tenant/schemas"
    body = {"type": "object", "title": "DB target", "description": "d", "meta:class": "https://ns.adobe.com/xdm/context/profile",
            "allOf": [{"$ref": "https://ns.adobe.com/xdm/context/profile"},
                      {"$ref": "https://ns.adobe.com/xdm/context/profile-person-details"}]}
    r = api.req("POST", sr, json=body)
    assert r.status_code == 201 and r.json()["meta:altId"].startswith("_acme.schemas.")
    sid = r.json()["$id"]
    assert api.req("POST", sr, json=body).status_code == 409
    bad = {**body, "title": "x", "allOf": [{"$ref": "https://ns.adobe.com/xdm/context/nope"}]}
    assert api.req("POST", sr, json=bad).status_code == 400
    dataset = {"name": "ds",
               "schemaRef": {"id": sid, "contentType": "application/vnd.adobe.xed-full-notext+json; version=1"},
               "tags": {"unifiedProfile": ["enabled:true"]}}
    # Profile needs the schema's union tag, and the tag a primary identity (enable-for-profile.md, XDM-1528-400).
    r = api.req("POST", "/data/foundation/catalog/dataSets", json=dataset)
    assert r.status_code == 400 and r.json()["type"].endswith("CAT-1003-400")
    union = [{"op": "add", "path": "/meta:immutableTags", "value": ["union"]}]
    schema_path = sr + "/" + requests.utils.quote(sid, safe="")
    r = api.req("PATCH", schema_path, json=union)
    assert r.status_code == 400 and r.json()["type"].endswith("XDM-1528-400")
    identity = {"@type": "xdm:descriptorIdentity", "xdm:sourceSchema": sid, "xdm:sourceVersion": 1,
                "xdm:sourceProperty": "/personalEmail/address", "xdm:namespace": "Email", "xdm:property": "xdm:code",
                "xdm:isPrimary": True}
    descriptors = "/data/foundation/schemaregistry/tenant/descriptors"
    r = api.req("POST", descriptors, json=identity)
    assert r.status_code == 201 and r.json()["@id"]
    second = {**identity, "xdm:sourceProperty": "/mobilePhone/number", "xdm:namespace": "Phone"}
    assert api.req("POST", descriptors, json=second).status_code == 400  # one primary identity per schema
    listed = api.req("GET", descriptors, params={"property": f"xdm:sourceSchema=={sid}"},
                     headers={"Accept": "application/vnd.adobe.xdm+json"}).json()
    assert [d["xdm:sourceProperty"] for d in listed["xdm:descriptorIdentity"]] == ["/personalEmail/address"]
    r = api.req("PATCH", schema_path, json=union)
    assert r.status_code == 200 and r.json()["meta:immutableTags"] == ["union"]
    assert api.req("PATCH", schema_path, json=[{"op": "remove", "path": "/meta:immutableTags"}]).status_code == 400
    r = api.req("POST", "/data/foundation/catalog/dataSets", json=dataset)
    assert r.status_code == 201 and r.json()[0].startswith("@/dataSets/")
    dsid = r.json()[0].split("/")[-1]
    assert len(dsid) == 24
    assert dsid in api.req("GET", "/data/foundation/catalog/dataSets?name=ds").json()
    assert api.req("DELETE", sr + "/" + requests.utils.quote(sid, safe="")).status_code == 400
    r = api.req("POST", "/data/foundation/catalog/dataSets", json={"name": "x", "schemaRef": {"id": "https://ns.adobe.com/acme/schemas/none"}})
    assert r.status_code == 400
    assert api.req("GET", "/data/foundation/catalog/dataSets/000000000000000000000000").status_code == 404


def test_flow_lifecycle_and_refusals(api, emu):
    bc, sc, tc, mid, body = full_flow(api)
    # Copy deltaColumn is required by CRMToAEP
    no_copy = {**body, "transformations": body["transformations"][1:]}
    r = api.fs("POST", "/flows", json=no_copy)
    assert r.status_code == 400 and flow_code(r) == "FLOW-1367-400"
    r = api.fs("POST", "/flows",
               json={**body, "scheduleParams": {"startTime": 1, "frequency": "minute", "interval": "10"}})
    assert r.status_code == 400 and "minimum" in r.json()["errorMessage"]
    r = api.fs("POST", "/flows",
               json={**body, "scheduleParams": {"startTime": 1, "frequency": "once", "interval": "15"}})
    assert r.status_code == 400
    r = api.fs("POST", "/flows", json={**body, "scheduleParams": {"startTime": 1, "frequency": "hour"}})
    assert r.status_code == 400
    # the OpenAPI type of interval is string
    r = api.fs("POST", "/flows", json={**body, "scheduleParams": {"startTime": 1, "frequency": "hour", "interval": 1}})
    assert r.status_code == 400 and flow_code(r) == "FLOW-1400-400"
    r = api.fs("POST", "/flows", json=body)
    assert r.status_code == 201, r.text
    fid, etag = r.json()["id"], r.json()["etag"]
    assert etag.startswith('"') and etag.endswith('"')
    flow = api.fs("GET", "/flows/" + fid).json()["items"][0]
    assert flow["state"] == "enabled" and flow["sourceConnectionIds"] == [sc]

    patch = [{"op": "replace", "path": "/name", "value": "renamed"}]
    r = api.fs("PATCH", "/flows/" + fid, json=patch)
    assert r.status_code == 400 and flow_code(r) == "FLOW-1403-400"
    r = api.fs("PATCH", "/flows/" + fid, json=patch, headers={"If-Match": '"stale"'})
    assert r.status_code == 412 and flow_code(r) == "FLOW-1404-412"
    r = api.fs("PATCH", "/flows/" + fid, json=patch, headers={"If-Match": etag})
    assert r.status_code == 200 and r.json()["etag"] != etag
    new_etag = r.json()["etag"]
    r = api.fs("PATCH", "/flows/" + fid, json=[{"op": "replace", "path": "/scheduleParams/startTime", "value": 5}],
               headers={"If-Match": new_etag})
    assert r.status_code == 400 and flow_code(r) == "FLOW-1366-400"
    r = api.fs("PATCH", "/flows/" + fid, json=[{"op": "replace", "path": "/sourceConnectionIds", "value": ["x"]}],
               headers={"If-Match": new_etag})
    assert r.status_code == 400

    # in use: base connection cannot be deleted
    r = api.fs("DELETE", "/connections/" + bc)
    assert r.status_code == 400 and flow_code(r) == "FLOW-1418-400"
    assert api.fs("POST", f"/flows/{fid}/action?op=DISABLE").status_code == 200
    assert api.fs("GET", "/flows/" + fid).json()["items"][0]["state"] == "disabled"
    assert api.fs("DELETE", "/flows/" + fid).status_code == 204
    # once no flow uses it (only flows block deletion, per FLOW-1418) it can go
    assert api.fs("DELETE", "/connections/" + bc).status_code == 204


def test_unknown_ids_and_wrong_target_spec(api):
    r = api.fs("GET", "/connections/00000000-0000-0000-0000-000000000000")
    assert r.status_code == 404 and flow_code(r) == "FLOW-1439-404"
    r = api.fs("POST", "/targetConnections", json={
        "name": "t", "data": {"format": "json"}, "params": {"dataSetId": DATASET},
        "connectionSpec": {"id": MIXPANEL, "version": "1.0"}})
    assert r.status_code == 400 and flow_code(r) == "FLOW-1307-400"
    r = api.fs("POST", "/targetConnections", json={
        "name": "t", "data": {"format": "json"}, "params": {"dataSetId": "ffffffffffffffffffffffff"},
        "connectionSpec": {"id": DATA_LAKE, "version": "1.0"}})
    assert r.status_code == 400
    r = api.fs("POST", "/connections", json={"name": "x", "connectionSpec": {"id": SALESFORCE, "version": "1.0"},
                                             "auth": {"specName": "Basic Authentication", "params": {"username": "u"}}})
    assert r.status_code == 400 and flow_code(r) == "FLOW-1412-400"


def test_mixpanel_explore_needs_source_params(api):
    r = api.fs("POST", "/connections", json={"name": "mp", "connectionSpec": {"id": MIXPANEL, "version": "1.0"},
                                             "auth": {"specName": "Basic Authentication",
                                                      "params": {"username": "u", "password": SECRET}}})
    cid = r.json()["id"]
    q = "objectType=rest&object=json&fileType=json&preview=true&sourceParams="
    assert api.fs("GET", f"/connections/{cid}/explore?{q}e30").status_code == 400
    sp = base64.b64encode(json.dumps({"projectId": "1", "timezone": "UTC"}).encode()).decode()
    r = api.fs("GET", f"/connections/{cid}/explore?{q}{sp}")
    assert r.status_code == 200 and r.json()["format"] == "hierarchical"
    # Seed 003's preview: {event, properties: {distinct_id, ...}}
    assert "distinct_id" in r.json()["data"][0]["properties"] and "event" in r.json()["data"][0]


def test_listing_filters_paging_count(api, emu):
    preloaded = api.fs("GET", "/connections?count=true").json()["count"]  # the seed-000 account
    ids = [salesforce_connection(api) for _ in range(3)]
    r = api.fs("GET", "/connections?limit=3")
    page = r.json()
    assert len(page["items"]) == 3 and "continuationToken=" in page["_links"]["next"]["href"]
    token = page["_links"]["next"]["href"].split("continuationToken=")[1]
    last = api.fs("GET", "/connections?limit=3&continuationToken=" + token).json()
    assert len(last["items"]) == preloaded and last["_links"] == {}
    assert emu.records[-1]["query"]["continuationToken"] == token
    assert api.fs("GET", "/connections?count=true").json() == {"count": 3 + preloaded}
    assert flow_code(api.fs("GET", "/connections?count=true&limit=1")) == "FLOW-1401-400"
    assert len(api.fs("GET", f"/connections?property=id=={ids[0]},{ids[1]}").json()["items"]) == 2
    for q, code in [("property=name~x", "1440"), ("property=createdAt<=1,2", "1443"), ("property=id>=a", "1448"),
                    ("property=name!>a", "1450"), ("property=createdAt==a,b", "1452"), ("property=createdAt==", "1453"),
                    ("orderby=bogus", "1432")]:
        assert flow_code(api.fs("GET", "/flows?" + q)) == f"FLOW-{code}-400", q
    names = [i["name"] for i in api.fs("GET", '/flowSpecs?property=name=="CRMToAEP"').json()["items"]]
    assert names == ["CRMToAEP"]


def test_fault_504_after_processing_keeps_resource(api, emu):
    emu.set_faults(fault_rate=1.0)
    emu._rng.choice = lambda seq: "504"  # force the lost-response fault
    r = api.fs("POST", "/connections", json={
        "name": "lost", "connectionSpec": {"id": SALESFORCE, "version": "1.0"},
        "auth": {"specName": "Basic Authentication",
                 "params": {"username": "u", "password": "p", "securityToken": "t"}}})
    assert r.status_code == 504
    emu.set_faults(fault_rate=0.0)
    assert [c["name"] for c in emu.dump_state()["connections"]].count("lost") == 1


def test_fault_429_before_processing(api, emu):
    emu.set_faults(fault_rate=1.0)
    emu._rng.choice = lambda seq: "429"
    r = api.fs("POST", "/connections", json={"name": "never", "connectionSpec": {"id": SALESFORCE, "version": "1.0"},
                                             "auth": {"specName": "x"}})
    assert r.status_code == 429 and r.headers["Retry-After"] == "1"
    emu.set_faults(fault_rate=0.0)
    assert [c["name"] for c in emu.dump_state()["connections"]] == ["ACME Salesforce account"]  # preloaded only


def test_latency_overlaps(api, emu):
    emu.set_faults(latency_ms=300)
    results = []
    threads = [threading.Thread(target=lambda: results.append(api.fs("GET", "/flows").status_code)) for _ in range(4)]
    t0 = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [200] * 4 and time.time() - t0 < 1.0


def test_dump_state_and_records_redact(api, emu):
    salesforce_connection(api)
    state = emu.dump_state()
    assert set(state) >= {"connections", "sourceConnections", "targetConnections", "schemas", "dataSets",
                          "mappingSets", "flows"}
    assert {d["id"] for d in state["dataSets"]} >= {DATASET, "5c8c3c555033b814b69f947f",
                                                   "624bf42e16519d19496e3f67", "5ef4551c52e054191a61a99f"}
    dumped = json.dumps(emu.records) + json.dumps(state)
    assert SECRET not in dumped
    from local.aep_contract import Contract
    aep = [r for r in emu.records if r["path"].startswith("/data/")]
    assert all(Contract.load().validate_request(r["method"], r["path"], r["query"], r["headers"], r["body"]) == []
               for r in aep)
    tokens = [r for r in emu.records if r["path"] == "/ims/token/v3"]
    assert tokens[0]["body"]["client_secret"] == "***"
    rec = [r for r in emu.records if r["path"].endswith("/connections")][0]
    assert rec["headers"]["Authorization"] == "***" and rec["status"] == 201
    assert rec["body"]["auth"]["params"]["password"] == "***"
    assert rec["endedAt"] >= rec["startedAt"]


def test_paging_links_carry_only_the_token_and_the_token_carries_the_query(api):
    """flow-service.yaml's PageLink: `/connections?continuationToken=...`. A client may follow
    the href alone (the token keeps the filter and limit) or send its own parameters beside the
    token, as aepp 0.6.0 does after `href.split("=")[1]`."""
    ids = {salesforce_connection(api) for _ in range(5)}
    prop = "property=connectionSpec.id==" + SALESFORCE
    first = api.fs("GET", f"/connections?limit=2&{prop}").json()
    href = first["_links"]["next"]["href"]
    assert href.startswith("/connections?continuationToken=") and href.count("=") == 1
    seen, page = [i["id"] for i in first["items"]], first
    while page["_links"]:
        page = api.fs("GET", page["_links"]["next"]["href"]).json()  # the href alone
        assert len(page["items"]) <= 2
        seen += [i["id"] for i in page["items"]]
    assert ids <= set(seen) and len(seen) == len(set(seen)) == len(ids) + 1  # + the preloaded account
    token = href.split("=")[1]
    again = api.fs("GET", f"/connections?limit=3&continuationToken={token}").json()
    assert len(again["items"]) == 3  # a parameter sent beside the token wins


def test_connection_specs_are_adobes_documents_and_auth_is_checked_as_a_schema_validator_words_it(api):
    r = api.fs("GET", "/connectionSpecs/3c9b37f8-13a6-43d8-bad3-b863b941fedd")
    [bigquery] = r.json()["items"]
    assert bigquery["name"] == "google-big-query" and "_kind" not in bigquery
    assert [a["name"] for a in bigquery["authSpec"]] == ["Basic Authentication", "Service Authentication"]
    body = {"name": "bq", "connectionSpec": {"id": bigquery["id"], "version": "1.0"},
            "auth": {"specName": "Basic Authentication",
                     "params": {"project": "p", "clientId": "c", "clientSecret": SECRET}}}
    r = api.fs("POST", "/connections", json=body)
    assert flow_code(r) == "FLOW-1412-400" and "refreshToken" in r.text and SECRET not in r.text
    oracle = {"name": "o", "connectionSpec": {"id": "d6b52d86-f0f8-475f-89d4-ce54c8527328", "version": "1.0"},
              "auth": {"specName": "Connection String Based Authentication", "params": {"connectionString": SECRET}}}
    r = api.fs("POST", "/connections", json=oracle)
    assert flow_code(r) == "FLOW-1411-400" and "ConnectionString" in r.text  # Oracle's own auth spec name
    mysql = {"name": "m", "connectionSpec": {"id": "26d738e0-8963-47ea-aadf-c60de735468a", "version": "1.0"},
             "auth": {"specName": "Connection String Based Authentication", "params": {"connectionString": SECRET}}}
    r = api.fs("POST", "/connections", json=mysql)  # the published schema's pattern
    # The refusal quotes the value, as a JSON Schema validator does (and as AEP was seen to, issue 8):
    # aepflow must withstand that (aepflow.scrub), so the emulator does not spare it.
    assert flow_code(r) == "FLOW-1412-400" and "does not match" in r.text and SECRET in r.text


def test_flow_spec_lists_hold_every_seed_connector_and_options_follow_the_option_spec(api):
    crm = api.fs("GET", f"/flowSpecs/{CRM_FLOW_SPEC}").json()["items"][0]
    for spec_id in ("1fe283f6-9bec-11ea-bb37-0242ac130002", "102706fb-a5cd-42ee-afe0-bc42f017ff43",
                    "221c7626-58f6-4eec-8ee2-042b0226f03b", SALESFORCE):
        assert spec_id in crm["sourceConnectionSpecIds"]
    rest = api.fs("GET", f"/flowSpecs/{REST_FLOW_SPEC}").json()["items"][0]
    assert rest["name"] == "RestStorageToAEP" and MIXPANEL in rest["sourceConnectionSpecIds"]
    _, _, _, _, body = full_flow(api)
    r = api.fs("POST", "/flows", json={**body, "options": {"partialIngestionPercent": 0}})
    assert flow_code(r) == "FLOW-1423-400"
    r = api.fs("POST", "/flows", json={**body, "options": {"errorDiagnosticsEnabled": True,
                                                          "partialIngestionPercent": 5}})
    assert r.status_code == 201
    flow = api.fs("GET", f"/flows/{r.json()['id']}").json()["items"][0]
    assert flow["options"] == {"errorDiagnosticsEnabled": True, "partialIngestionPercent": 5}
