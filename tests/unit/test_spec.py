"""The dataflow spec v1: every example parses; a bad spec lists every problem by path."""

from pathlib import Path

import pytest
import yaml

from aepflow.core.errors import SpecInvalid
from aepflow.spec.parse import parse_spec, resolve_source

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.yaml"))


def _example(name: str) -> dict:
    return yaml.safe_load(next(p for p in EXAMPLES if name in p.name).read_text())


def _problems(raw) -> dict[str, str]:
    with pytest.raises(SpecInvalid) as caught:
        parse_spec(raw)
    return {p["path"]: p["message"] for p in caught.value.problems}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_is_a_valid_spec(path):
    spec = parse_spec(yaml.safe_load(path.read_text()))
    resolved = resolve_source(spec)
    assert resolved.connectionSpecId and resolved.flowSpecName in ("CRMToAEP", "RestStorageToAEP", "CloudStorageToAEP")


def test_examples_cover_every_seed_source():
    connectors = {resolve_source(parse_spec(yaml.safe_load(p.read_text()))).connector for p in EXAMPLES}
    assert connectors == {"salesforce", "zendesk", "mixpanel", "oracle", "s3"}


def test_bad_spec_lists_every_problem_by_field_path():
    raw = _example("001")
    del raw["target"]["dataset"]                      # a missing required field
    raw["source"]["connector"] = "hubspotish"         # an unknown connector
    raw["schedule"] = {"frequency": "minute", "interval": 10, "startTime": 1612310466}
    del raw["source"]["credentialsSecret"]            # neither baseConnectionId nor credentialsSecret
    problems = _problems(raw)
    assert problems["target.dataset"] == "Field required"
    assert "unknown connector 'hubspotish'" in problems["source.connector"]
    assert "at least 15" in problems["schedule.interval"]
    assert "baseConnectionId" in problems["source"] and "credentialsSecret" in problems["source"]
    assert len(problems) == 4


@pytest.mark.parametrize("schedule, path, words", [
    ({"frequency": "once", "interval": 1, "startTime": 1}, "schedule.interval", "not allowed"),
    ({"frequency": "once", "backfill": True, "startTime": 1}, "schedule.backfill", "not allowed"),
    ({"frequency": "hour", "startTime": 1}, "schedule.interval", "required"),
    ({"frequency": "day", "interval": 0, "startTime": 1}, "schedule.interval", "at least 1"),
    ({"frequency": "minute", "interval": 15, "startTime": 1612310466000}, "schedule.startTime", "seconds"),
    ({"frequency": "yearly", "interval": 1, "startTime": 1}, "schedule.frequency", "once"),
])
def test_schedule_rules_match_the_flow_specs_schedule_spec(schedule, path, words):
    raw = _example("000")
    raw["schedule"] = schedule
    assert words in _problems(raw)[path]


def test_catalog_rules_need_table_params_and_delta_column():
    raw = _example("001")
    del raw["source"]["table"], raw["deltaColumn"]
    problems = _problems(raw)
    assert "tableName" in problems["source.table"] and "deltaColumn" in problems["deltaColumn"]
    mixpanel = _example("003")
    del mixpanel["source"]["params"]["projectId"]
    assert "projectId" in _problems(mixpanel)["source.params.projectId"]


def test_unknown_fields_are_refused_not_ignored():
    raw = _example("002")
    raw["source"]["tabel"] = "users"
    assert "source.tabel" in _problems(raw)


def test_a_raw_connection_spec_id_needs_a_format():
    raw = _example("001")
    raw["source"] = {"connectionSpecId": "4c10e202-c428-4796-9208-5f1f5732b1cf", "baseConnectionId":
                     "6990abad-977d-41b9-a85d-17ea8cf1c0e4"}
    assert "required" in _problems(raw)["source.format"]


def test_seed_002s_beta_zendesk_id_is_refused_naming_the_documented_one():
    raw = _example("002")
    raw["source"] = {"connectionSpecId": "2526ee57-0af4-46ea-a477-720a53108145",
                     "credentialsSecret": "aep/sources/acme-zendesk"}
    message = _problems(raw)["source.connectionSpecId"]
    assert "beta" in message and "0a27232b-2c6e-4396-b8c6-c9fc24e37ba4" in message


def test_auth_spec_name_must_be_one_the_connector_documents():
    raw = _example("004")
    raw["source"]["authSpecName"] = "Connection String Based Authentication"  # Oracle's is "ConnectionString"
    assert "'ConnectionString'" in _problems(raw)["source.authSpecName"]
    raw["source"]["authSpecName"] = "ConnectionString"
    assert resolve_source(parse_spec(raw)).authSpecName == "ConnectionString"


def test_a_known_connection_spec_id_resolves_to_its_catalog_connector():
    raw = _example("004")
    raw["source"] = {"connectionSpecId": "3416976c-a9ca-4bba-901a-1f08f66978ff", "table": "ADMIN.E2E",
                     "credentialsSecret": "aep/sources/acme-redshift"}
    resolved = resolve_source(parse_spec(raw))
    assert (resolved.connector, resolved.flowSpecName, resolved.tabular) == ("redshift", "CRMToAEP", True)


def test_the_rest_flow_spec_is_read_by_its_fixed_id_and_deprecated_connectors_warn():
    assert resolve_source(parse_spec(_example("003"))).flowSpecId == "6499120c-0b15-42dc-936e-847ea3c24d72"
    raw = _example("004")
    raw["source"]["connector"] = "phoenix"
    [warning] = resolve_source(parse_spec(raw)).warnings
    assert warning["path"] == "source.connector" and "deprecated" in warning["message"]


def test_identity_rules():
    raw = _example("004")
    raw["target"]["dataset"]["create"]["profileEnabled"] = True
    assert "primary identity" in _problems(raw)["(spec)"]
    raw["mapping"][2].update(identity=True, primary=True)  # ID -> _id, but no namespace
    assert "namespaceCode" in _problems(raw)["mapping[2]"]
    raw["mapping"][2]["namespaceCode"] = "CRMID"
    spec = parse_spec(raw)
    assert spec.mapping[2].primary and spec.mapping[2].namespaceCode == "CRMID"
    raw["mapping"][0].update(identity=True, primary=True, namespaceCode="Email")
    assert "2 primary identities" in _problems(raw)["(spec)"]
    lone = _example("003")
    lone["mapping"][0]["namespaceCode"] = "Email"
    assert "identity: true" in _problems(lone)["mapping[0]"]


def test_flow_options_are_typed_as_the_option_spec_defines_them():
    raw = _example("000")
    raw["options"] = {"errorDiagnosticsEnabled": True, "partialIngestionPercent": 5}
    assert parse_spec(raw).options.partialIngestionPercent == 5
    raw["options"] = {"partialIngestionPercent": 0, "retries": 3}
    problems = _problems(raw)
    assert "greater than 0" in problems["options.partialIngestionPercent"] and "options.retries" in problems
