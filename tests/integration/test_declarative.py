"""Declarative all the way, on one local stack shared by the module: a plan makes GETs only and says
update, replace (and why) or none; PATCH applies in place with If-Match (a mapping is a new mapping
version); a rotated secret reaches AEP in one PATCH /connections; a change behind aepflow's back is
one drift alert; a hand-made flow is adopted with an empty plan; a run on demand is watched."""

import copy
import json

import boto3
import pytest
import yaml

from local import handmade
from local.examples import example, load_spec
from local.stack import LocalStack
from tests.signed_http import in_process as api

ONCE = "examples/on-demand/salesforce-accounts-once.yaml"


def variant(prefix: str, name: str) -> dict:
    """Example `prefix` under another name, with its own schema and dataset where it creates them."""
    spec = example(prefix)
    spec["name"] = name
    create = spec["target"]["schema"].get("create")
    if create:
        create["title"] = f"{create['title']} ({name})"
    if spec["target"]["dataset"].get("create"):
        spec["target"]["dataset"]["create"]["name"] = f"dataset of {name}"
    return spec


SPECS = {"schedule": variant("004", "acme-plan-schedule"), "mapping": variant("004", "acme-patch-mapping"),
         "rotate": variant("004", "acme-rotate"), "drift": variant("004", "acme-drift"),
         "pin": variant("004", "acme-pin-mapping"),
         "once": load_spec(ONCE)}
# The rotated dataflow has a secret of its own: a rotation reaches every dataflow using its secret.
ROTATED = "aep/sources/acme-rotate"
SPECS["rotate"]["source"]["credentialsSecret"] = ROTATED


@pytest.fixture(scope="module")
def stack():
    with LocalStack(secrets={ROTATED: {"connectionString": "Driver=Oracle;Host=db.acme.example;Password=first"}}) \
            as running:
        results = running.provision(list(SPECS.values()))
        assert [r["status"] for r in results] == ["ACTIVE"] * len(SPECS), results
        running.provisioned = {key: result for key, result in zip(SPECS, results, strict=True)}
        running.messages()
        yield running




def since(stack, mark):
    return [r for r in stack.emulator.records[mark:] if "/ims/" not in r["path"]]


def test_a_plan_makes_only_gets_and_says_update_or_replace_and_why(stack):
    spec = SPECS["schedule"]
    mark = len(stack.emulator.records)
    status, same = api(stack, "POST", "/dataflows?dryRun=true", spec)
    assert status == 200 and same["action"] == "none" and same["managed"] is True
    changed = copy.deepcopy(spec)
    changed["schedule"]["interval"] = 30
    status, update = api(stack, "POST", "/dataflows?dryRun=true", changed)
    assert status == 200 and update["action"] == "update"
    [flow] = [r for r in update["resources"] if r["kind"] == "flow"]
    assert flow["changes"] == [{"field": "scheduleParams.interval", "old": "15", "new": "30",
                                "how": "PATCH /flows/{id} /scheduleParams/interval"}]
    other_table = copy.deepcopy(spec)
    other_table["source"]["table"] = "ADMIN.OTHER"
    status, replace = api(stack, "POST", "/dataflows?dryRun=true", other_table)
    by_kind = {r["kind"]: r for r in replace["resources"]}
    assert replace["action"] == "replace"
    assert by_kind["sourceConnection"]["action"] == "replace"
    assert [(c["field"], c["old"], c["new"], c["how"]) for c in by_kind["sourceConnection"]["changes"]] == [
        ("params.path", "ADMIN.E2E", "ADMIN.OTHER", None)]
    assert "new source connection" in by_kind["sourceConnection"]["reasons"][0]
    assert by_kind["flow"]["action"] == "replace" and by_kind["baseConnection"]["action"] == "none"
    status, new = api(stack, "POST", "/dataflows?dryRun=true", dict(spec, name="acme-never-provisioned"))
    assert status == 200 and new["action"] == "create" and new["managed"] is False
    requests = since(stack, mark)
    assert requests and {r["method"] for r in requests} == {"GET"}
    # Nothing changed: the flow is the one provisioned, with its etag.
    flow_now = next(f for f in stack.emulator.dump_state()["flows"]
                    if f["id"] == stack.provisioned["schedule"]["flowId"])
    assert flow_now["etag"] == stack.provisioned["schedule"]["etag"]


