"""Errors that teach, through the local stack (the real ASL, the AEP emulator's explore): a table the
source does not have fails at source.table, listing the tables explore sees, the closest first, and
rolls back what the execution made."""

import json

from aepflow.store import journal
from local.examples import example


def test_an_unknown_table_fails_at_source_table_listing_what_explore_sees(stack):
    spec = example("001")  # Salesforce, the account made from a secret
    spec["source"]["table"] = "Leads"
    del spec["source"]["columns"]  # explored before the source connection is made: the step is known
    [result] = stack.provision([spec])
    assert result["status"] == "FAILED", result
    [error] = result["errors"]
    assert error["step"] == "explore-source" and error["type"] == "SourceMismatch", error
    # The emulator's Salesforce holds its standard objects: explore's root lists them, Lead first.
    assert error["message"].startswith("Salesforce has no table 'Leads'; did you mean 'Lead'? (it has Lead, ")
    assert "Contact" in error["message"] and "Object not found" not in error["message"]
    # The problem at its field path, as the execution's outcome keeps it (and the failure notification says).
    [failure] = json.loads(journal.get_outcome(result["executionArn"])["errors"])
    assert failure["problems"] == [{"path": "source.table", "message": error["message"]}]
    explores = [r["query"].get("objectType") for r in stack.emulator.records if r["path"].endswith("/explore")]
    assert explores == ["table", "root"]
    assert result["leftBehind"] == [] and result["rolledBack"]  # FAILED: what it made is rolled back
