"""A new spec version that AEP cannot apply in place (another source table) is provisioned, and the
state machine's plan replaces what it must: the old flow and its source connection go, a new flow
comes, with a new mapping set for the new mapping; what stays (the target connection) and what the
spec referenced stay."""

import json

from aepflow.ops import describe, start
from aepflow.store import journal
from local.examples import example

# Row filters at the source (issue 26): a changed filter is applied in place; on this module's stack.
from tests.integration.source_filters import (  # noqa: F401
    test_a_filter_on_a_column_the_table_lacks_fails_naming_it_and_mixpanel_takes_no_filter,
    test_a_filter_reaches_the_source_connection_previews_its_rows_and_changes_in_place,
)


def _by_name(state: dict, kind: str, prefix: str) -> list[dict]:
    return [r for r in state[kind] if (r.get("name") or "").startswith(prefix)]


def test_changing_the_source_table_replaces_the_flow_and_its_mapping_set(stack):
    v1 = example("001")
    v2 = example("001")
    v2["source"]["table"] = "Contact"
    v2["source"]["columns"] = [{"name": "TestID"}, {"name": "Name"}, {"name": "Datefield", "xdmType": "date-time"}]
    v2["mapping"] = [{"source": "Name", "destination": "person.name.fullName"}]
    v2["deltaColumn"] = {"name": "Datefield", "dateFormat": "YYYY-MM-DD", "timezone": "UTC"}
    prefix = f"aepflow:{v1['name']}:"
    first = start.start_if_changed(v1)
    assert stack.wait(first["executionArn"])["status"] == "SUCCEEDED"
    before = stack.emulator.dump_state()
    second = start.start_if_changed(v2)
    assert second["action"] == "apply"
    finished = stack.wait(second["executionArn"])
    assert finished["status"] == "SUCCEEDED"
    assert "applied" not in json.loads(finished["output"])["ids"]  # the create path made the ids anew
    applied = journal.applied(second["executionArn"])
    assert applied["action"] == "replace" and "source" in applied["replacedBecause"]
    assert [d["kind"] for d in applied["deleted"]] == ["flow", "sourceConnection"]
    after = stack.emulator.dump_state()
    record = describe.describe(v1["name"], live=False)
    [old_flow], [new_flow] = _by_name(before, "flows", prefix), _by_name(after, "flows", prefix)
    assert old_flow["id"] != new_flow["id"]
    [source] = [s for s in after["sourceConnections"] if s["id"] == new_flow["sourceConnectionIds"][0]]
    assert source["params"]["tableName"] == "Contact"
    new_mapping_id = next(t["params"]["mappingId"] for t in new_flow["transformations"] if t["name"] == "Mapping")
    old_mapping_id = next(t["params"]["mappingId"] for t in old_flow["transformations"] if t["name"] == "Mapping")
    assert new_mapping_id != old_mapping_id
    [mapping] = [m for m in after["mappingSets"] if m["id"] == new_mapping_id]
    assert [m.get("sourceAttribute") for m in mapping["mappings"]] == ["Name"]
    # One source and one target connection for the name: the old ones were deleted.
    assert len(_by_name(after, "sourceConnections", prefix)) == 1
    assert len(_by_name(after, "targetConnections", prefix)) == 1
    # What the spec referenced (dataset, schema) is untouched.
    assert "5c8c3c555033b814b69f947f" in {d["id"] for d in after["dataSets"]}
    assert record["status"] == "ACTIVE"
