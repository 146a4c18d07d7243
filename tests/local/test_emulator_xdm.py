"""The emulator's XDM: the published classes and field groups (vendored from adobe/xdm by
local/emulator/vendor_xdm.py), a schema's resolved (xed-full) view, and Data Prep refusing a
mapping set whose destinations the output schema does not have, or maps twice."""
import json
import os

import pytest
import requests

from local.emulator import preloaded as cd
from local.emulator import vendor_xdm
from local.emulator.vendor_xdm import field_path, xdm_type
from local.stack import emulator_running

T = 5
SECRET = "xdm-test-secret"
SR = "/data/foundation/schemaregistry"
DP = "/data/foundation/conversion"
XDM = "https://ns.adobe.com/xdm/context"
ACME_CONTACT = "https://ns.adobe.com/acme/schemas/52b59140414aa6a370ef5e21155fd7a686744b8739ecc168"
ACME_PROFILE = "https://ns.adobe.com/acme/schemas/719c4e19184402c27595e65b931a142b"
SALESFORCE_ACCOUNTS = "https://ns.adobe.com/acme/schemas/417a33eg81a221bd10495920574gfa2d"
REST_SOURCE = "https://ns.adobe.com/acme/schemas/995dabbea86d58e346ff91bd8aa741a9f36f29b1019138d4"
FULL = "application/vnd.adobe.xed-full+json; version=1"
FULL_NOTEXT = "application/vnd.adobe.xed-full-notext+json; version=1"
RAW = "application/vnd.adobe.xed+json; version=1"


@pytest.fixture(scope="module")
def api():
    with emulator_running(client_secret=SECRET, seed=3) as emu:
        token = requests.post(emu.base_url + "/ims/token/v3", data={
            "grant_type": "client_credentials", "client_id": emu.client_id, "client_secret": SECRET,
            "scope": "openid,AdobeID"}, timeout=T).json()["access_token"]
        headers = {"Authorization": "Bearer " + token, "x-api-key": emu.client_id,
                   "x-gw-ims-org-id": emu.org_id, "x-sandbox-name": "prod"}

        class Api:
            def req(self, method, path, headers_=None, **kw):
                return requests.request(method, emu.base_url + path, headers={**headers, **(headers_ or {})},
                                        timeout=T, **kw)

            def schema(self, sid, accept):
                return self.req("GET", f"{SR}/tenant/schemas/{requests.utils.quote(sid, safe='')}",
                                {"Accept": accept})

            def mapping_set(self, schema_id, mappings, method="POST", mid=None):
                path = f"{DP}/mappingSets" + (f"/{mid}" if mid else "")
                return self.req(method, path, json={"version": 0, "xdmSchema": schema_id, "xdmVersion": "1.0",
                                                    "mappings": mappings})

        yield Api()


def leaf(properties, dotted):
    node = {"properties": properties}
    for name in dotted.split("."):
        node = node["properties"][name]
    return node


def attribute(source, destination):
    return {"sourceType": "ATTRIBUTE", "source": source, "destination": destination}


def refusal(r):
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["type"].endswith("MAPPER-1000-400") and body["status"] == 400
    return body["detail"]


# ------------------------------------------------------------------ the vendored definitions
def test_the_key_conversion_is_compatibility_mode():
    # help/xdm/schema/namespaces.md#compatibility, help/xdm/api/appendix.md#compatibility
    assert field_path("xdm:person") == ["person"]
    assert field_path("@id") == ["_id"]
    assert field_path("repo:createDate") == ["_repo", "createDate"]
    assert field_path("https://ns.adobe.com/xdm/channels/application") == ["_channels", "application"]
    assert field_path("https://ns.adobe.com/vendorA/product/stockNumber") == ["_vendorA", "product", "stockNumber"]
    assert xdm_type({"type": "integer", "minimum": 1, "maximum": 32767}) == "short"  # appendix.md's birthYear
    assert xdm_type({"type": "string", "format": "date"}) == "date"


