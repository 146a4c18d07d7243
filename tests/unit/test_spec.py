"""The dataflow spec v1: every example parses; a bad spec lists every problem by path."""

from pathlib import Path

import pytest
import yaml

from aepflow.errors import SpecInvalid
from aepflow.spec import parse_spec, resolve_source

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
    assert resolved.connectionSpecId and resolved.flowSpecName in ("CRMToAEP", "RestStorageToAEP")


def test_examples_cover_every_seed_source():
    connectors = {resolve_source(parse_spec(yaml.safe_load(p.read_text()))).connector for p in EXAMPLES}
    assert connectors == {"salesforce", "zendesk", "mixpanel", "oracle"}


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
    raw["source"] = {"connectionSpecId": "ecadc60c-7455-4d87-84dc-2a0e293d997b", "baseConnectionId":
                     "6990abad-977d-41b9-a85d-17ea8cf1c0e4"}
    assert "required" in _problems(raw)["source.format"]
