"""Re-trigger a failed run, once the retry state machine's Wait has passed (statemachine/
retry_failed_run.asl.json, started by monitor/retries.py): Flow Service's
`POST /runs/{RUN_ID}/action?op=re-trigger` (AdobeDocs/experience-platform.en,
help/sources/tutorials/api/retry-flows.md) answers the new run's `{id, etag}`; the new run is linked
to its chain (store/retries.py), so the monitor knows it for a re-run when it ends.

A POST is not retried by the AEP client on a 5xx or a timeout (AEP may have made the run). When AEP
refuses or does not answer, the state machine's Catch calls `alert_held_back`: the failure the
monitor held back for the retry is alerted then (claimed once, as every alert), so a re-trigger that
cannot be made never loses it."""

from __future__ import annotations

import re
import time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from aepflow.aep.client import AepClient, aep_client, segment
from aepflow.core.observability import logger
from aepflow.monitor.alerts import AlertSender, alert_key, build_alert
from aepflow.monitor.flows import DEFAULT_SANDBOX
from aepflow.monitor.models import SANDBOX_KEY
from aepflow.monitor.retries import chain_text
from aepflow.monitor.run_query import run_by_id
from aepflow.store import retries as store

RUN_ID = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$"


class RetriggerEvent(BaseModel):
    """The retry execution's input (monitor/retries.Decision.start), bounded and typed."""

    model_config = ConfigDict(extra="ignore")

    runId: str = Field(pattern=RUN_ID)
    flowId: str = Field(pattern=RUN_ID)
    dataflow: str = Field(min_length=1, max_length=256)
    sandbox: str = Field(pattern=SANDBOX_KEY)
    origin: str = Field(pattern=RUN_ID)
    attempt: int = Field(ge=1, le=5)
    chain: list[str] = Field(min_length=1, max_length=5)
    connector: str = Field(default="unknown", min_length=1, max_length=128)

    @model_validator(mode="after")
    def _chain(self) -> RetriggerEvent:
        if len(self.chain) != self.attempt or self.chain[0] != self.origin or self.chain[-1] != self.runId \
                or not all(re.match(RUN_ID, r) for r in self.chain):
            raise ValueError("chain: the runs from the origin to runId, one per attempt so far")
        return self


class HeldBackEvent(RetriggerEvent):
    """The Catch's input: the execution's input and the error of the re-trigger ({Error, Cause})."""

    error: dict[str, Any] = Field(default_factory=dict)


def _client(sandbox: str) -> AepClient:
    return aep_client().with_sandbox(None if sandbox == DEFAULT_SANDBOX else sandbox)


def retrigger(event: RetriggerEvent, table: str, client: AepClient | None = None) -> dict:
    """Ask AEP to re-run `event.runId`; link the new run. Answers {runId, attempt, chain}."""
    client = client or _client(event.sandbox)
    answer = client.post("flowservice", f"/runs/{segment(event.runId)}/action", params={"op": "re-trigger"}) or {}
    new_id = answer.get("id") if isinstance(answer, dict) else None
    if not isinstance(new_id, str) or not re.match(RUN_ID, new_id):
        raise ValueError(f"re-trigger of run {event.runId}: AEP answered no run id")
    chain = [*event.chain, new_id]
    store.link(table, new_id, origin=event.origin, attempt=event.attempt, chain=chain, flow_id=event.flowId)
    return {"runId": new_id, "attempt": event.attempt, "chain": chain}


def _run(client: AepClient, event: HeldBackEvent) -> dict[str, Any]:
    """The held-back run as GET /runs/{id} answers it; what the event says of it when AEP does not."""
    found = None
    try:
        found = run_by_id(client, event.runId, event.flowId)
    except Exception as exc:  # AEP is down too: the alert is sent all the same, without the run's metrics
        logger.warning("held-back run not read: alerting without its metrics",
                       extra={"runId": event.runId, "error": type(exc).__name__})
    return found or {"id": event.runId, "flowId": event.flowId, "state": "failed"}


def alert_held_back(event: HeldBackEvent, sender: AlertSender, client: AepClient | None = None) -> dict:
    """The failure the monitor held back for a re-trigger that could not be made, alerted once (the
    same key as the poll's and the events' alert of that run). Answers {alerted: bool}."""
    client = client or _client(event.sandbox)
    why = str(event.error.get("Error") or "an error")[:100]
    chain = chain_text(event.chain)
    detail: dict[str, Any] = {"reason": f"held back for re-trigger {event.attempt} (onFailure.retry), which AEP "
                                        f"refused or did not answer ({why}): {chain}"}
    if event.attempt > 1:
        detail["attempts"] = list(event.chain)
    flow = {"name": event.dataflow, "sandbox": client.sandbox if event.sandbox == DEFAULT_SANDBOX else event.sandbox,
            "connector": event.connector, "flowId": event.flowId}
    alert = build_alert("failed", flow, _run(client, event), now_ms=int(time.time() * 1000), detail=detail)
    return {"alerted": sender.claim_and_send(alert_key(event.flowId, event.runId, "failed"), alert)}