def test_the_vendored_file_names_its_source_and_holds_the_published_fields():
    data = json.loads(cd.XDM_DEFINITIONS_FILE.read_text())
    assert data["source"]["repository"] == "adobe/xdm" and len(data["source"]["commit"]) == 40
    assert cd.XDM_DEFINITIONS_FILE.stat().st_size < 300 * 1024
    profile = data["classes"][f"{XDM}/profile"]
    assert profile["path"] == "components/classes/profile.schema.json"
    assert {"_id", "_repo", "personID"} <= set(profile["properties"])            # record behavior, the class
    assert leaf(profile["properties"], "_repo.createDate")["format"] == "date-time"
    event = data["classes"][f"{XDM}/experienceevent"]["properties"]
    assert {"_id", "timestamp", "eventType"} <= set(event)                          # time-series behavior
    groups = data["fieldGroups"]
    for name in ("profile-person-details", "profile-personal-details", "profile-work-details", "identitymap",
                 "experienceevent-environment-details"):
        assert groups[f"{XDM}/{name}"]["path"].startswith("components/fieldgroups/")
    assert leaf(groups[f"{XDM}/profile-person-details"]["properties"], "person.name.fullName")["type"] == "string"
    assert f"{XDM}/profile" in groups[f"{XDM}/profile-person-details"]["intendedToExtend"]
    assert leaf(groups[f"{XDM}/profile-personal-details"]["properties"], "personalEmail.address")["type"] == "string"
    assert groups[f"{XDM}/identitymap"]["properties"]["identityMap"]["meta:xdmType"] == "map"


@pytest.mark.skipif(not os.environ.get("XDM_GIT_DIR"), reason="set XDM_GIT_DIR to a git directory of adobe/xdm")
def test_the_vendored_file_is_what_adobe_xdm_gives():
    assert vendor_xdm.render(vendor_xdm.build(os.environ["XDM_GIT_DIR"])) == cd.XDM_DEFINITIONS_FILE.read_text()


def test_global_classes_and_field_groups_are_served_with_their_fields(api):
    r = api.req("GET", f"{SR}/global/classes/{requests.utils.quote(XDM + '/profile', safe='')}", {"Accept": RAW})
    assert r.status_code == 200 and "_id" in r.json()["properties"]
    r = api.req("GET", f"{SR}/global/fieldgroups/{requests.utils.quote(XDM + '/profile-person-details', safe='')}",
                {"Accept": RAW})
    assert r.status_code == 200 and leaf(r.json()["properties"], "person.name.fullName")
    tenant = api.req("GET", f"{SR}/tenant/fieldgroups", {"Accept": "application/vnd.adobe.xed+json"}).json()
    [rest_fields] = [f for f in tenant["results"] if f["title"] == "REST Source Fields"]
    assert {"id", "email", "distinct_id", "verified"} <= set(rest_fields["properties"]["_extconndev"]["properties"])


# ------------------------------------------------------------------ the resolved schema view
def test_a_profile_schema_full_view_resolves_class_and_field_groups(api):
    for accept in (FULL, FULL_NOTEXT):
        r = api.schema(ACME_CONTACT, accept)
        assert r.status_code == 200, r.text
        body = r.json()
        assert "allOf" not in body and body["$id"] == ACME_CONTACT
        assert leaf(body["properties"], "person.name.fullName")["type"] == "string"
        assert body["properties"]["_id"]["type"] == "string"
        assert leaf(body["properties"], "personalEmail.address")  # the preloaded identity's field
        assert leaf(body["properties"], "_repo.createDate")
    raw = api.schema(ACME_CONTACT, RAW).json()
    assert "properties" not in raw
    assert [a["$ref"] for a in raw["allOf"]] == [f"{XDM}/profile", f"{XDM}/profile-person-details",
                                                 f"{XDM}/profile-personal-details"]
    rest = api.schema(REST_SOURCE, FULL).json()["properties"]
    assert leaf(rest, "_extconndev.verified")["type"] == "boolean" and leaf(rest, "_extconndev.email")