def test_the_bucket_writes_a_plan_beside_a_spec_put_under_plans(stack):
    bucket = stack.buckets["SpecsBucket"]
    s3 = boto3.client("s3")
    changed = copy.deepcopy(SPECS["schedule"])
    changed["description"] = "planned from the bucket"
    s3.put_object(Bucket=bucket, Key="plans/oracle.yaml", Body=yaml.safe_dump(changed).encode())
    report = json.loads(s3.get_object(Bucket=bucket, Key="plans/oracle.yaml.plan.json")["Body"].read())
    assert report["action"] == "update" and report["key"] == "plans/oracle.yaml"
    fields = {(r["kind"], c["field"]) for r in report["resources"] for c in r["changes"]}
    assert fields == {("flow", "description"), ("sourceConnection", "description")}
    s3.put_object(Bucket=bucket, Key="plans/bad.yaml", Body=b"name: x\n")
    errors = json.loads(s3.get_object(Bucket=bucket, Key="plans/bad.yaml.errors.json")["Body"].read())
    assert errors["status"] == "INVALID" and errors["problems"]


def test_a_mapping_change_is_applied_in_place_as_a_new_mapping_version(stack):
    provisioned = stack.provisioned["mapping"]
    mapping = SPECS["mapping"]["mapping"] + [{"source": "EMAIL", "destination": "personalEmail.address"}]
    mark = len(stack.emulator.records)
    status, updated = api(stack, "PATCH", "/dataflows/acme-patch-mapping", {"mapping": mapping},
                          {"If-Match": provisioned["etag"]})
    assert status == 200, updated
    assert updated["changed"] == ["mapping"] and updated["ids"]["flowId"] == provisioned["flowId"]
    assert updated["ids"]["mappingVersion"] == 1 and updated["etag"] != provisioned["etag"]
    writes = [(r["method"], r["path"].rsplit("/", 2)[-2]) for r in since(stack, mark) if r["method"] != "GET"]
    assert writes == [("PUT", "mappingSets"), ("PATCH", "flows")]
    state = stack.emulator.dump_state()
    flow = next(f for f in state["flows"] if f["id"] == provisioned["flowId"])
    assert {"name": "Mapping", "params": {"mappingId": provisioned["mappingId"], "mappingVersion": "1"}} \
        in flow["transformations"]
    [mapping_set] = [m for m in state["mappingSets"] if m["id"] == provisioned["mappingId"]]
    assert mapping_set["version"] == 1 and len(mapping_set["mappings"]) == 4
    status, again = api(stack, "POST", "/dataflows?dryRun=true", updated["spec"])
    assert again["action"] == "none"


