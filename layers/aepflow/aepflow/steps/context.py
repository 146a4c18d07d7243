"""What every provisioning step after validation works with: the event the state machine sends,
the spec and its resolved source, the ids known so far, the AEP client, and the journal through
which a create happens at most once.

Idempotency. Resource names are deterministic (naming.py). The state machine asks AEP what
already exists ("Look up what already exists") only when there is a reason: the dataflow's record
of its first provisioning names another execution, so an earlier one may have created some of it.
A first provisioning makes no lookup: each create POSTs. When a POST's answer is lost (5xx, timeout)
or Step Functions retries the step, the create looks the resource up by name before it POSTs again;
when AEP answers that the name is taken (409), the create uses what holds it. So nothing is created
twice and the happy path makes no extra call."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from aepflow.aep import resources
from aepflow.aep.client import aep_client
from aepflow.core.errors import TRANSIENT_ERRORS, AepNotFound, AepValidationError
from aepflow.core.observability import logger
from aepflow.spec.view import validated
from aepflow.store.journal import Journal

if TYPE_CHECKING:
    from aepflow.aep.client import AepClient
    from aepflow.spec.model import DataflowSpec


ID_KEYS = ("baseConnectionId", "sourceConnectionId", "schemaId", "datasetId", "targetConnectionId",
           "mappingId", "flowId", "flowEtag", "flowSpecId")
# How many times a create is attempted inside one step when AEP's answer is ambiguous.
CREATE_ATTEMPTS = 3


CHECKS = ("baseConnection", "dataset", "mapping")
MAX_EXECUTION_CHARS = 2048  # an execution ARN (Step Functions: name 80, state machine name 80)


class StepEvent:
    """What every step Lambda receives from the state machine: {state, execution, retryCount} and,
    from "Look up what already exists", the check it makes for one branch (the base connection or
    the dataset the spec names; None: the whole lookup round). Other keys are ignored."""

    __slots__ = ("state", "execution", "retryCount", "check")

    def __init__(self, state: dict[str, Any], execution: str = "local", retryCount: int = 0,
                 check: Literal["baseConnection", "dataset", "mapping"] | None = None):
        self.state, self.execution, self.retryCount, self.check = state, execution, retryCount, check

    @classmethod
    def parse(cls, event: Any) -> StepEvent:
        """The event, typed; ValueError naming the field when it is not what the state machine sends."""
        if not isinstance(event, dict):
            raise ValueError(f"(event): expected an object, not {type(event).__name__}")
        state, execution = event.get("state"), event.get("execution", "local")
        retry_count, check = event.get("retryCount", 0), event.get("check")
        if not isinstance(state, dict):
            raise ValueError(f"state: expected an object, not {type(state).__name__}")
        if not isinstance(execution, str) or not 0 < len(execution) <= MAX_EXECUTION_CHARS:
            raise ValueError(f"execution: expected an execution ARN of at most {MAX_EXECUTION_CHARS} characters")
        if type(retry_count) is not int or retry_count < 0:
            raise ValueError("retryCount: expected a whole number, 0 or more")
        if check is not None and check not in CHECKS:
            raise ValueError(f"check: expected one of {', '.join(CHECKS)}, or none")
        return cls(state, execution, retry_count, check)


def named_ids(spec: DataflowSpec) -> dict[str, str | None]:
    """The ids the spec itself names (existing resources it reuses)."""
    return {"baseConnectionId": spec.source.baseConnectionId, "schemaId": spec.target.schema_.id,
            "datasetId": spec.target.dataset.id}


class Context:
    def __init__(self, event: StepEvent, client: AepClient | None = None):
        self.event = event
        self.spec, self.resolved = validated(event.state)
        self.client = client or aep_client(self.spec.sandbox)
        known = {k: v for k, v in (event.state.get("ids") or {}).items() if v is not None}
        self.ids: dict[str, Any] = {**dict.fromkeys(ID_KEYS), **named_ids(self.spec), **known}
        self._journal: Journal | None = None

    @property
    def journal(self) -> Journal:
        if self._journal is None:
            self._journal = Journal(self.event.execution, self.client.sandbox)
        return self._journal

    def ensure(self, kind: str, name: str, create: Callable[[], str],
               find: Callable[[], str | None] | None = None) -> str:
        """Create a resource at most once (see the module docstring)."""
        find = find or (lambda: resources.find_id_by_name(self.client, kind, name))
        if self.event.retryCount > 0:
            found = find()
            if found:
                sort_key = self.journal.intend(kind, name)
                self.journal.created(sort_key, found)
                self._undo_if_rolled_back(kind, sort_key, found)
                return found
        sort_key = self.journal.intend(kind, name)
        last: Exception | None = None
        for attempt in range(CREATE_ATTEMPTS):
            if attempt:
                found = find()
                if found:
                    self.journal.created(sort_key, found)
                    self._undo_if_rolled_back(kind, sort_key, found)
                    return found
            try:
                resource_id = create()
            except TRANSIENT_ERRORS as exc:
                logger.warning("create answer lost, looking it up", extra={"kind": kind, "error": type(exc).__name__})
                last = exc
                continue
            except AepValidationError as exc:
                held = find() if exc.status == 409 else None
                if not held:
                    raise
                # The name is taken by a resource no execution of this dataflow created: use it,
                # and keep it out of this execution's roll-back.
                self.journal.mark(sort_key, "found")
                return held
            self.journal.created(sort_key, resource_id)
            self._undo_if_rolled_back(kind, sort_key, resource_id)
            return resource_id
        assert last is not None
        raise last

    def _undo_if_rolled_back(self, kind: str, sort_key: str, resource_id: str) -> None:
        """A sibling branch failed while this create was under way, and the roll-back may have read
        the journal before this entry said what was made: delete it here (journal.ROLLING_BACK)."""
        if not self.journal.rolling_back():
            return
        if kind == "mappingSet":  # Data Prep cannot delete one; a re-run finds and reuses it by name
            self.journal.mark(sort_key, "left-behind")
        else:
            try:
                resources.delete_by_kind(self.client, kind, resource_id)
            except AepNotFound:
                pass  # the roll-back saw it after all
            self.journal.mark(sort_key, "deleted")
        # The execution has already left this branch (its Catch runs the roll-back): what the step
        # returns is dropped, so it ends normally rather than fail a branch that is no longer running.
        logger.warning("the execution was rolled back while this create ran: undone",
                       extra={"kind": kind, "id": resource_id, "kept": kind == "mappingSet"})