def test_a_created_schema_full_view_has_its_field_groups(api):
    body = {"type": "object", "title": "Event target", "description": "d",
            "allOf": [{"$ref": f"{XDM}/experienceevent"}, {"$ref": f"{XDM}/experienceevent-environment-details"},
                      {"$ref": f"{XDM}/identitymap"}]}
    r = api.req("POST", f"{SR}/tenant/schemas", json=body)
    assert r.status_code == 201, r.text
    fields = api.schema(r.json()["$id"], FULL).json()["properties"]
    assert {"_id", "timestamp", "identityMap", "environment", "device"} <= set(fields)


# ------------------------------------------------------------------ Data Prep destinations
def test_a_mapping_to_a_path_the_schema_lacks_is_refused(api):
    r = api.mapping_set(ACME_CONTACT, [attribute("ID", "_id"), attribute("x", "totally.bogus.path")])
    detail = refusal(r)
    assert "mappings[1]" in detail and "totally.bogus.path" in detail and "no field 'totally'" in detail
    r = api.mapping_set(ACME_CONTACT, [{"destinationXdmPath": "person.name.nickname", "sourceAttribute": "n"}])
    assert "mappings[0]" in refusal(r) and "person.name.nickname" in r.json()["detail"]
    # a REST schema has no `person` (only its tenant field group)
    assert "mappings[0]" in refusal(api.mapping_set(REST_SOURCE, [attribute("n", "person.name.fullName")]))


def test_a_mapping_to_an_object_is_accepted_and_a_path_below_a_leaf_refused(api):
    # help/data-prep/mapping-set.md documents object to object (and array to array) mappings.
    r = api.mapping_set(ACME_CONTACT, [attribute("ID", "_id"), attribute("Name", "person.name")])
    assert r.status_code == 200, r.text
    assert "mappings[0]" in refusal(api.mapping_set(ACME_CONTACT, [attribute("x", "person.name.fullName.first")]))


def test_a_destination_mapped_twice_is_refused(api):
    r = api.mapping_set(ACME_CONTACT, [attribute("a", "_id"), attribute("b", "person.name.fullName"),
                                       attribute("c", "person.name.fullName")])
    detail = refusal(r)
    assert "mappings[2]" in detail and "mappings[1]" in detail and "person.name.fullName" in detail


def test_arrays_and_maps_take_indexes_and_keys_down_to_a_leaf(api):
    body = {"type": "object", "title": "Commerce events", "description": "d",
            "allOf": [{"$ref": f"{XDM}/experienceevent"}, {"$ref": f"{XDM}/experienceevent-commerce"},
                      {"$ref": f"{XDM}/identitymap"}]}
    sid = api.req("POST", f"{SR}/tenant/schemas", json=body).json()["$id"]
    ok = api.mapping_set(sid, [attribute("id", "_id"), attribute("ts", "timestamp"),
                               attribute("email", "identityMap.Email[0].id"),
                               attribute("sku", "productListItems[*].SKU")])
    assert ok.status_code == 200, ok.text
    whole = api.mapping_set(sid, [attribute("x", "productListItems"), attribute("y", "identityMap.Email")])
    assert whole.status_code == 200, whole.text  # array to array, as mapping-set.md shows
    assert "not an array" in refusal(api.mapping_set(sid, [attribute("x", "timestamp[0]")]))


def test_put_checks_the_new_version_the_same_way(api):
    r = api.mapping_set(ACME_CONTACT, [attribute("ID", "_id")])
    assert r.status_code == 200, r.text
    mid = r.json()["id"]
    r = api.mapping_set(ACME_CONTACT, [attribute("ID", "_id"), attribute("n", "person.nickname")], "PUT", mid)
    assert "mappings[1]" in refusal(r)
    r = api.mapping_set(ACME_CONTACT, [attribute("ID", "_id"), attribute("n", "person.name.fullName")], "PUT", mid)
    assert r.status_code == 200 and r.json()["version"] == 1