def test_a_pinned_mapping_version_moves_the_flow_back_in_place_and_a_version_the_set_lacks_is_refused(stack):
    """mappingVersion: 0 after a mapping change (version 1) is a roll-back: the same flow moves back to
    version 0 with one PATCH, no mapping set is written, and the plan says 1 -> 0 and warns that the spec's
    rules are not version 0's; version 7 is refused, naming it; unpinned, the rules make a new version."""
    import io

    from aepflow.doors.cli import render as cli_render
    from aepflow.ops.plan import read as plan_read
    from aepflow.ops.plan import render as plan_render
    from aepflow.store import records

    name, provisioned = "acme-pin-mapping", stack.provisioned["pin"]
    assert records.record(name).ids["mappingVersion"] == 0  # as created
    mapping = SPECS["pin"]["mapping"] + [{"source": "EMAIL", "destination": "personalEmail.address"}]
    status, changed = api(stack, "PATCH", f"/dataflows/{name}", {"mapping": mapping})
    assert status == 200 and changed["ids"]["mappingVersion"] == 1, changed
    mark = len(stack.emulator.records)
    status, plan = api(stack, "POST", "/dataflows?dryRun=true", dict(changed["spec"], mappingVersion=0))
    by_kind = {r["kind"]: r for r in plan["resources"]}
    assert status == 200 and plan["action"] == "update", plan
    assert [(c["field"], c["old"], c["new"]) for c in by_kind["flow"]["changes"]] == [("mappingVersion", 1, 0)]
    [warning] = by_kind["mappingSet"]["warnings"]
    assert by_kind["mappingSet"]["action"] == "none" and "do not match version 0" in warning
    assert "mappingVersion: 1 -> 0" in plan_render.table([plan])
    assert {r["method"] for r in since(stack, mark)} == {"GET"}

    mark = len(stack.emulator.records)
    status, pinned = api(stack, "PATCH", f"/dataflows/{name}", {"mappingVersion": 0}, {"If-Match": changed["etag"]})
    assert status == 200 and pinned["aepChanges"] == ["flow.mappingVersion"], pinned
    writes = [(r["method"], r["path"].rsplit("/", 2)[-2]) for r in since(stack, mark) if r["method"] != "GET"]
    assert writes == [("PATCH", "flows")]  # no POST or PUT /mappingSets: no new version, no new flow
    assert pinned["ids"]["flowId"] == provisioned["flowId"] and records.record(name).ids["mappingVersion"] == 0
    state = stack.emulator.dump_state()
    flow = next(f for f in state["flows"] if f["id"] == provisioned["flowId"])
    assert {"name": "Mapping", "params": {"mappingId": provisioned["mappingId"], "mappingVersion": "0"}} \
        in flow["transformations"]
    assert next(m for m in state["mappingSets"] if m["id"] == provisioned["mappingId"])["version"] == 1
    shown = io.StringIO()
    cli_render.dataflow(shown, api(stack, "GET", f"/dataflows/{name}")[1], False)
    assert f"{provisioned['mappingId']} version 0 (pinned by the spec's mappingVersion)" in shown.getvalue()
    assert api(stack, "POST", "/dataflows?dryRun=true", pinned["spec"])[1]["action"] == "none"

    mark = len(stack.emulator.records)
    status, refused = api(stack, "PATCH", f"/dataflows/{name}", {"mappingVersion": 7})
    assert status == 400 and refused["code"] == "SpecInvalid", refused
    [problem] = refused["problems"]
    assert problem["path"] == "mappingVersion" and "has no version 7" in problem["message"]
    assert "404" in problem["message"]
    many = plan_read.make_many([dict(pinned["spec"], mappingVersion=7), pinned["spec"]])  # `local plan` of many
    assert [p["action"] for p in many] == ["invalid", "none"] and many[0]["problems"][0]["path"] == "mappingVersion"
    assert {r["method"] for r in since(stack, mark)} == {"GET"}

    mark = len(stack.emulator.records)
    status, unpinned = api(stack, "PATCH", f"/dataflows/{name}", {"mappingVersion": None})
    assert status == 200 and unpinned["ids"]["mappingVersion"] == 2, unpinned  # the rules differ from version 0's
    writes = [(r["method"], r["path"].rsplit("/", 2)[-2]) for r in since(stack, mark) if r["method"] != "GET"]
    assert writes == [("PUT", "mappingSets"), ("PATCH", "flows")]
    # Through the state machine (POST /dataflows, the CLI's apply): the same roll-back in place.
    mark = len(stack.emulator.records)
    result, new = stack.provision([dict(unpinned["spec"], mappingVersion=1),
                                   dict(variant("004", "acme-pin-new"), mappingVersion=3)])
    # A new dataflow's mapping set has version 0 alone: a pin to 3 fails before the flow, naming it.
    assert new["status"] == "INVALID" and [e["path"] for e in new["errors"]] == ["mappingVersion"], new
    assert "has no version 3 (AEP answered 404)" in new["errors"][0]["message"]
    assert (result["action"], result["changed"], result["flowId"]) == ("update", ["flow.mappingVersion"],
                                                                       provisioned["flowId"]), result
    assert result["mappingVersion"] == 1 and records.record(name).ids["mappingVersion"] == 1
    assert not [r for r in since(stack, mark) if provisioned["mappingId"] in r["path"] and r["method"] != "GET"]
    assert not [f for f in stack.emulator.dump_state()["flows"] if f["name"] == "aepflow:acme-pin-new:dataflow"]


