"""The plan's and the apply's pure parts, against in-memory AEP resources: what each spec change
becomes (update in place with the call, replace with the reason, none), the JSON Patch sent,
JSON Merge Patch, startTime rules, deterministic execution names, what PATCH refuses up front."""

import copy

import pytest

from aepflow.aep import bodies
from aepflow.aep.live import Live
from aepflow.ops import start
from aepflow.ops.apply import changes as apply_changes
from aepflow.ops.apply import patch as apply_patch
from aepflow.ops.plan import compare as plan_compare
from aepflow.ops.plan import model as plan_model
from aepflow.ops.plan import render as plan_render
from aepflow.spec.digest import spec_hash
from aepflow.spec.parse import parse_spec, resolve_source
from local.examples import example

IDS = {"baseConnectionId": "b-1", "sourceConnectionId": "s-1", "schemaId": "https://ns.adobe.com/acme/schemas/x",
       "datasetId": "d-1", "targetConnectionId": "t-1", "mappingId": "m-1", "flowId": "f-1", "flowEtag": '"e1"',
       "flowSpecId": "14518937-270c-4525-bdec-c2ba7cce3860"}
NOW = 1_700_000_000


def ids_of(raw: dict) -> dict:
    """The record's ids for a dataflow provisioned from `raw`: what it references, or IDS."""
    ids = dict(IDS)
    ids["baseConnectionId"] = raw["source"].get("baseConnectionId") or ids["baseConnectionId"]
    ids["schemaId"] = raw["target"]["schema"].get("id") or ids["schemaId"]
    ids["datasetId"] = raw["target"]["dataset"].get("id") or ids["datasetId"]
    return ids


def live_of(raw: dict) -> Live:
    """What AEP answers for a dataflow aepflow provisioned from `raw`: the bodies provisioning sends
    (bodies.py), with the ids and etags AEP adds."""
    spec = parse_spec(raw)
    resolved = resolve_source(spec)
    ids = ids_of(raw)
    flow = bodies.flow(spec, flow_spec_id=IDS["flowSpecId"], ids={**ids, "mappingVersion": 0}, with_copy=True)
    source = bodies.source_connection(spec, resolved, base_connection_id=ids["baseConnectionId"])
    base = bodies.base_connection(spec, resolved, auth_spec_name="ConnectionString", auth_params={}) \
        if bodies.creates_base_connection(spec) else None
    target = bodies.target_connection(spec, schema_id=ids["schemaId"], dataset_id=ids["datasetId"])
    mapping_body = bodies.mapping_set(spec, resolved, schema_id=IDS["schemaId"], name="n")
    return Live(
        flow={**flow, "id": "f-1", "etag": '"e1"', "state": bodies.flow_state(spec)},
        sourceConnection={**source, "id": "s-1", "etag": '"s1"'},
        baseConnection=None if base is None else {**base, "id": "b-1", "etag": '"b1"'},
        targetConnection={**target, "id": "t-1", "etag": '"t1"'},
        mappingSet={"id": "m-1", "version": 0, "mappings": mapping_body["mappings"]})


def planned(applied: dict, new: dict, live: Live | None = None, **kw) -> dict[str, plan_model.ResourcePlan]:
    applied_spec, new_spec = parse_spec(applied), parse_spec(new)
    resources = plan_compare.compare(new_spec, resolve_source(new_spec), applied=applied_spec,
                             applied_resolved=resolve_source(applied_spec), ids=ids_of(applied),
                             live=live or live_of(applied), now=NOW, **kw)
    return {r.kind: r for r in resources}


def test_the_spec_aepflow_applied_plans_no_change():
    for prefix in ("000", "002", "004"):
        spec = example(prefix)
        assert {k: r.action for k, r in planned(spec, spec).items()} == dict.fromkeys(
            plan_model.KINDS, "none"), prefix


def test_a_schedule_change_is_an_update_of_the_flow_in_place_with_its_patch():
    v1 = example("004")
    v2 = copy.deepcopy(v1)
    v2["schedule"].update(frequency="hour", interval=2)
    del v2["schedule"]["backfill"]
    result = planned(v1, v2)
    flow = result["flow"]
    assert flow.action == "update" and all(r.action == "none" for k, r in result.items() if k != "flow")
    assert {c.field: (c.old, c.new) for c in flow.changes} == {
        "scheduleParams.frequency": ("minute", "hour"), "scheduleParams.interval": ("15", "2"),
        "scheduleParams.backfill": (True, None)}
    assert all(c.how.startswith("PATCH /flows/{id} /scheduleParams/") for c in flow.changes)
    assert apply_changes.json_patch(flow.changes, apply_changes.FLOW_FIELDS) == [
        {"op": "replace", "path": "/scheduleParams/frequency", "value": "hour"},
        {"op": "replace", "path": "/scheduleParams/interval", "value": "2"},
        {"op": "remove", "path": "/scheduleParams/backfill"}]


