import copy

import pytest

from local.aep_contract import Contract

FS = "/data/foundation/flowservice"
HEADERS = {
    "Authorization": "Bearer t",
    "x-api-key": "k",
    "x-gw-ims-org-id": "ORG@AdobeOrg",
    "x-sandbox-name": "prod",
    "Content-Type": "application/json",
}
# seed 000's POST /flows, with the field types flow-service.yaml declares
# (the seed itself sends startTime/backfill as strings and mappingVersion 0).
FLOW = {
    "name": "ACME Contact Dataflow",
    "description": "A dataflow for ACME contact data",
    "flowSpec": {"id": "14518937-270c-4525-bdec-c2ba7cce3860", "version": "1.0"},
    "sourceConnectionIds": ["b7581b59-c603-4df1-a689-d23d7ac440f3"],
    "targetConnectionIds": ["320f119a-5ac1-4ab1-88ea-eb19e674ea2e"],
    "transformations": [
        {"name": "Copy",
         "params": {"deltaColumn": {"name": "Datefield", "dateFormat": "YYYY-MM-DD", "timezone": "UTC"}}},
        {"name": "Mapping", "params": {"mappingId": "93ddfa69c4864d978832b1e5ef6ec3b9", "mappingVersion": "0"}},
    ],
    "scheduleParams": {"startTime": 1612310466, "frequency": "minute", "interval": "15", "backfill": True},
}


@pytest.fixture(scope="module")
def contract():
    return Contract.load()


def test_load_is_cached(contract):
    assert Contract.load() is contract


def test_seed_shaped_flow_passes(contract):
    assert contract.validate_request("POST", FS + "/flows", {}, HEADERS, FLOW) == []


def test_interval_is_a_string_in_the_spec(contract):
    body = copy.deepcopy(FLOW)
    body["scheduleParams"]["interval"] = 15
    problems = contract.validate_request("POST", FS + "/flows", {}, HEADERS, body)
    assert any("interval" in p for p in problems)


def test_mapping_version_is_a_string_in_the_spec(contract):
    body = copy.deepcopy(FLOW)
    body["transformations"][1]["params"]["mappingVersion"] = 0
    problems = contract.validate_request("POST", FS + "/flows", {}, HEADERS, body)
    assert any("mappingVersion" in p for p in problems)


def test_missing_flowspec_fails(contract):
    body = copy.deepcopy(FLOW)
    del body["flowSpec"]
    problems = contract.validate_request("POST", FS + "/flows", {}, HEADERS, body)
    assert any("flowSpec" in p for p in problems)


def test_undefined_path_and_method(contract):
    assert contract.find_operation("GET", FS + "/nothing") is None
    assert contract.validate_request("GET", FS + "/nothing", {}, HEADERS, None)
    # the spec has no DELETE for mapping sets
    assert contract.find_operation("DELETE", "/data/foundation/conversion/mappingSets/abc") is None


def test_path_matching(contract):
    assert contract.find_operation("GET", FS + "/flows/abc").template == "/flows/{FLOW_ID}"
    assert contract.find_operation("POST", FS + "/flows/search").template == "/flows/search"
    # the spec writes PATCH/DELETE on /connections/{id}/ with a trailing slash
    assert contract.find_operation("PATCH", FS + "/connections/abc").template == "/connections/{BASE_CONNECTION_ID}/"
    assert contract.find_operation("DELETE", FS + "/connections/abc/") is not None
    op = contract.find_operation("GET", "/data/foundation/schemaregistry/tenant/schemas/x")
    assert op.template == "/{CONTAINER_ID}/schemas/{SCHEMA_ID}"


def test_required_headers_case_insensitive(contract):
    h = {k.upper(): v for k, v in HEADERS.items()}
    assert contract.validate_request("GET", FS + "/flows", {}, h, None) == []
    h.pop("AUTHORIZATION")
    assert contract.validate_request("GET", FS + "/flows", {}, h, None) == ["missing required header Authorization"]


def test_patch_requires_if_match(contract):
    patch = [{"op": "replace", "path": "/name", "value": "n"}]
    assert "missing required header if-match" in contract.validate_request("PATCH", FS + "/flows/x", {}, HEADERS, patch)
    assert contract.validate_request("PATCH", FS + "/flows/x", {}, {**HEADERS, "If-Match": '"e"'}, patch) == []
    bad = [{"op": "move", "path": "/name", "value": "n"}]
    assert contract.validate_request("PATCH", FS + "/flows/x", {}, {**HEADERS, "If-Match": '"e"'}, bad)


def test_data_prep_limit_required_start_excused_for_aepp(contract):
    # data-prep.yaml marks both required; aepp's getMappingSets sends `limit` alone and works
    # against AEP, so `start` alone is excused (aep_contract._DOCUMENTED_OPTIONAL_QUERY).
    problems = contract.validate_request("GET", "/data/foundation/conversion/mappingSets", {"name": "x"}, HEADERS, None)
    assert problems == ["missing required query parameter limit"]
    assert contract.validate_request("GET", "/data/foundation/conversion/mappingSets",
                                     {"limit": "2"}, HEADERS, None) == []
    assert contract.validate_request("GET", "/data/foundation/conversion/mappingSets",
                                     {"limit": "10", "start": "0"}, HEADERS, None) == []


def test_schema_registry_swagger2_body(contract):
    body = {"type": "object", "title": "T", "description": "d",
            "allOf": [{"$ref": "https://ns.adobe.com/xdm/context/profile"}]}
    assert contract.validate_request("POST", "/data/foundation/schemaregistry/tenant/schemas", {}, HEADERS, body) == []
    del body["description"]  # createSchema requires it
    assert contract.validate_request("POST", "/data/foundation/schemaregistry/tenant/schemas", {}, HEADERS, body)


def test_catalog_dataset_body(contract):
    body = {"name": "d", "schemaRef": {"id": "https://ns.adobe.com/acme/schemas/x",
                                       "contentType": "application/vnd.adobe.xed-full-notext+json; version=1"},
            "tags": {"unifiedProfile": ["enabled:true"]}}
    assert contract.validate_request("POST", "/data/foundation/catalog/dataSets", {}, HEADERS, body) == []
    body["tags"] = {"unifiedProfile": "enabled:true"}
    assert contract.validate_request("POST", "/data/foundation/catalog/dataSets", {}, HEADERS, body)