def test_two_patches_with_one_if_match_leave_aep_and_the_record_equal(stack):
    """Writes for one name are serialized by its claim, and the client's If-Match goes to AEP as it is:
    of two PATCHes sent at once with the ETag both read, one is applied and the other refused (409 or
    412, changing nothing), however they interleave; AEP and the record then say the same."""
    from concurrent.futures import ThreadPoolExecutor

    from aepflow.store import records

    name = "acme-plan-schedule"
    flow_id = stack.provisioned["schedule"]["flowId"]
    for attempt in range(4):
        status, view = api(stack, "GET", f"/dataflows/{name}")
        etag = view["flow"]["etag"]
        intervals = (31 + 2 * attempt, 32 + 2 * attempt)
        with ThreadPoolExecutor(max_workers=2) as pool:
            answers = list(pool.map(lambda n, etag=etag: api(stack, "PATCH", f"/dataflows/{name}",
                                                             {"schedule": {"interval": n}}, {"If-Match": etag}),
                                    intervals))
        statuses = sorted(a[0] for a in answers)
        assert statuses[0] == 200 and statuses[1] in (409, 412), answers
        refused = next(a[1] for a in answers if a[0] != 200)
        assert refused["code"] in ("ConcurrentUpdate", "PreconditionFailed") and etag not in refused["message"]
        flow = next(f for f in stack.emulator.dump_state()["flows"] if f["id"] == flow_id)
        recorded = records.record(name)
        assert flow["scheduleParams"]["interval"] == str(recorded.spec["schedule"]["interval"]), attempt
        assert flow["etag"] == recorded.ids["flowEtag"]
        assert recorded.spec["schedule"]["interval"] == next(
            n for a, n in zip(answers, intervals, strict=True) if a[0] == 200)
    # An If-Match that is not the flow's etag changes nothing, and the answer does not echo it.
    before = stack.emulator.dump_state()["flows"]
    status, refused = api(stack, "PATCH", f"/dataflows/{name}", {"description": "x"}, {"If-Match": '"stale-etag"'})
    assert status == 412 and refused["code"] == "PreconditionFailed" and "stale-etag" not in json.dumps(refused)
    assert stack.emulator.dump_state()["flows"] == before
    # AEP's own 412 (the flow changed behind aepflow between the check and the write) is the
    # client's answer, not retried after a new plan.
    status, view = api(stack, "GET", f"/dataflows/{name}")
    from unittest import mock

    from aepflow.ops.apply import changes as apply_changes
    real = apply_changes.Applier._flow

    def flow_changed_meanwhile(self, mapping_version):
        stack.emulator.ui_patch("flow", flow_id, [{"op": "replace", "path": "/description", "value": "by hand"}])
        return real(self, mapping_version)

    with mock.patch.object(apply_changes.Applier, "_flow", flow_changed_meanwhile):
        status, refused = api(stack, "PATCH", f"/dataflows/{name}", {"schedule": {"interval": 45}},
                              {"If-Match": view["flow"]["etag"]})
    assert status == 412 and refused["code"] == "PreconditionFailed", refused
    flow = next(f for f in stack.emulator.dump_state()["flows"] if f["id"] == flow_id)
    assert flow["scheduleParams"]["interval"] != "45" and flow["description"] == "by hand"
    assert records.record(name).spec["schedule"]["interval"] != 45
    # Without If-Match, aepflow writes with the etag it knows, re-reads on AEP's 412 and applies its plan
    # again: AEP matches the record once more (so the drift check of later tests sees nothing here).
    status, _ = api(stack, "PATCH", f"/dataflows/{name}", {"description": "after the race"})
    assert status == 200
    flow = next(f for f in stack.emulator.dump_state()["flows"] if f["id"] == flow_id)
    assert flow["description"] == "after the race"


