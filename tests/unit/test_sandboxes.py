"""One spec for every sandbox: a spec reads its sandbox's entry of `sandboxes` in place of its own values,
keeps the map for a promotion, reports a bad entry once at its own path; a promoted dataflow's name."""

import pytest

from aepflow.core.errors import SpecInvalid
from aepflow.ops.promote import target_name
from aepflow.spec import sandboxes
from aepflow.spec.parse import parse_spec
from local.examples import load_spec

SPEC = "examples/sandboxes/oracle-orders.yaml"


def test_a_spec_reads_its_sandboxs_entry_and_keeps_the_map():
    dev = parse_spec(load_spec(SPEC))
    assert (dev.sandbox, dev.source.credentialsSecret, dev.schedule.frequency) == (
        "dev", "aep/sources/acme-oracle-dev", "day")
    raw = load_spec(SPEC)
    raw["sandbox"] = "prod"
    prod = parse_spec(raw)
    assert (prod.source.credentialsSecret, prod.schedule.frequency, prod.alerts.failedRecordsPercent) == (
        "aep/sources/acme-oracle-prod", "hour", 0.5)
    assert set(prod.sandboxes) == {"dev", "prod"}
    raw["sandbox"] = "staging"  # no entry: the spec's own values
    assert parse_spec(raw).schedule.frequency == "day"


def test_an_entrys_account_replaces_the_specs_whatever_it_was():
    raw = load_spec(SPEC)
    raw["source"] = {**raw["source"], "credentialsSecret": None, "baseConnectionId": "6990abad-977d-41b9-a85d-"
                     "17ea8cf1c0e4"}
    raw["source"].pop("credentialsSecret")
    out = sandboxes.effective(raw)
    assert out["source"]["credentialsSecret"] == "aep/sources/acme-oracle-dev" and "baseConnectionId" not in out[
        "source"]
    assert raw["source"]["baseConnectionId"]  # a copy: the document itself is untouched


def test_a_bad_entry_is_said_once_at_its_path_and_not_merged():
    raw = load_spec(SPEC)
    raw["sandboxes"]["dev"]["schedule"] = {"frequency": "minute", "interval": 5, "startTime": 1}
    raw["sandboxes"]["qa-1"] = {"credentialsSecret": "aep/sources/a", "baseConnectionId":
                                "6990abad-977d-41b9-a85d-17ea8cf1c0e4"}
    raw["sandboxes"]["Not A Sandbox"] = {}
    with pytest.raises(SpecInvalid) as caught:
        parse_spec(raw)
    paths = [p["path"] for p in caught.value.problems]
    assert "sandboxes.dev.schedule.interval" in paths and "schedule.interval" not in paths
    assert "sandboxes.qa-1" in paths and any(p.startswith("sandboxes.Not A Sandbox") for p in paths), paths


@pytest.mark.parametrize(("name", "source", "target", "promoted"), [
    ("acme-orders", "dev", "prod", "acme-orders-prod"),
    ("acme-orders-dev", "dev", "prod", "acme-orders-prod"),
    ("acme-orders-dev", "qa", "prod", "acme-orders-dev-prod"),
])
def test_a_promoted_dataflow_is_named_for_its_sandbox(name, source, target, promoted):
    assert target_name(name, source, target) == promoted
