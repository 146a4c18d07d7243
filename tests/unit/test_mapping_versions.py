"""The mapping set version a flow uses, planned (ops/plan/mapping.py) and applied (Applier), against
in-memory AEP answers: a pin moves the flow to an existing version in place with no PUT and warns when
the spec's rules are not that version's; unpinned, rules some known version holds move the flow to it
and other rules are a new version; AEP's version numbers are read as hostile input."""

import copy

import pytest

from aepflow.aep import bodies
from aepflow.aep.live import Live
from aepflow.core.errors import SpecInvalid
from aepflow.ops.apply.changes import Applier
from aepflow.ops.plan import mapping as mapping_plan
from aepflow.ops.plan import model as plan_model
from aepflow.ops.plan.compare import compare
from aepflow.ops.plan.read import Inputs
from aepflow.spec.parse import parse_spec, resolve_source
from aepflow.store.records import Record
from local.examples import example

IDS = {"baseConnectionId": "b-1", "sourceConnectionId": "s-1", "schemaId": "https://ns.adobe.com/acme/schemas/x",
       "datasetId": "d-1", "targetConnectionId": "t-1", "mappingId": "m-1", "flowId": "f-1", "flowEtag": '"e1"',
       "flowSpecId": "14518937-270c-4525-bdec-c2ba7cce3860"}
EMAIL = {"source": "EMAIL", "destination": "personalEmail.address"}


def with_rules(raw: dict, *extra: dict, version: int | None = None) -> dict:
    out = copy.deepcopy(raw)
    out["mapping"] += list(extra)
    if version is not None:
        out["mappingVersion"] = version
    return out


def live_at(applied: dict, flow_version: int, read: tuple[int, dict] | None = None) -> Live:
    """AEP as provisioning left it, the flow mapping with `flow_version`; `read`: the set read at a
    version (what plan.read reads), with the rules of that spec."""
    spec = parse_spec(applied)
    resolved = resolve_source(spec)
    ids = {**IDS, "mappingVersion": flow_version}
    flow = bodies.flow(spec, flow_spec_id=IDS["flowSpecId"], ids=ids, with_copy=True)
    source = bodies.source_connection(spec, resolved, base_connection_id=ids["baseConnectionId"])
    base = bodies.base_connection(spec, resolved, auth_spec_name="ConnectionString", auth_params={})
    target = bodies.target_connection(spec, schema_id=ids["schemaId"], dataset_id=ids["datasetId"])
    live = Live(flow={**flow, "id": "f-1", "etag": '"e1"', "state": "enabled"},
                sourceConnection={**source, "id": "s-1"}, baseConnection={**base, "id": "b-1"},
                targetConnection={**target, "id": "t-1"})
    if read is not None:
        version, rules_of = read
        rules_spec = parse_spec(rules_of)
        body = bodies.mapping_set(rules_spec, resolve_source(rules_spec), schema_id=IDS["schemaId"], name="n")
        live.mappingSet = {"id": "m-1", "version": version, "mappings": body["mappings"]}
    return live


def planned(applied: dict, new: dict, live: Live, recorded: int) -> dict[str, plan_model.ResourcePlan]:
    applied_spec, new_spec = parse_spec(applied), parse_spec(new)
    resources = compare(new_spec, resolve_source(new_spec), applied=applied_spec,
                        applied_resolved=resolve_source(applied_spec), ids={**IDS, "mappingVersion": recorded},
                        live=live, now=1_700_000_000)
    return {r.kind: r for r in resources}


def moves(result: dict[str, plan_model.ResourcePlan]) -> list[tuple]:
    return [(c.field, c.old, c.new) for c in result["flow"].changes]


def test_a_pin_moves_the_flow_to_that_version_in_place_and_warns_when_the_rules_are_not_its():
    v0 = example("004")
    v1 = with_rules(v0, EMAIL)
    # Applied v1 (version 1); the spec keeps v1's rules and pins 0, whose rules are v0's.
    result = planned(v1, with_rules(v1, version=0), live_at(v1, 1, read=(0, v0)), recorded=1)
    assert moves(result) == [("mappingVersion", 1, 0)] and result["flow"].action == "update"
    assert result["flow"].changes[0].how == "PATCH /flows/{id} /transformations/{i}/params/mappingVersion"
    mapping_set = result["mappingSet"]
    assert mapping_set.action == "none" and not mapping_set.changes and "pinned to version 0" in mapping_set.note
    [warning] = mapping_set.warnings
    assert "do not match version 0" in warning and "3 rules -> 4 rules (+ EMAIL -> personalEmail.address)" in warning
    assert mapping_plan.target_version(result["flow"]) == 0
    # The spec's rules as version 0's: no warning; the flow already there: nothing to do.
    same = planned(v1, with_rules(v0, version=0), live_at(v1, 1, read=(0, v0)), recorded=1)
    assert moves(same) == [("mappingVersion", 1, 0)] and not same["mappingSet"].warnings
    there = planned(with_rules(v0, version=0), with_rules(v1, version=0), live_at(v0, 0, read=(0, v0)), recorded=0)
    assert there["flow"].action == "none" and there["mappingSet"].action == "none" and there["mappingSet"].warnings