def _secret_put(stack, secret: str, value: dict) -> str:
    sm = boto3.client("secretsmanager")
    answer = sm.put_secret_value(SecretId=secret, SecretString=json.dumps(value))
    boto3.client("events").put_events(Entries=[{
        "Source": "aws.secretsmanager", "DetailType": "AWS API Call via CloudTrail",
        "Detail": json.dumps({"eventSource": "secretsmanager.amazonaws.com", "eventName": "PutSecretValue",
                              "requestParameters": {"secretId": secret}, "responseElements": {"arn": answer["ARN"]}})}])
    return answer["VersionId"]


def test_a_rotated_secret_reaches_aep_in_one_patch_with_if_match_and_nothing_else_changes(stack):
    from aepflow.store import records
    provisioned = stack.provisioned["rotate"]
    connection = provisioned["baseConnectionId"]
    before = stack.emulator.dump_state()
    etag = next(c for c in before["connections"] if c["id"] == connection)["etag"]
    mark = len(stack.emulator.records)
    version = _secret_put(stack, ROTATED,
                          {"connectionString": "Driver=Oracle;Host=db.acme.example;Password=rotated-one"})
    requests = since(stack, mark)
    writes = [r for r in requests if r["method"] != "GET"]
    assert [(r["method"], r["path"]) for r in writes] == [
        ("PATCH", f"/data/foundation/flowservice/connections/{connection}")]
    assert writes[0]["headers"]["If-Match"] == etag and writes[0]["status"] == 200
    assert writes[0]["body"] == {"op": "replace", "path": "/auth/params", "value": {"connectionString": "***"}}
    assert any(r["path"].endswith(f"/connections/{connection}/test") for r in requests)
    after = stack.emulator.dump_state()
    for kind in ("flows", "sourceConnections", "targetConnections", "mappingSets"):
        assert after[kind] == before[kind], kind
    assert records.record("acme-rotate").credentials == {"secret": ROTATED, "version": version}
    assert not [m for m in stack.messages() if "credentials" in (m["Subject"] or "")]
    # The source refuses the next value: the test after the PATCH fails, and that is alerted.
    stack.emulator.set_connection_test(connection, False)
    _secret_put(stack, ROTATED, {"connectionString": "Driver=Oracle;Password=rotated-two"})
    alerts = [m for m in stack.messages() if "credentials" in (m["Subject"] or "")]
    assert [a["MessageAttributes"]["problem"] for a in alerts] == ["credentials"]
    assert records.record("acme-rotate").credentials["version"] == version  # still the one AEP accepted
    stack.emulator.set_connection_test(connection, True)


def _drift_check(stack):
    report, failed = stack.invoke("aepflow-local-DriftFunction", {"source": "aws.scheduler"})
    assert not failed, report
    return report


