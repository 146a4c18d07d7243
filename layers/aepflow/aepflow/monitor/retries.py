"""The re-trigger policy (spec/on_failure.py), decided in one place for the poll (monitor/check.py)
and the flow-run events (monitor/events.py).

A failed run of a flow whose `onFailure.retry` lists one of the run's error codes, whose chain has
re-run fewer times than `attempts`, is not alerted: the retry state machine is started for it, whose
Wait state is the durable timer and whose task (functions/retrigger_run) asks AEP to re-trigger the
run and links the new run to its chain (store/retries.py). Its execution's name is derived from the
run id, so a second start, from the other path or a later poll, is refused by Step Functions itself
(ExecutionAlreadyExists): a run is re-triggered once however often it is seen.

A re-run that succeeds sends no failure alert, only a `recovered` note when `onFailure.notifyRecovered`
asks; a chain that keeps failing (attempts used up, or a code not listed) is alerted once, on its
last run, its reason naming every run of the chain."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from aepflow.core.observability import logger
from aepflow.monitor.alerts import run_errors
from aepflow.monitor.flows import ManagedFlow
from aepflow.store import retries as store

RETRY, ALERT, RECOVERED, QUIET = "retry", "alert", "recovered", "quiet"


def execution_name(run_id: str) -> str:
    """The retry execution's name for a failed run: the same from either path (<= 80 characters)."""
    return ("retry-" + re.sub(r"[^A-Za-z0-9_-]", "_", run_id))[:80]


@dataclass
class Decision:
    """What to do with a run: `retry` (no alert: start the timer), `alert` (as without a policy, with
    `detail` naming the chain's runs), `recovered` (a note instead of nothing), `quiet` (no alert)."""

    action: str
    detail: dict[str, Any] = field(default_factory=dict)
    start: dict[str, Any] | None = None  # the retry execution's input, for `retry`


def chain_text(chain: list[str]) -> str:
    return ", ".join(f"{rid} ({'first run' if i == 0 else f'attempt {i}'})" for i, rid in enumerate(chain))


def decide(flow: ManagedFlow, run: dict[str, Any], kind: str | None, link: dict[str, Any] | None,
           sandbox: str) -> Decision:
    """The policy's decision for a completed `run` of `flow` that the monitor classified as `kind`
    (None: fine), `link` its chain when AEP made it by a re-trigger (store/retries.links)."""
    policy = flow.onFailure
    chain = list(link["chain"]) if link else [str(run["id"])]
    attempt = int(link["attempt"]) if link else 0
    attempts = {"attempts": chain} if attempt else {}
    if kind == "failed":
        retry = policy.retry if policy else None
        codes = {e["code"] for e in run_errors(run)}
        if retry and attempt < retry.attempts and codes & set(retry.codes):
            return Decision(RETRY, start={
                "runId": str(run["id"]), "flowId": flow.flowId, "dataflow": flow.name, "sandbox": sandbox,
                "connector": flow.connector,
                "origin": chain[0], "attempt": attempt + 1, "chain": chain, "waitSeconds": retry.afterMinutes * 60})
        if attempt:
            used_up = retry is not None and attempt >= retry.attempts
            why = "attempts used up" if used_up else "an error code the policy does not list"
            return Decision(ALERT, {**attempts, "reason": f"still failing after {attempt} re-trigger(s) "
                                                         f"(onFailure.retry, {why}): {chain_text(chain)}"})
        return Decision(ALERT)
    if kind is None and attempt:
        if policy and policy.notifyRecovered:
            return Decision(RECOVERED, {**attempts, "reason": f"a re-triggered run succeeded after {attempt} "
                                                              f"re-trigger(s): {chain_text(chain)}"})
        return Decision(QUIET)
    if kind and attempt:
        return Decision(ALERT, {**attempts, "reason": f"re-trigger {attempt} of {chain_text(chain)}"})
    return Decision(ALERT if kind else QUIET)


class Retries:
    """Reads the chains of runs, and starts the retry executions; counts what it did."""

    def __init__(self, table: str, state_machine_arn: str | None, sfn: Any):
        self.table, self.arn, self.sfn = table, state_machine_arn, sfn
        self.links: dict[str, dict[str, Any]] = {}
        self.started = 0
        self.already_started = 0

    def read_links(self, run_ids: Iterable[str]) -> None:
        ids = [r for r in run_ids if r not in self.links]
        if ids:
            self.links.update(store.links(self.table, ids))

    def decide(self, flow: ManagedFlow, run: dict[str, Any], kind: str | None, sandbox: str) -> Decision:
        decision = decide(flow, run, kind, self.links.get(str(run["id"])), sandbox)
        if decision.action == RETRY and not self.arn:
            logger.warning("retry policy not applied: RETRY_STATE_MACHINE_ARN is not set",
                           extra={"dataflow": flow.name, "runId": run["id"]})
            return Decision(ALERT)
        return decision

    def start(self, decision: Decision) -> bool:
        """Start the retry execution of `decision` (a `retry`): True when this call started it, False
        when Step Functions refused a second start of the same run's execution."""
        if decision.start is None:
            raise ValueError("only a retry decision starts an execution")
        try:
            self.sfn.start_execution(stateMachineArn=self.arn, name=execution_name(decision.start["runId"]),
                                     input=json.dumps(decision.start))
        except Exception as exc:
            code = getattr(exc, "response", {}).get("Error", {}).get("Code")
            if code != "ExecutionAlreadyExists":
                raise
            self.already_started += 1
            return False
        self.started += 1
        logger.info("failed run to be re-triggered", extra={
            "dataflow": decision.start["dataflow"], "runId": decision.start["runId"],
            "attempt": decision.start["attempt"], "afterSeconds": decision.start["waitSeconds"]})
        return True