def test_a_mapping_change_is_a_new_version_of_the_mapping_set_and_the_flow_moves_to_it():
    v1 = example("004")
    v2 = copy.deepcopy(v1)
    v2["mapping"].append({"source": "EMAIL", "destination": "personalEmail.address"})
    result = planned(v1, v2)
    assert result["mappingSet"].action == "update"
    assert result["mappingSet"].changes[0].how == "PUT /mappingSets/{id} (a new version)"
    assert [c.field for c in result["flow"].changes] == ["mappingVersion"]
    text = plan_render.table([plan_model.Plan("x", None, list(result.values())).to_dict()])
    assert "mappings: 3 rules -> 4 rules (+ EMAIL -> personalEmail.address)" in text


def test_a_source_table_change_is_a_replace_of_the_source_connection_and_the_flow_and_says_why():
    v1 = example("004")
    v2 = copy.deepcopy(v1)
    v2["source"]["table"] = "ADMIN.OTHER"
    result = planned(v1, v2)
    source, flow = result["sourceConnection"], result["flow"]
    assert source.action == "replace" and [(c.field, c.old, c.new) for c in source.changes] == [
        ("params.path", "ADMIN.E2E", "ADMIN.OTHER")]
    assert "filter.md" in source.reasons[0]
    assert flow.action == "replace" and flow.reasons == ["its sourceConnection is replaced"]
    assert result["baseConnection"].action == result["targetConnection"].action == "none"
    problems = apply_changes.replacement_problems(plan_model.Plan("x", None, list(result.values())))
    assert [p["path"] for p in problems] == ["source"]


def test_a_start_time_that_has_passed_cannot_move_aeps_1366():
    v1 = example("004")
    for new, action in ((1500000000, "replace"), (4_000_000_000, "replace")):
        v2 = copy.deepcopy(v1)
        v2["schedule"]["startTime"] = new
        assert planned(v1, v2)["flow"].action == action
    future = copy.deepcopy(v1)
    future["schedule"]["startTime"] = 4_000_000_000
    later = copy.deepcopy(future)
    later["schedule"]["startTime"] = 4_100_000_000
    flow = planned(future, later)["flow"]
    assert flow.action == "update" and flow.changes[0].field == "scheduleParams.startTime"
    problems = apply_changes.replacement_problems(plan_model.Plan("x", None, list(planned(v1, dict(v1, schedule=dict(
        v1["schedule"], startTime=1500000000))).values())))
    assert problems == [{"path": "schedule.startTime", "message": problems[0]["message"]}]
    assert "1366" in problems[0]["message"]


def test_new_credentials_are_an_update_of_the_base_connection_in_place():
    spec = example("004")
    result = planned(spec, spec, credentials={"secret": "aep/sources/acme-oracle", "version": "v2"},
                     applied_credentials={"secret": "aep/sources/acme-oracle", "version": "v1"})
    base = result["baseConnection"]
    assert base.action == "update" and base.changes[0].field == "credentials"
    assert base.changes[0].how == "PATCH /connections/{id} /auth/params"
    assert [k for k, r in result.items() if r.action != "none"] == ["baseConnection"]
    # The same version AEP has: nothing to send.
    same = planned(spec, spec, credentials={"secret": "aep/sources/acme-oracle", "version": "v1"},
                   applied_credentials={"secret": "aep/sources/acme-oracle", "version": "v1"})
    assert same["baseConnection"].action == "none"


def test_a_flow_disabled_or_renamed_behind_aepflows_back_is_planned_back_and_a_deleted_one_created():
    spec = example("004")
    live = live_of(spec)
    live.flow.update(state="disabled", name="renamed in the UI")
    flow = planned(spec, spec, live)["flow"]
    assert flow.action == "update" and {c.field for c in flow.changes} == {"state", "name"}
    live.flow = None
    live.missing.add("flow")
    assert planned(spec, spec, live)["flow"].action == "create"