def test_a_flow_disabled_behind_aepflows_back_gets_exactly_one_drift_alert(stack):
    flow_id = stack.provisioned["drift"]["flowId"]
    stack.messages()
    stack.emulator.ui_action(flow_id, "DISABLE", user="jane.doe@acme.example")
    first, second = _drift_check(stack), _drift_check(stack)
    assert first["alerted"] == 1 and second["alerted"] == 0 and second["unchanged"] >= 1
    assert first["listCalls"] == {"flow": 1, "sourceConnection": 1, "baseConnection": 1, "targetConnection": 1}
    alerts = [m for m in stack.messages() if m["MessageAttributes"].get("problem") == "drift"]
    assert len(alerts) == 1 and alerts[0]["MessageAttributes"]["dataflow"] == "acme-drift"
    document = json.loads(alerts[0]["Message"])
    [difference] = document["alert"]["differences"]
    assert (difference["kind"], difference["field"], difference["old"], difference["new"]) == (
        "flow", "state", "enabled", "disabled")
    assert difference["changedBy"] == "jane.doe@acme.example" and difference["changedAt"]
    status, view = api(stack, "GET", "/dataflows/acme-drift")
    assert view["drift"]["differences"][0]["field"] == "state"
    # Another change is another alert; with onDrift: revert the spec is applied again.
    status, _ = api(stack, "PATCH", "/dataflows/acme-drift", {"onDrift": "revert", "enabled": False})
    assert status == 200
    stack.emulator.ui_patch("flow", flow_id, [{"op": "replace", "path": "/description", "value": "by hand"}])
    report = _drift_check(stack)
    assert report["alerted"] == 1 and report["reverted"] == 1
    flow = next(f for f in stack.emulator.dump_state()["flows"] if f["id"] == flow_id)
    assert flow["description"] == SPECS["drift"]["description"] and flow["state"] == "disabled"
    assert _drift_check(stack)["drifted"] == 0  # reverted: AEP matches the record again
    assert api(stack, "GET", "/dataflows/acme-drift")[1]["drift"] is None
    # A flow deleted in the UI cannot come back in place: the spec is provisioned again.
    stack.messages()
    stack.emulator.ui_delete_flow(flow_id)
    report = _drift_check(stack)
    assert report["alerted"] == 1 and report["reverted"] == 1
    [alert] = [m for m in stack.messages() if m["MessageAttributes"].get("problem") == "drift"]
    arn = json.loads(alert["Message"])["alert"]["revertNote"].split(": ", 1)[1]
    assert stack.wait(arn)["status"] == "SUCCEEDED"
    [flow] = [f for f in stack.emulator.dump_state()["flows"] if f["name"] == "aepflow:acme-drift:dataflow"]
    assert flow["id"] != flow_id and flow["state"] == "disabled"  # the spec's enabled: false
    assert _drift_check(stack)["drifted"] == 0


def test_a_flow_made_outside_aepflow_is_adopted_and_its_plan_is_empty(stack):
    made = handmade.make_flow(name="Contacts made by hand")
    mark = len(stack.emulator.records)
    status, adopted = api(stack, "POST", "/dataflows:adopt", {"flowId": made["flowId"]})
    assert status == 201, adopted
    assert adopted["name"] == "contacts-made-by-hand" and adopted["plan"]["action"] == "none"
    assert {r["method"] for r in since(stack, mark)} == {"GET"}
    assert yaml.safe_load(adopted["yaml"])["resources"]["flow"]["name"] == "Contacts made by hand"
    status, plan = api(stack, "POST", "/dataflows?dryRun=true", yaml.safe_load(adopted["yaml"]))
    assert status == 200 and plan["action"] == "none", plan
    status, view = api(stack, "GET", "/dataflows/contacts-made-by-hand")
    assert status == 200 and view["status"] == "ACTIVE" and view["ids"]["flowId"] == made["flowId"]
    status, again = api(stack, "POST", "/dataflows:adopt", {"flowId": made["flowId"], "name": "another-name"})
    assert status == 409 and again["code"] == "AlreadyManaged"
    status, missing = api(stack, "POST", "/dataflows:adopt", {"flowId": "00000000-0000-4000-8000-000000000000"})
    assert status == 404 and missing["code"] == "FlowNotFound"


def test_an_adopted_flow_keeps_the_mapping_version_it_maps_with(stack):
    from aepflow.aep.client import aep_client
    from aepflow.store import records

    made = handmade.make_flow(name="Contacts on mapping version 1")
    client = aep_client(None)
    path = f"/mappingSets/{made['mappingId']}"
    version_1 = client.get("conversion", path)
    version_1["mappings"] = version_1["mappings"][:1]  # _id alone
    assert client.request("PUT", "conversion", path, json={k: version_1[k] for k in (
        "name", "xdmSchema", "xdmVersion", "outputSchema", "mappings")})["version"] == 1
    flow = next(f for f in stack.emulator.dump_state()["flows"] if f["id"] == made["flowId"])
    index = next(i for i, t in enumerate(flow["transformations"]) if t["name"] == "Mapping")
    stack.emulator.ui_patch("flow", made["flowId"], [
        {"op": "replace", "path": f"/transformations/{index}/params/mappingVersion", "value": "1"}])
    status, adopted = api(stack, "POST", "/dataflows:adopt", {"flowId": made["flowId"]})
    assert status == 201 and adopted["plan"]["action"] == "none", adopted
    assert [rule["destination"] for rule in adopted["spec"]["mapping"]] == ["_id"]  # version 1's rules
    assert records.record(adopted["name"]).ids["mappingVersion"] == 1


