"""AEP's flow-run notifications, as the emulator announces a run when its clock passes the run's end
(flow_runs.py calls `RunAnnouncer.announce`), to whoever listens (the local stack puts them on its
partner event bus, as Adobe I/O Events' Amazon EventBridge destination would).

The payload is the notifications page's second shape (AdobeDocs/experience-platform.en,
help/sources/notifications.md, "Failure"): a `messages` list of one `eventNotification` whose
`_eventNotificationMeta.type` names the event and whose `value` is the run as GET /runs/{id}
answers it (run_payloads.render_run), with the run's `sandboxName` and `imsOrgId`. The event types
are the page's: `sources_flow_run_success`, and `sources_flow_run_failed` (its example's type; the
page's prose says `sources_flow_run_failure`). A run with failed records under a success is a
success: "a flow that contains both successful and failed ingestions will be marked as
sources_flow_run_success ... these errors will still be included as part of the return payload".

Events can be lost (a webhook disabled after failures, a delivery that expired): `drop(...)` makes
the announcer lose a fraction of them, or the runs named, deterministically."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterable
from typing import Any

Listener = Callable[[dict[str, Any]], None]


def notification(run: dict[str, Any], org_id: str, at_ms: int) -> dict[str, Any]:
    """The notification of a run that has ended (help/sources/notifications.md's "Failure" shape)."""
    status = str(((run.get("metrics") or {}).get("statusSummary") or {}).get("status", "")).lower()
    kind = "sources_flow_run_failed" if status == "failed" else "sources_flow_run_success"
    return {"messages": [{
        "msgType": "eventNotification", "version": "1.0", "timestamp": at_ms, "imsOrgId": org_id,
        "schema": {"name": "run-notification", "version": "1.0"}, "provider": "FlowService",
        "_eventNotificationMeta": {"category": "Platform Notifications", "type": kind},
        "value": {**run, "imsOrgId": org_id},
    }]}


class RunAnnouncer:
    """The listeners of run notifications, and which notifications are lost on the way."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._listeners: list[Listener] = []
        self._fraction, self._seed, self._lost_ids = 0.0, 0, frozenset[str]()
        self.announced = 0
        self.lost = 0

    def listen(self, listener: Listener) -> None:
        with self._lock:
            self._listeners.append(listener)

    def drop(self, fraction: float = 0.0, *, run_ids: Iterable[str] = (), seed: int = 0) -> None:
        """Lose `fraction` (0..1) of the notifications, drawn per run from `seed`, and those of `run_ids`."""
        if not 0.0 <= fraction <= 1.0:
            raise ValueError("fraction is between 0 and 1")
        with self._lock:
            self._fraction, self._seed, self._lost_ids = float(fraction), seed, frozenset(run_ids)

    def _lost(self, run_id: str) -> bool:
        return run_id in self._lost_ids or (
            self._fraction > 0 and random.Random(f"{self._seed}:{run_id}").random() < self._fraction)

    @property
    def listening(self) -> bool:
        return bool(self._listeners)

    def announce(self, ended: list[tuple[dict[str, Any], int]], org_id: str) -> None:
        """Tell every listener of each run (its rendered payload, when it ended) that is not lost.
        Called without the emulator's locks held: a listener may call the emulator back."""
        with self._lock:
            listeners = list(self._listeners)
        for run, at_ms in ended:
            if self._lost(run["id"]):
                self.lost += 1
                continue
            self.announced += 1
            payload = notification(run, org_id, at_ms)
            for listener in listeners:
                listener(payload)
