"""GET /dataflows and the monitor read dataflow records through the table's Dataflows index:
pages in name order, and none of the journal, alert or claim items that share the table."""

import boto3

from aepflow.monitor import flows as monitor_flows
from aepflow.ops import describe
from aepflow.store import keys
from aepflow.store import monitor as monitor_store


def test_records_page_through_the_index_and_nothing_else_is_read(stack):
    table = boto3.resource("dynamodb").Table(stack.refs["DataflowsTable"])
    names = [f"flow-{i}" for i in (3, 1, 4, 0, 2)]
    for name in names:
        table.put_item(Item=keys.record_item(name, status="ACTIVE", connector="salesforce",
                                                    flowId=f"id-{name}", spec="{}", ids="{}"))
        # What else lives in the table: a claim, a journal entry and an alert per dataflow.
        table.put_item(Item={"pk": keys.dataflow_pk(name), "sk": "CLAIM", "name": name})
        table.put_item(Item={"pk": f"EXECUTION#{name}", "sk": "RESOURCE#1#flow", "name": name})
        table.put_item(Item={"pk": f"ALERT#id-{name}#run#failed", "sk": "ALERT", "name": name})
    seen, cursor = [], None
    for _ in range(5):
        page = describe.list_dataflows(limit=2, cursor=cursor)
        seen.append([item["name"] for item in page["items"]])
        cursor = page["next"]
        if cursor is None:
            break
    # What the monitor's registry sync reads: one segment (here the only one) of the index.
    read = [monitor_flows.from_record(item) for page in monitor_store.record_pages(stack.refs["DataflowsTable"], 0, 1)
            for item in page]
    flows = {flow.flowId: flow for flow in read if flow}
    assert seen == [["flow-0", "flow-1"], ["flow-2", "flow-3"], ["flow-4"]]
    assert sorted(flows) == sorted(f"id-{name}" for name in names)