def test_a_flow_aepflow_provisioned_has_one_owner_and_cannot_be_adopted_under_another_name(stack):
    flow_id = stack.provisioned["schedule"]["flowId"]
    before = stack.emulator.dump_state()
    for asked in (flow_id, flow_id.upper()):  # AEP's id, however it is written
        mark = len(stack.emulator.records)
        status, refused = api(stack, "POST", "/dataflows:adopt", {"flowId": asked, "name": "a-second-owner"})
        assert status == 409 and refused["code"] == "AlreadyManaged", refused
        assert "'acme-plan-schedule'" in refused["message"]
        assert {r["method"] for r in since(stack, mark)} <= {"GET"}
    assert api(stack, "GET", "/dataflows/a-second-owner")[0] == 404
    assert stack.emulator.dump_state()["flows"] == before["flows"]


def test_a_run_on_demand_is_started_over_a_window_and_watched_by_the_monitor(stack):
    provisioned = stack.provisioned["once"]
    stack.emulator.advance(seconds=0)  # the flow's one-time run from its schedule comes first
    stack.emulator.set_run_outcomes(provisioned["flowId"], ["failed"])
    stack.messages()
    status, started = api(stack, "POST", "/dataflows/acme-salesforce-accounts-once/runs",
                          {"windowStartTime": 1700000000, "windowEndTime": 1700086400})
    assert status == 202, started
    [post] = [r for r in stack.emulator.records if r["method"] == "POST" and r["path"].endswith("/flowservice/runs")]
    assert post["body"]["flowId"] == provisioned["flowId"]
    assert post["body"]["params"]["windowStartTime"] == 1700000000 and post["status"] == 201
    stack.emulator.advance(minutes=10)
    report = stack.run_monitor()
    assert report["alerts_sent"].get("failed") == 1
    [alert] = [m for m in stack.messages() if m["MessageAttributes"].get("runId") == started["runId"]]
    assert alert["MessageAttributes"]["problem"] == "failed"
    status, runs = api(stack, "GET", "/dataflows/acme-salesforce-accounts-once/runs")
    assert any(r["id"] == started["runId"] and r["problem"] == "failed" for r in runs["runs"])
    status, refused = api(stack, "POST", "/dataflows/acme-drift/runs")
    assert status == 409 and refused["code"] == "NotOneTime"
    status, refused = api(stack, "POST", "/dataflows/acme-salesforce-accounts-once/runs", {"windowStartTime": 5})
    assert status == 400


# --- Every door goes through the state machine's plan ------------------------------------------------

