"""What a plan is made of: each resource's action (create, update in place, replace, none), its changes
(old -> new, and the AEP call that makes one in place) and the reasons AEP cannot change it in place."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# The order a plan lists resources in: what others depend on first.
KINDS = ("baseConnection", "sourceConnection", "schema", "dataset", "targetConnection", "mappingSet", "flow",
         "record")
ID_KEY = {"flow": "flowId", "mappingSet": "mappingId", "targetConnection": "targetConnectionId",
          "sourceConnection": "sourceConnectionId", "dataset": "datasetId", "schema": "schemaId",
          "baseConnection": "baseConnectionId"}
# What depends on each kind: replacing one replaces these.
DEPENDANTS = {"baseConnection": ("sourceConnection",), "sourceConnection": ("flow",),
              "schema": ("dataset", "targetConnection", "mappingSet"), "dataset": ("targetConnection",),
              "targetConnection": ("flow",), "mappingSet": ("flow",), "flow": ()}

# How AEP changes each field in place (the call a change becomes); a field not listed here is replaced.
IN_PLACE = {
    "flow": {"name": "PATCH /flows/{id} /name", "description": "PATCH /flows/{id} /description",
             "scheduleParams.frequency": "PATCH /flows/{id} /scheduleParams/frequency",
             "scheduleParams.interval": "PATCH /flows/{id} /scheduleParams/interval",
             "scheduleParams.backfill": "PATCH /flows/{id} /scheduleParams/backfill",
             "scheduleParams.startTime": "PATCH /flows/{id} /scheduleParams/startTime",
             "options": "PATCH /flows/{id} /options",
             "mappingVersion": "PATCH /flows/{id} /transformations/{i}/params/mappingVersion",
             "state": "POST /flows/{id}/action?op=ENABLE|DISABLE"},
    # Seed 002 ("Update your connection"): name, description and auth.params, with If-Match.
    "baseConnection": {"name": "PATCH /connections/{id} /name", "description": "PATCH /connections/{id} /description",
                       "credentials": "PATCH /connections/{id} /auth/params"},
    # Flow Service documents PATCH /sourceConnections for name, description and params.filters
    # (help/sources/tutorials/api/filter.md); another table or params is a new source connection.
    "sourceConnection": {"name": "PATCH /sourceConnections/{id} /name",
                         "description": "PATCH /sourceConnections/{id} /description",
                         "params.filters": "PATCH /sourceConnections/{id} /params/filters"},
    "targetConnection": {"name": "PATCH /targetConnections/{id} /name",
                         "description": "PATCH /targetConnections/{id} /description"},
    "mappingSet": {"mappings": "PUT /mappingSets/{id} (a new version)"},
    "record": {"alerts": "aepflow's record (the monitor reads it)", "onDrift": "aepflow's record (the drift check)",
               "onDelete": "aepflow's record (what a delete keeps)",
               "onFailure": "aepflow's record (the monitor's re-trigger policy)"},
}
WHY_REPLACED = {
    ("flow", "deltaColumn"): "AEP does not change a flow's Copy transformation (deltaColumn) in place",
    ("flow", "flowSpec"): "a flow cannot change its flow spec",
    ("flow", "sourceConnectionId"): "a flow cannot swap its source connection (sourceConnectionIds, FLOW-1421)",
    ("flow", "targetConnectionId"): "a flow cannot swap its target connection (targetConnectionIds, FLOW-1421)",
    ("flow", "mappingId"): "the flow is moved to a new mapping set only by a new flow",
    ("flow", "scheduleParams.startTime"): "AEP refuses a startTime change to or from a time that has passed (1366)",
    ("sourceConnection", "connectionSpec"): "a source connection cannot change its connection spec (FLOW-1421)",
    ("sourceConnection", "baseConnectionId"): "a source connection cannot move to another base connection (FLOW-1421)",
    ("baseConnection", "connectionSpec"): "a base connection cannot change its connection spec (FLOW-1421)",
    ("baseConnection", "authSpecName"): "aepflow changes a connection's auth params in place, not its auth spec",
    ("baseConnection", "access"): ("Adobe's IAM role reads the one bucket its connection names (IAMRole Based "
                                   "auth.params.bucketName): another bucket, or keys instead, is another connection"),
    ("targetConnection", "params.dataSetId"): "aepflow does not move a target connection to another dataset",
    ("targetConnection", "data.schema.id"): "aepflow does not move a target connection to another schema",
    ("mappingSet", "schemaId"): "a mapping set maps into one schema; another schema needs a new mapping set",
}
DEFAULT_REPLACED = {"sourceConnection": "Flow Service documents no in-place change of a source connection's "
                                        "table, format or params but params.filters (help/sources/tutorials/api/"
                                        "filter.md); the flow reads the new ones through a new source connection",
                    "schema": "the target schema is another one", "dataset": "the target dataset is another one"}


@dataclass
class Change:
    field: str
    old: Any
    new: Any
    how: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {"field": self.field, "old": self.old, "new": self.new}
        if self.how:
            out["how"] = self.how
        return out


@dataclass
class ResourcePlan:
    kind: str
    id: str | None
    action: str
    changes: list[Change] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    note: str | None = None
    warnings: list[str] = field(default_factory=list)  # what the apply leaves as it is, but a person should know

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "id": self.id, "action": self.action,
                               "changes": [c.to_dict() for c in self.changes]}
        if self.reasons:
            out["reasons"] = self.reasons
        if self.warnings:
            out["warnings"] = self.warnings
        if self.note:
            out["note"] = self.note
        return out


@dataclass
class Plan:
    name: str
    sandbox: str | None
    resources: list[ResourcePlan]
    managed: bool = True  # a record exists
    calls: int = 0  # AEP calls the plan made (all GETs)
    problems: list[dict[str, str]] = field(default_factory=list)

    @property
    def action(self) -> str:
        actions = {r.action for r in self.resources}
        if not self.managed:
            return "create"
        for action in ("replace", "create", "update"):
            if action in actions:
                return action
        return "none"

    def of(self, kind: str) -> ResourcePlan | None:
        return next((r for r in self.resources if r.kind == kind), None)

    def kinds(self, action: str) -> list[str]:
        return [r.kind for r in self.resources if r.action == action]

    def to_dict(self) -> dict[str, Any]:
        out = {"name": self.name, "sandbox": self.sandbox, "action": self.action, "managed": self.managed,
               "resources": [r.to_dict() for r in self.resources], "calls": self.calls}
        if self.problems:
            out["problems"] = self.problems
        return out
