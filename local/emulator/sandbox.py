"""One sandbox's resources, and what every stored resource carries: its times and its etag.

Every service keeps its resources in the sandbox the request's x-sandbox-name names (AEP routes a
request without one to the production sandbox); sandboxes share nothing."""
from __future__ import annotations

import time
import uuid


def now_ms() -> int:
    return int(time.time() * 1000)


def new_etag() -> str:
    return f'"{uuid.uuid4()}"'


class Sandbox:
    def __init__(self, name: str):
        self.name = name
        self.id = str(uuid.uuid4())
        self.connections: dict[str, dict] = {}
        self.sourceConnections: dict[str, dict] = {}
        self.targetConnections: dict[str, dict] = {}
        self.flows: dict[str, dict] = {}
        self.schemas: dict[str, dict] = {}
        self.dataSets: dict[str, dict] = {}
        self.mappingSets: dict[str, list[dict]] = {}  # id -> versions
        self.descriptors: dict[str, dict] = {}  # @id -> descriptor
        self.fieldgroups: dict[str, dict] = {}  # tenant field groups, $id -> field group