def test_the_cli_applies_versions_of_one_name_in_order_keeping_the_flow(stack, tmp_path):
    """`python -m local provision v1 v2 v3` (its own code, on this module's stack): a schedule change
    keeps the flow id and changes its etag; a mapping change makes a new mapping version; one
    dataflow, never two."""
    from local.__main__ import _provision_in_rounds, _read_spec

    v1 = variant("004", "acme-cli-versions")
    v2 = copy.deepcopy(v1)
    v2["schedule"].update(frequency="hour", interval=2)
    v3 = copy.deepcopy(v2)
    v3["mapping"].append({"source": "EMAIL", "destination": "personalEmail.address"})
    paths = []
    for i, spec in enumerate((v1, v2, v3)):
        paths.append(tmp_path / f"v{i + 1}.yaml")
        paths[-1].write_text(yaml.safe_dump(spec))
    first, second, third = _provision_in_rounds(stack, [_read_spec(str(p)) for p in paths])
    assert [r["action"] for r in (first, second, third)] == ["create", "update", "update"]
    assert first["flowId"] == second["flowId"] == third["flowId"]
    assert len({first["etag"], second["etag"], third["etag"]}) == 3
    assert second["changed"] == ["flow.scheduleParams.frequency", "flow.scheduleParams.interval"]
    assert third["mappingVersion"] == 1 and "mappingSet.mappings" in third["changed"]
    dumped = stack.emulator.dump_state()
    flows = [f for f in dumped["flows"] if f["name"] == "aepflow:acme-cli-versions:dataflow"]
    assert [f["scheduleParams"]["frequency"] for f in flows] == ["hour"]
    assert len([s for s in dumped["sourceConnections"] if s["name"].startswith("aepflow:acme-cli-versions:")]) == 1


def test_two_specs_started_at_once_under_one_name_make_one_dataflow_and_one_conflict(stack):
    """Direct StartExecutions, as the CLI makes them: the name's claim lets one provision."""
    first = variant("004", "acme-direct-race")
    second = copy.deepcopy(first)
    second["description"] = "another spec, started at the same moment"
    arns = [stack.start_provisioning(spec) for spec in (first, second)]
    results = [stack.wait(arn) for arn in arns]
    assert sorted(r["status"] for r in results) == ["FAILED", "SUCCEEDED"]
    from aepflow.store import journal
    [failed] = [arn for arn, r in zip(arns, results, strict=True) if r["status"] == "FAILED"]
    errors = json.loads(journal.get_outcome(failed)["errors"])
    # Refused by the name's claim: the other holds it, or won the conditional write at the same moment.
    assert errors[0]["code"] in ("ProvisioningInProgress", "DataflowExists") and errors[0]["step"] == "reserve-name"
    flows = [f for f in stack.emulator.dump_state()["flows"] if f["name"] == "aepflow:acme-direct-race:dataflow"]
    assert len(flows) == 1


def test_started_is_true_for_exactly_one_of_many_identical_posts(stack):
    import threading

    spec = variant("002", "acme-identical-posts")
    answers, gate = [], threading.Barrier(6)

    def post():
        gate.wait()
        answers.append(api(stack, "POST", "/dataflows", spec))

    threads = [threading.Thread(target=post) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [status for status, _ in answers] == [202] * 6
    assert len({body["executionArn"] for _, body in answers}) == 1
    assert sum(body["started"] for _, body in answers) == 1
    assert stack.wait(answers[0][1]["executionArn"])["status"] == "SUCCEEDED"


def test_the_local_commands_plan_adopt_and_run_through_their_own_code(stack):
    """`python -m local plan --current X X`, `adopt --hand-made` and `run` (local/declarative.py, on
    this module's stack): their imports of the layer are only made when they run, so only running
    them shows they still reach the operations they call."""
    import io

    from local import declarative

    spec = variant("004", "acme-local-commands")
    out = io.StringIO()
    assert declarative.plan(stack, [spec], [spec], out, as_json=True) == 0
    [planned] = [json.loads(line) for line in out.getvalue().splitlines()]
    assert planned["name"] == "acme-local-commands" and planned["action"] == "none"
    out, err = io.StringIO(), io.StringIO()
    assert declarative.adopt(stack, None, True, "acme-local-adopted", out, err) == 0
    assert yaml.safe_load(out.getvalue())["name"] == "acme-local-adopted" and ": none" in err.getvalue()
    once = load_spec(ONCE)
    out = io.StringIO()
    assert declarative.run(stack, once, [1700000000, 1700086400], "failed", out, as_json=True) == 0
    shown = json.loads(out.getvalue())
    assert shown["started"]["runId"] and shown["run"]["id"] == shown["started"]["runId"]
    assert shown["request"][0]["body"]["params"]["windowStartTime"] == 1700000000
