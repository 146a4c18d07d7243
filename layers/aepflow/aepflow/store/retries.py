"""The re-triggered runs, `RETRY#<runId>` / `RETRY` (store/keys.py): for a run AEP made by re-triggering
a failed one (monitor/retries.py decides, functions/retrigger_run asks AEP), the run that failed
first (`origin`), which attempt this run is (1 for the first re-run) and every run of the chain, the
first failure first (`chain`). A failed run with no such item is its chain's first (attempt 0).

Through the process's low-level DynamoDB client; `table` is the table's name. Written once per run
(a conditional put: a second write of the same re-run, a retried Lambda's, keeps the first)."""

from __future__ import annotations

from typing import Any

from aepflow.store import keys
from aepflow.store import table as table_mod

BATCH_GET_MAX = 100
MAX_CHAIN = 6  # the first failure and at most five re-runs (spec/on_failure.Retry.attempts <= 5)


def link(table: str, run_id: str, *, origin: str, attempt: int, chain: list[str], flow_id: str) -> bool:
    """Record that AEP made `run_id` re-running the chain `chain` (which ends with `run_id`):
    True when this call wrote it, False when it was written already."""
    if not 1 <= attempt < MAX_CHAIN or len(chain) != attempt + 1 or chain[-1] != run_id or chain[0] != origin:
        raise ValueError(f"retry link of {run_id}: attempt {attempt} and a chain of {len(chain)} runs do not agree")
    item = table_mod.typed({**keys.retry(run_id), "origin": origin, "attempt": attempt, "chain": list(chain),
                            "flowId": flow_id, "at": table_mod.now_iso()})
    return table_mod.write_if(lambda: table_mod.client().put_item(
        TableName=table, Item=item, ConditionExpression="attribute_not_exists(pk)"))


def _parse(item: dict[str, Any]) -> dict[str, Any] | None:
    """A stored link, read as hostile as any input: None when it does not hold together."""
    chain, attempt = item.get("chain"), item.get("attempt")
    try:
        attempt = int(attempt)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    if not isinstance(chain, list) or not all(isinstance(r, str) for r in chain) \
            or not 1 <= attempt < MAX_CHAIN or len(chain) != attempt + 1:
        return None
    return {"runId": chain[-1], "origin": chain[0], "attempt": attempt, "chain": list(chain)}


def links(table: str, run_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The links among `run_ids` (run id -> {runId, origin, attempt, chain}), 100 keys per
    BatchGetItem; runs that are no re-run are absent."""
    found: dict[str, dict[str, Any]] = {}
    ids = list(dict.fromkeys(run_ids))
    for i in range(0, len(ids), BATCH_GET_MAX):
        pending: dict[str, Any] | None = {table: {
            "Keys": [table_mod.typed(keys.retry(r)) for r in ids[i:i + BATCH_GET_MAX]], "ConsistentRead": True}}
        for _ in range(8):
            answer = table_mod.client().batch_get_item(RequestItems=pending)
            for raw in answer.get("Responses", {}).get(table, []):
                parsed = _parse(table_mod.plain(raw))
                if parsed:
                    found[parsed["runId"]] = parsed
            pending = answer.get("UnprocessedKeys") or None
            if not pending:
                break
        if pending:
            raise RuntimeError("retry links: DynamoDB left keys unprocessed")
    return found