# The seeds' own "Create a mapping" requests (../shared/seeds), destinations as written.
SEED_MAPPINGS = {
    "000": (ACME_CONTACT, [("TestID", "_id"), ("Name", "person.name.fullName"), ("Datefield", "person.birthDate")]),
    "001": (SALESFORCE_ACCOUNTS, [("first_name", "person.name.firstName"), ("last_name", "person.name.lastName"),
                                  ("email", "personalEmail.address")]),
    "002": (REST_SOURCE, [(f"results.{n}", f"_extconndev.{n}") for n in (
        "id", "external_id", "role_type", "custom_role_id", "default_group_id", "phone", "shared_phone_number",
        "verified", "alias", "last_login_at", "signature", "details", "notes", "active", "created_at", "email",
        "iana_time_zone", "organization_id", "locale", "locale_id", "moderator", "name", "only_private_comments",
        "report_csv", "restricted_agent", "result_type", "role", "shared", "shared_agent", "time_zone",
        "two_factor_auth_enabled", "suspended", "updated_at", "url")]),
    "003": (REST_SOURCE, [(f"data.{n}", f"_extconndev.{n}") for n in (
        "distinct_id", "event_name", "import", "insert_id", "item_id", "item_name", "item_price",
        "mp_api_endpoint", "mp_api_timestamp_ms", "mp_processing_time_ms", "time")]),
}


@pytest.mark.parametrize("seed", sorted(SEED_MAPPINGS))
def test_the_seeds_own_mappings_are_accepted(api, seed):
    schema_id, pairs = SEED_MAPPINGS[seed]
    r = api.mapping_set(schema_id, [attribute(s, d) for s, d in pairs])
    assert r.status_code == 200, r.text
    # seed 000 and 004 write sourceAttribute/destinationXdmPath
    r = api.mapping_set(schema_id, [{"sourceAttribute": s, "destinationXdmPath": d, "identity": False, "version": 0}
                                    for s, d in pairs])
    assert r.status_code == 200, r.text


def test_seed_004_maps_into_the_schema_it_creates(api):
    body = {"type": "object", "title": "Target schema for a database", "description": "Target schema for Database",
            "allOf": [{"$ref": f"{XDM}/profile"}, {"$ref": f"{XDM}/profile-person-details"},
                      {"$ref": f"{XDM}/profile-personal-details"}],
            "meta:class": f"{XDM}/profile"}
    sid = api.req("POST", f"{SR}/tenant/schemas", json=body).json()["$id"]
    r = api.mapping_set(sid, [{"destinationXdmPath": d, "sourceAttribute": s, "identity": False, "version": 0}
                              for s, d in (("NAME", "person.name.fullName"), ("DOB", "_repo.createDate"),
                                           ("ID", "_id"))])
    assert r.status_code == 200, r.text


def test_seed_002_as_printed_maps_verified_twice_and_is_refused(api):
    schema_id, pairs = SEED_MAPPINGS["002"]
    # The seed's request repeats its 8th mapping (results.verified -> _extconndev.verified) at the end.
    r = api.mapping_set(schema_id, [attribute(s, d) for s, d in pairs] + [attribute("results.verified",
                                                                                    "_extconndev.verified")])
    detail = refusal(r)
    assert "mappings[34]" in detail and "mappings[7]" in detail


# ------------------------------------------------------------------ listing without start
def test_mapping_sets_list_with_limit_alone(api):
    for i in range(3):
        assert api.mapping_set(ACME_PROFILE, [attribute(f"c{i}", "_id")]).status_code == 200
    r = api.req("GET", f"{DP}/mappingSets", params={"limit": 2})  # aepp's getMappingSets(limit=2)
    assert r.status_code == 200, r.text
    page = r.json()
    assert len(page["data"]) == 2 and page["_page"]["limit"] == 2 and "next" in page["_links"]
    assert r.json()["data"] == api.req("GET", f"{DP}/mappingSets", params={"limit": 2, "start": 0}).json()["data"]
    r = api.req("GET", f"{DP}/mappingSets")  # limit stays required
    assert r.status_code == 400 and "limit" in r.json()["detail"]
