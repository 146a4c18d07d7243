"""The emulator's mapping set versions, as help/data-prep/api/mapping-set.md and data-prep.yaml describe
them: PUT /mappingSets/{id} makes a new version and keeps the earlier ones; GET ?version=N answers
that version's mappings (404 for one the set does not have, 400 for a version that is not an
integer); a flow names the version it maps with, and may not name one its set does not have."""
import pytest

from local import handmade
from local.stack import emulator_running
from tests.emulator_http import caller

SECRET = "mapping-versions-secret"
DP = "/data/foundation/conversion/mappingSets"
FLOWS = "/data/foundation/flowservice/flows"


@pytest.fixture(scope="module")
def emu():
    with emulator_running(client_secret=SECRET, seed=3) as e:
        yield e


@pytest.fixture(scope="module")
def call(emu):
    return caller(emu, SECRET, headers={"Content-Type": "application/json"})


def mapping_body(*sources: str) -> dict:
    destinations = {"TestID": "_id", "Name": "person.name.fullName"}
    return {"name": "versions", "version": 0, "xdmSchema": handmade.SCHEMA, "xdmVersion": "1.0",
            "outputSchema": {"schemaRef": {"id": handmade.SCHEMA, "contentType": "1.0"}},
            "mappings": [{"sourceAttribute": s, "destinationXdmPath": destinations[s]} for s in sources]}


def test_every_version_is_kept_and_answered_by_number(call):
    created = call("POST", DP, json=mapping_body("TestID")).json()
    mid = created["id"]
    assert created["version"] == 0
    assert call("PUT", f"{DP}/{mid}", json=mapping_body("TestID", "Name")).json()["version"] == 1
    v0, v1 = (call("GET", f"{DP}/{mid}", {"version": n}).json() for n in (0, 1))
    assert (v0["version"], [m["sourceAttribute"] for m in v0["mappings"]]) == (0, ["TestID"])
    assert (v1["version"], [m["sourceAttribute"] for m in v1["mappings"]]) == (1, ["TestID", "Name"])
    assert call("GET", f"{DP}/{mid}").json()["version"] == 1  # no version named: the latest
    for missing in (2, -1):
        r = call("GET", f"{DP}/{mid}", {"version": missing})
        assert r.status_code == 404 and f"no version {missing}" in r.json()["detail"], r.text
    assert call("GET", f"{DP}/{mid}", {"version": "one"}).status_code == 400


def test_a_flow_maps_with_a_version_its_set_has_and_moves_between_them(call):
    source = call("POST", "/data/foundation/flowservice/sourceConnections", json={
        "name": "src", "baseConnectionId": handmade.ACCOUNT, "data": {"format": "tabular"},
        "params": {"tableName": "Contact"}, "connectionSpec": {"id": handmade.SALESFORCE_SPEC_ID, "version": "1.0"}})
    target = call("POST", "/data/foundation/flowservice/targetConnections", json={
        "name": "tgt", "data": {"schema": {"id": handmade.SCHEMA,
                                           "version": "application/vnd.adobe.xed-full+json;version=1"}},
        "params": {"dataSetId": handmade.DATASET}, "connectionSpec": {"id": handmade.DATA_LAKE, "version": "1.0"}})
    mid = call("POST", DP, json=mapping_body("TestID")).json()["id"]
    call("PUT", f"{DP}/{mid}", json=mapping_body("TestID", "Name"))

    def flow_body(version: str) -> dict:
        return {"name": f"flow at {version}", "flowSpec": {"id": handmade.CRM_TO_AEP, "version": "1.0"},
                "sourceConnectionIds": [source.json()["id"]], "targetConnectionIds": [target.json()["id"]],
                "transformations": [{"name": "Copy", "params": {"deltaColumn": {"name": "Datefield"}}},
                                    {"name": "Mapping", "params": {"mappingId": mid, "mappingVersion": version}}],
                "scheduleParams": {"startTime": 4_000_000_000, "frequency": "hour", "interval": "1"}}

    refused = call("POST", FLOWS, json=flow_body("2"))
    assert refused.status_code == 400 and f"Mapping set {mid} has no version 2" in refused.json()["errorMessage"]
    flow = call("POST", FLOWS, json=flow_body("1")).json()
    path = "/transformations/1/params/mappingVersion"
    back = call("PATCH", f"{FLOWS}/{flow['id']}", json=[{"op": "replace", "path": path, "value": "0"}],
                headers={"If-Match": flow["etag"]})
    assert back.status_code == 200, back.text
    beyond = call("PATCH", f"{FLOWS}/{flow['id']}", json=[{"op": "replace", "path": path, "value": "5"}],
                  headers={"If-Match": back.json()["etag"]})
    assert beyond.status_code == 400 and "has no version 5" in beyond.json()["errorMessage"], beyond.text
    [mapping] = [t for t in call("GET", f"{FLOWS}/{flow['id']}").json()["items"][0]["transformations"]
                 if t["name"] == "Mapping"]
    assert mapping["params"] == {"mappingId": mid, "mappingVersion": "0"}
