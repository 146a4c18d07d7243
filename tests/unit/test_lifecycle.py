"""The lifecycle's pure parts: JSON Merge Patch, what may change in place, startTime rules,
deterministic execution names, and the JSON Patch sent to AEP."""

import pytest

from aepflow import lifecycle
from aepflow.spec import parse_spec
from local.examples import example


def test_merge_patch_follows_rfc_7386():
    target = {"a": "b", "c": {"d": "e", "f": "g"}, "l": [1, 2]}
    assert lifecycle.merge_patch(target, {"a": "z", "c": {"f": None}, "l": [3]}) == {"a": "z", "c": {"d": "e"}, "l": [3]}
    assert lifecycle.merge_patch({"a": 1}, {"b": {"c": None}}) == {"a": 1, "b": {}}
    assert target["c"] == {"d": "e", "f": "g"}  # never mutated


def test_only_schedule_description_mapping_and_enabled_change_in_place():
    assert lifecycle.refused_fields({"schedule": {}, "description": "x", "mapping": [], "enabled": False}) == []
    refused = lifecycle.refused_fields({"source": {}, "target": {}, "name": "x"})
    assert [p["path"] for p in refused] == ["source", "target", "name"]
    assert "source connection" in refused[0]["message"] and "target connection" in refused[1]["message"]


@pytest.mark.parametrize("old, new, problem", [
    (1612310466, 1612310466, False),          # unchanged
    (4_000_000_000, 1500000000, True),        # the new one has passed
    (1612310466, 4_000_000_000, True),        # the old one has passed: AEP's 1366
    (4_000_000_000, 4_100_000_000, False),    # both ahead: allowed
])
def test_start_time_changes_follow_aeps_1366(old, new, problem):
    problems = lifecycle._start_time_problems({"schedule": {"startTime": old}}, {"schedule": {"startTime": new}},
                                              now=1_700_000_000)
    assert bool(problems) == problem
    assert all(p["path"] == "schedule.startTime" for p in problems)


def test_execution_names_are_deterministic_short_and_change_with_content_or_generation():
    spec = example("004")
    digest = lifecycle.spec_hash(spec)
    assert lifecycle.execution_name("acme-oracle-e2e", digest) == lifecycle.execution_name("acme-oracle-e2e", digest)
    changed = dict(spec, description="other")
    assert lifecycle.spec_hash(changed) != digest
    assert lifecycle.execution_name("a" * 64, digest, 12).endswith("-12")
    assert len(lifecycle.execution_name("a" * 64, digest, 12)) <= 80
    assert lifecycle.execution_name("x", digest, 1) != lifecycle.execution_name("x", digest, 0)


def test_schedule_description_and_mapping_become_one_json_patch():
    old = parse_spec(example("004"))
    new_raw = lifecycle.merge_patch(example("004"), {"schedule": {"frequency": "day", "interval": 1, "backfill": None},
                                                     "description": "nightly"})
    new = parse_spec(new_raw)
    flow = {"description": "collecting ADMIN.E2E", "scheduleParams": {"startTime": 1590523836, "frequency": "minute",
                                                                      "interval": "15", "backfill": True},
            "transformations": [{"name": "Copy", "params": {}}, {"name": "Mapping", "params": {"mappingId": "m",
                                                                                               "mappingVersion": "0"}}]}
    ops = lifecycle._flow_ops(old, new, flow, mapping_version=1)
    assert ops == [
        {"op": "remove", "path": "/scheduleParams/backfill"},
        {"op": "replace", "path": "/scheduleParams/frequency", "value": "day"},
        {"op": "replace", "path": "/scheduleParams/interval", "value": "1"},
        {"op": "replace", "path": "/description", "value": "nightly"},
        {"op": "replace", "path": "/transformations/1/params/mappingVersion", "value": "1"},
    ]
    assert lifecycle._flow_ops(old, old, flow, mapping_version=None) == []
