"""The dataflows table's key layout, in one place (template.yaml: DataflowsTable, keys pk/sk, the sparse
index Dataflows on listKey). Every item aepflow keeps, by partition key:

  DATAFLOW#<name>      RECORD               the applied state of a dataflow (store/records.py), in the
                                            Dataflows index (listKey = DATAFLOW)
                       CLAIM                the name's reservation (store/claims.py)
                       FIRST-PROVISIONING   the execution that first provisioned it (written by the state
                                            machine, "Is this the dataflow's first provisioning?")
  EXECUTION#<arn>      RESOURCE#<ns>#<kind> what an execution created (store/journal.py), WARNING#<ns>,
                       ROLLING-BACK, OUTCOME, APPLIED
  FLOW#<flowId>        DATAFLOW             which dataflow owns a flow (store/owners.py; the state machine's
                                            "Claim the flow for the dataflow")
  SPECKEY#<s3 uri>     DATAFLOW             which dataflow a spec file applied (store/origins.py)
  MONITOR              REGISTRY             the monitor's registry summary and watermarks (store/monitor.py)
  MONITOR#SHARD#<sb>   <shards>#<n>         one shard of the monitor's state
  ALERT#<flow>#<run>#<problem>   ALERT      an alert's claim (store/alerts.py)
  MONITOR#PENDING      <alert key>          an alert whose publish is not known to have happened
  RETRY#<runId>        RETRY                a re-triggered run: the failed run it re-runs, its attempt and
                                            every run of the chain (store/retries.py)
  idempotency#<function>#<hash>             Powertools' idempotency records (store/idempotency.py)

IAM holds each function to its own items by these prefixes (dynamodb:LeadingKeys in template.yaml)."""

from __future__ import annotations

from typing import Any

DATAFLOWS_INDEX = "Dataflows"
LIST_KEY = "listKey"
DATAFLOW_LIST = "DATAFLOW"

RECORD, CLAIM, FIRST_PROVISIONING = "RECORD", "CLAIM", "FIRST-PROVISIONING"
OWNER = "DATAFLOW"  # the sort key of a FLOW# and a SPECKEY# item
ALERT = "ALERT"
RETRY = "RETRY"
PENDING_PK = "MONITOR#PENDING"
SHARD_PREFIX = "MONITOR#SHARD#"
REGISTRY = {"pk": "MONITOR", "sk": "REGISTRY"}


def dataflow_pk(name: str) -> str:
    return f"DATAFLOW#{name}"


def dataflow(name: str, sort_key: str) -> dict[str, str]:
    return {"pk": dataflow_pk(name), "sk": sort_key}


def execution_pk(execution: str) -> str:
    return f"EXECUTION#{execution}"


def flow(flow_id: str) -> dict[str, str]:
    return {"pk": f"FLOW#{flow_id}", "sk": OWNER}


def origin(uri: str) -> dict[str, str]:
    return {"pk": f"SPECKEY#{uri}", "sk": OWNER}


def shard(sandbox: str, shards: int, number: int) -> dict[str, str]:
    return {"pk": SHARD_PREFIX + sandbox, "sk": f"{shards:04d}#{number:04d}"}


def alert(key: str) -> dict[str, str]:
    return {"pk": key, "sk": ALERT}


def retry(run_id: str) -> dict[str, str]:
    return {"pk": f"RETRY#{run_id}", "sk": RETRY}


def pending(key: str) -> dict[str, str]:
    return {"pk": PENDING_PK, "sk": key}


def record_item(name: str, **attributes: Any) -> dict[str, Any]:
    """A dataflow record's keys (the table's and the index's) with its attributes."""
    return {**dataflow(name, RECORD), LIST_KEY: DATAFLOW_LIST, "name": name, **attributes}
