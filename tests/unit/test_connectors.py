"""The connector catalog: Adobe's documented connection specs, vendored with their pages, and
the auth spec a credentials secret satisfies."""

import json
from pathlib import Path

import pytest

from aepflow.spec import auth
from aepflow.spec.connectors import CONNECTORS, connection_spec_documents, crm_to_aep_source_connection_spec_ids

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = next((p / "reference" / "connection-specs" for p in (ROOT.parent / "shared", ROOT.parents[1] / "shared")
                  if (p / "reference" / "connection-specs").is_dir()), None)
SEED_004_DATABASES = {"postgresql", "mysql", "mariadb", "oracle", "sqlserver", "redshift", "bigquery",
                      "azure-synapse", "greenplum", "db2", "azure-table-storage", "azure-data-explorer", "hive",
                      "spark", "couchbase", "phoenix"}


def test_the_catalog_carries_every_seed_connector_with_cited_auth_specs():
    assert set(CONNECTORS) == {"salesforce", "dynamics", "zendesk", "mixpanel", "s3"} | SEED_004_DATABASES
    for connector in CONNECTORS.values():
        assert connector.auth_specs, connector.name
        for auth_spec in connector.auth_specs:
            assert auth_spec.documented_in and all(":" in page for page in auth_spec.documented_in), (
                connector.name, auth_spec.name)
            assert auth_spec.schema["type"] == "object" and set(auth_spec.required) <= set(auth_spec.params)
    assert {c.name for c in CONNECTORS.values() if c.deprecated} == {"couchbase", "phoenix"}
    # Couchbase, Phoenix and the generic CRM are in older documented CRMToAEP lists.
    assert {"1fe283f6-9bec-11ea-bb37-0242ac130002", "102706fb-a5cd-42ee-afe0-bc42f017ff43",
            "221c7626-58f6-4eec-8ee2-042b0226f03b"} <= set(crm_to_aep_source_connection_spec_ids())
    assert len(connection_spec_documents()) == len(CONNECTORS)
    # S3's two auth specs (s3.json): the keys, and Adobe's role on Experience Platform on AWS.
    s3 = CONNECTORS["s3"]
    assert (s3.family, [a.name for a in s3.auth_specs]) == ("file", ["Access Key", "IAMRole Based"])
    assert s3.auth_spec("Access Key").required == ["s3AccessKey", "s3SecretKey"]
    assert s3.auth_spec("IAMRole Based").required == ["bucketName"]


@pytest.mark.skipif(REFERENCE is None, reason="../shared/reference is not beside this checkout (CI has none)")
def test_the_vendored_files_are_what_the_reference_gives():
    from local.emulator import vendor_connection_specs as vendor

    files = vendor.rendered_files(REFERENCE)
    assert {p.name: p.read_text() == text for p, text in files.items()} == {p.name: True for p in files}


@pytest.mark.skipif(REFERENCE is None, reason="../shared/reference is not beside this checkout (CI has none)")
def test_every_auth_spec_adobe_documents_is_carried_with_its_params():
    for connector in CONNECTORS.values():
        doc = json.loads((REFERENCE / f"{connector.name}.json").read_text())
        bodies = doc.get("connectionRequest") or []
        bodies = [bodies] if isinstance(bodies, dict) else list(bodies)
        variants = doc.get("connectionRequestVariants") or []
        bodies += list(variants.values()) if isinstance(variants, dict) else list(variants)
        for body in bodies:
            if body["connectionSpec"]["id"] != connector.connection_spec_id:
                continue  # Adobe's page shows another connector's id (the file's notes say so)
            auth_spec = connector.auth_spec(body["auth"]["specName"])
            assert auth_spec is not None, (connector.name, body["auth"]["specName"])
            assert set(body["auth"]["params"]) <= set(auth_spec.params), (connector.name, auth_spec.name)


BIGQUERY = CONNECTORS["bigquery"]
BASIC = {"project": "p", "clientId": "c", "clientSecret": "s3cr3t-value", "refreshToken": "r3fresh-value"}


def test_without_a_name_the_first_auth_spec_the_secret_satisfies_is_chosen():
    assert auth.choose(BIGQUERY.auth_specs, BASIC, None, "BigQuery").spec.name == "Basic Authentication"
    service = {"projectId": "p", "keyFileContent": "a2V5"}
    assert auth.choose(BIGQUERY.auth_specs, service, None, "BigQuery").spec.name == "Service Authentication"
    choice = auth.choose(BIGQUERY.auth_specs, {**BASIC, "note": "x"}, None, "BigQuery")
    assert choice.unsent == ["note"] and "note" not in choice.params({**BASIC, "note": "x"})


def test_what_a_secret_lacks_is_named_for_every_auth_spec_and_no_value_is_quoted():
    lacking = {k: v for k, v in BASIC.items() if k != "refreshToken"}
    [problem] = auth.choose(BIGQUERY.auth_specs, lacking, None, "Google BigQuery").problems
    assert "'Basic Authentication' lacks refreshToken" in problem
    assert "'Service Authentication' lacks projectId, keyFileContent" in problem
    assert "s3cr3t" not in problem
    [named] = auth.choose(BIGQUERY.auth_specs, lacking, "Basic Authentication", "Google BigQuery").problems
    assert named == "lacks refreshToken for 'Basic Authentication'"
    mysql = CONNECTORS["mysql"]
    [bad] = auth.choose(mysql.auth_specs, {"connectionString": "not-a-conn-string-pw"},
                              "Connection String Based Authentication", "MySQL").problems
    assert bad.startswith("connectionString does not have the form AEP expects (like 'Server=")
    assert "not-a-conn-string" not in bad


def test_zendesk_needs_its_instance_as_subdomain_or_host():
    zendesk = CONNECTORS["zendesk"]
    assert auth.choose(zendesk.auth_specs, {"accessToken": "t", "host": "h"}, None, "Zendesk").spec
    [problem] = auth.choose(zendesk.auth_specs, {"accessToken": "t"}, None, "Zendesk").problems
    assert problem == "fits no auth spec of Zendesk: 'OAuth2 Refresh Code' needs one of subdomain, host"