def test_changing_the_dataset_replaces_the_target_connection_and_the_flow():
    v1 = example("004")
    v2 = copy.deepcopy(v1)
    v2["target"]["dataset"] = {"id": "5c8c3c555033b814b69f947f"}
    result = planned(v1, v2)
    assert result["dataset"].action == "none" and result["dataset"].changes[0].new == "5c8c3c555033b814b69f947f"
    assert result["targetConnection"].action == "replace" and result["flow"].action == "replace"


def test_alerts_on_drift_and_on_failure_change_only_the_record():
    v1 = example("004")
    policy = {"retry": {"attempts": 2, "afterMinutes": 15, "codes": ["CONNECTOR-1001-500"]}}
    v2 = dict(copy.deepcopy(v1), alerts={"failedRecordsPercent": 5}, onDrift="revert", onFailure=policy)
    result = planned(v1, v2)
    changes = {c.field: c for c in result["record"].changes}
    assert result["record"].action == "update" and set(changes) == {"alerts", "onDrift", "onFailure"}
    assert changes["onFailure"].old is None and changes["onFailure"].new["retry"]["attempts"] == 2
    assert all(r.action == "none" for k, r in result.items() if k != "record")


def test_a_new_name_creates_everything_but_what_the_spec_references():
    actions = {r.kind: (r.action, r.id) for r in plan_compare.for_new(parse_spec(example("000")))}
    assert actions["baseConnection"] == ("none", "6990abad-977d-41b9-a85d-17ea8cf1c0e4")
    assert actions["schema"][0] == "none" and actions["dataset"] == ("create", None)
    assert actions["flow"] == ("create", None)


def test_the_table_says_each_change_and_reason():
    v1 = example("004")
    v2 = copy.deepcopy(v1)
    v2["source"]["table"] = "ADMIN.OTHER"
    text = plan_render.table([plan_model.Plan("acme-oracle-e2e", None, list(planned(v1, v2).values()),
                                              calls=5).to_dict()])
    assert "acme-oracle-e2e (default sandbox): replace  [5 AEP GET call(s)]" in text
    assert "params.path: ADMIN.E2E -> ADMIN.OTHER" in text and "because its sourceConnection is replaced" in text


# --- The doors' pure parts ---------------------------------------------------------------------------

def test_merge_patch_follows_rfc_7386():
    target = {"a": "b", "c": {"d": "e", "f": "g"}, "l": [1, 2]}
    assert apply_patch.merge_patch(target, {"a": "z", "c": {"f": None}, "l": [3]}) == {
        "a": "z", "c": {"d": "e"}, "l": [3]}
    assert apply_patch.merge_patch({"a": 1}, {"b": {"c": None}}) == {"a": 1, "b": {}}
    assert target["c"] == {"d": "e", "f": "g"}  # never mutated


def test_patch_refuses_up_front_what_never_changes_in_place():
    assert apply_patch.refused_fields({"schedule": {}, "description": "x", "mapping": [], "enabled": False,
                                 "options": {}, "alerts": {}, "onDrift": "revert", "onFailure": None,
                                 "source": {"credentialsSecret": "aep/sources/other"}}) == []
    refused = apply_patch.refused_fields({"source": {"table": "Lead"}, "target": {}, "name": "x"})
    assert [p["path"] for p in refused] == ["source", "target", "name"]
    assert "credentialsSecret" in refused[0]["message"] and "target connection" in refused[1]["message"]


def test_if_match_follows_rfc_9110():
    assert apply_patch.etag_matches('"a"', '"a"') and apply_patch.etag_matches('W/"a", "b"', '"a"')
    assert apply_patch.etag_matches("*", '"x"') and not apply_patch.etag_matches("*", None)
    assert not apply_patch.etag_matches('"b"', '"a"')


def test_execution_names_are_deterministic_short_and_change_with_content_or_generation():
    spec = example("004")
    digest = spec_hash(spec)
    assert start.execution_name("acme-oracle-e2e", digest) == start.execution_name("acme-oracle-e2e", digest)
    assert spec_hash(dict(spec, description="other")) != digest
    assert start.execution_name("a" * 64, digest, 12).endswith("-12")
    assert len(start.execution_name("a" * 64, digest, 12)) <= 80
    assert start.execution_name("x", digest, 1) != start.execution_name("x", digest, 0)


@pytest.mark.parametrize("old, new, passed", [
    (1612310466, 1612310466, False), (4_000_000_000, 1500000000, True), (1612310466, 4_000_000_000, True),
    (4_000_000_000, 4_100_000_000, False)])
def test_start_time_rule(old, new, passed):
    assert plan_compare.start_time_passed(old, new, NOW) is passed