def test_unpinned_the_rules_decide_a_known_version_or_a_new_one():
    v0 = example("004")
    v1 = with_rules(v0, EMAIL)
    # Pinned at 0 with v1's rules, then unpinned: version 0 (read, for the record's rules were pinned) is
    # not v1's rules: a new version; with v0's rules: nothing.
    pinned = with_rules(v1, version=0)
    result = planned(pinned, v1, live_at(pinned, 0, read=(0, v0)), recorded=0)
    assert result["mappingSet"].action == "update" and moves(result) == [("mappingVersion", 0, "(the new version)")]
    assert mapping_plan.target_version(result["flow"]) is None  # the PUT's answer says which
    unchanged = planned(pinned, v0, live_at(pinned, 0, read=(0, v0)), recorded=0)
    assert unchanged["mappingSet"].action == "none" and unchanged["flow"].action == "none"
    # Moved in the UI from version 1 back to 0, the spec unchanged (v1's rules): the flow goes back to 1,
    # with no new version.
    moved = planned(v1, v1, live_at(v1, 0, read=(0, v0)), recorded=1)
    assert moves(moved) == [("mappingVersion", 0, 1)] and moved["mappingSet"].action == "none"


class FakeAep:
    """The AEP calls an Applier makes, answered as AEP does; every call kept."""

    def __init__(self):
        self.calls: list[tuple] = []

    def request(self, method, service, path, **kw):
        self.calls.append((method, path, kw.get("json")))
        return {"id": "m-1", "version": 2}

    def get(self, service, path, params=None):
        self.calls.append(("GET", path, params))
        return {"id": "m-1", "name": "aepflow:x:mapping:abc", "version": 1}

    def patch(self, service, path, json=None, headers=None):
        self.calls.append(("PATCH", path, json))
        return {"id": "f-1", "etag": '"e2"'}

    def post(self, service, path, **kw):
        self.calls.append(("POST", path, kw.get("params")))
        return {"etag": '"e3"'}


def applied_with(applied: dict, new: dict, live: Live, recorded: int) -> tuple[Applier, FakeAep]:
    applied_spec, new_spec = parse_spec(applied), parse_spec(new)
    ids = {**IDS, "mappingVersion": recorded}
    plan = plan_model.Plan("x", None, compare(new_spec, resolve_source(new_spec), applied=applied_spec,
                                              applied_resolved=resolve_source(applied_spec), ids=ids, live=live,
                                              now=1_700_000_000))
    record = Record(name="x", item={}, spec=applied, ids=ids)
    aep = FakeAep()
    applier = Applier(Inputs(new_spec, resolve_source(new_spec), record, applied=applied_spec, live=live), plan, aep)
    applier.run()
    return applier, aep


def test_the_apply_moves_the_flow_to_a_pinned_version_with_one_patch_and_no_put():
    v0 = example("004")
    v1 = with_rules(v0, EMAIL)
    applier, aep = applied_with(v1, with_rules(v1, version=0), live_at(v1, 1, read=(0, v0)), recorded=1)
    assert aep.calls == [("PATCH", "/flows/f-1", [
        {"op": "replace", "path": "/transformations/1/params/mappingVersion", "value": "0"}])]
    assert applier.ids["mappingVersion"] == 0 and applier.changed == ["flow.mappingVersion"]
    # A flow moved in the UI goes back to the recorded version the same way.
    applier, aep = applied_with(v1, v1, live_at(v1, 0, read=(0, v0)), recorded=1)
    assert [c[0] for c in aep.calls] == ["PATCH"] and aep.calls[0][2][0]["value"] == "1"
    assert applier.ids["mappingVersion"] == 1
    # New rules: a PUT, and the flow moves to the version it answers.
    applier, aep = applied_with(v1, with_rules(v1, {"source": "PHONE", "destination": "mobilePhone.number"}),
                                live_at(v1, 1), recorded=1)
    assert [c[:2] for c in aep.calls] == [("GET", "/mappingSets/m-1"), ("PUT", "/mappingSets/m-1"),
                                          ("PATCH", "/flows/f-1")]
    assert aep.calls[1][2]["name"] == "aepflow:x:mapping:abc"  # a new version keeps the set's name
    assert aep.calls[2][2][-1]["value"] == "2" and applier.ids["mappingVersion"] == 2


@pytest.mark.parametrize("raw, number", [
    (0, 0), (3, 3), ("1", 1), (" 2 ", 2), ("2147483647", 2**31 - 1), ("2147483648", None), (-1, None), ("-1", None),
    (True, None), ("1e3", None), ("\u0663", None), ("", None), (None, None), (1.0, None), ([1], None)])
def test_aeps_version_numbers_are_read_as_hostile_input(raw, number):
    assert mapping_plan.version_number(raw) == number


def test_a_pin_is_an_int_of_zero_or_more():
    spec = example("004")
    assert parse_spec(dict(spec, mappingVersion=3)).mappingVersion == 3
    for bad in (-1, "1", 1.5, True, 2**31):
        with pytest.raises(SpecInvalid) as refused:
            parse_spec(dict(spec, mappingVersion=bad))
        assert any(p["path"] == "mappingVersion" for p in refused.value.problems), bad
