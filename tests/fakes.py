"""In-memory fakes for unit tests: the store (layers/aepflow/aepflow/store) and the few AWS clients a
door calls directly (S3, SNS). Each keeps what the real one keeps and refuses what it refuses, in
memory, in microseconds; tests/integration/test_store_contract.py holds FakeStore and the real store
on moto's DynamoDB to the same scenario, so the fake cannot drift from what it stands for.

    store = FakeStore().install(monkeypatch)   # every store function the doors and ops call
"""

from __future__ import annotations

import contextlib
import copy
import io
import itertools
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

from aws_lambda_powertools.utilities.idempotency import BasePersistenceLayer
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyItemAlreadyExistsError,
    IdempotencyItemNotFoundError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord
from botocore.exceptions import ClientError

from aepflow.core.errors import DataflowConflict
from aepflow.spec.digest import canonical, spec_hash
from aepflow.store import claims, idempotency, journal, keys, origins, owners, records, table


class InMemoryIdempotency(BasePersistenceLayer):
    """Powertools' idempotency records in a dict (its DynamoDB layer's semantics: a record in progress
    or completed and unexpired refuses a second put)."""

    def __init__(self) -> None:
        super().__init__()
        self.records: dict[str, DataRecord] = {}

    def _get_record(self, idempotency_key: str) -> DataRecord:
        if idempotency_key not in self.records:
            raise IdempotencyItemNotFoundError
        return self.records[idempotency_key]

    def _put_record(self, data_record: DataRecord) -> None:
        held = self.records.get(data_record.idempotency_key)
        if held is not None and not held.is_expired:
            raise IdempotencyItemAlreadyExistsError(old_data_record=held)
        self.records[data_record.idempotency_key] = data_record

    def _update_record(self, data_record: DataRecord) -> None:
        self.records[data_record.idempotency_key] = data_record

    def _delete_record(self, data_record: DataRecord) -> None:
        self.records.pop(data_record.idempotency_key, None)


class FakeStore:
    """What store/ keeps, by the same keys (store/keys.py), in one dict of items."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], dict[str, Any]] = {}
        self.outcomes: dict[str, dict[str, Any]] = {}
        self.applied_summaries: dict[str, dict[str, Any]] = {}
        self.persistence = InMemoryIdempotency()

    # --- items ----------------------------------------------------------------------------------
    def _get(self, key: dict[str, str]) -> dict[str, Any] | None:
        item = self.items.get((key["pk"], key["sk"]))
        return copy.deepcopy(item) if item is not None else None

    def _put(self, item: dict[str, Any]) -> None:
        self.items[(item["pk"], item["sk"])] = copy.deepcopy(item)

    def _claim_key(self, name: str) -> dict[str, str]:
        return keys.dataflow(name, keys.CLAIM)

    def put_record(self, name: str, spec: dict[str, Any], ids: dict[str, Any] | None = None, **attributes: Any) -> None:
        """A RECORD as the state machine's "Record the dataflow" writes it (for a test's given state)."""
        ids = ids or {}
        self._put(keys.record_item(name, status="ACTIVE", spec=canonical(spec), ids=json.dumps(ids, sort_keys=True),
                                   flowId=ids.get("flowId", ""), updatedAt=table.now_iso(), **attributes))

    # --- claims -----------------------------------------------------------------------------------
    def claim(self, name: str) -> dict[str, Any] | None:
        item = self._get(self._claim_key(name))
        return item if item and item.get("status") != "DELETED" else None

    def claim_item(self, name: str) -> dict[str, Any] | None:
        return self._get(self._claim_key(name))

    def reserve(self, name: str, digest: str, current: dict[str, Any] | None) -> None:
        stored = self._get(self._claim_key(name))
        if not (stored is None or stored.get("specHash") == digest
                or (current is not None and current.get("updatedAt")
                    and stored.get("updatedAt") == current["updatedAt"])):
            raise DataflowConflict(f"dataflow {name!r} was claimed by another spec at the same time; "
                                   "read it and try again", code="DataflowExists", status=409)
        now = table.now_iso()
        self._put({**(stored or self._claim_key(name)), "specHash": digest, "updatedAt": now, "status": "CLAIMED",
                   "pendingSince": now})

    def recorded_execution(self, name: str) -> str | None:
        item = self._get(keys.dataflow(name, keys.RECORD))
        return str(item["executionId"]) if item and item.get("executionId") else None

    def take_start(self, name: str, execution_arn: str) -> bool:
        item = self._get(self._claim_key(name)) or self._claim_key(name)
        if item.get("startedExecution") == execution_arn:
            return False
        self._put({**item, "startedExecution": execution_arn})
        return True

    def hold(self, name: str, digest: str, execution_arn: str, generation: int, current: dict[str, Any] | None,
             origin: str | None) -> None:
        executions = list((current or {}).get("executions") or [])
        if execution_arn not in executions:
            executions.append(execution_arn)
        item = self._get(self._claim_key(name)) or self._claim_key(name)
        item.pop("pendingSince", None)
        item.update(name=name, specHash=digest, executionArn=execution_arn, executionHash=digest,
                    executions=executions[-claims.EXECUTIONS_KEPT:], generation=generation, status="CLAIMED",
                    updatedAt=table.now_iso())
        if origin:
            item["origin"] = origin
        self._put(item)

    def adopted(self, name: str, origin: str) -> None:
        item = self._get(self._claim_key(name)) or self._claim_key(name)
        item.pop("pendingSince", None)
        item.update(name=name, origin=origin, generation=item.get("generation", 0))
        self._put(item)

    @contextlib.contextmanager
    def changing(self, name: str, *, now: float | None = None) -> Iterator[str]:
        moment = int(time.time() if now is None else now)
        item = self._get(self._claim_key(name))
        if item is None or (item.get("changing") and item.get("changingUntil", 0) >= moment):
            raise DataflowConflict(f"dataflow {name!r} is being changed by another request; read it and try again",
                                   code="ConcurrentUpdate", status=409)
        token = uuid.uuid4().hex
        self._put({**item, "changing": token, "changingUntil": moment + claims.CHANGE_LEASE_SECONDS})
        try:
            yield token
        finally:
            held = self._get(self._claim_key(name))
            if held is not None and held.get("changing") == token:
                held.pop("changing", None)
                held.pop("changingUntil", None)
                self._put(held)

    def set_claim_hash(self, name: str, digest: str, origin: str | None = None) -> None:
        item = self._get(self._claim_key(name))
        if item is None or item.get("status") == "DELETED":
            return
        item.update(specHash=digest, updatedAt=table.now_iso(), **({"origin": origin} if origin else {}))
        self._put(item)

    def mark_deleted(self, name: str, current: dict[str, Any] | None, *, replacing: bool = False) -> None:
        item = {**self._claim_key(name), "name": name, "status": "DELETED",
                "generation": int((current or {}).get("generation") or 0) + 1, "updatedAt": table.now_iso(),
                "executions": list((current or {}).get("executions") or []) if replacing else []}
        if current and current.get("origin"):
            item["origin"] = current["origin"]
        self._put(item)

    # --- owners and origins -------------------------------------------------------------------------
    def flow_owner(self, flow_id: str) -> str | None:
        item = self._get(keys.flow(flow_id))
        return str(item["name"]) if item and item.get("name") else None

    def claim_flow(self, flow_id: str, name: str) -> None:
        if self._get(keys.flow(flow_id)) is not None:
            raise owners.already_managed(flow_id, self.flow_owner(flow_id))
        self._put({**keys.flow(flow_id), "name": name, "updatedAt": table.now_iso()})

    def release_flow(self, flow_id: str, name: str) -> None:
        item = self._get(keys.flow(flow_id))
        if item is None or item.get("name") == name:
            self.items.pop((keys.flow(flow_id)["pk"], keys.OWNER), None)

    def applied_from(self, uri: str, name: str) -> None:
        self._put({**keys.origin(uri), "name": name, "updatedAt": table.now_iso()})

    def dataflow_from(self, uri: str) -> str | None:
        item = self._get(keys.origin(uri))
        return str(item["name"]) if item and item.get("name") else None

    # --- records ----------------------------------------------------------------------------------
    def record(self, name: str) -> records.Record | None:
        item = self._get(keys.dataflow(name, keys.RECORD))
        return records.Record.of(item) if item else None

    def save(self, rec: records.Record, spec: dict[str, Any], ids: dict[str, Any], *,
             etags: dict[str, Any] | None = None, credentials: dict[str, Any] | None = None) -> None:
        item = self._get(keys.dataflow(rec.name, keys.RECORD))
        if item is None or item.get("ids") != rec.item.get("ids"):
            raise DataflowConflict(f"dataflow {rec.name!r} changed while it was being updated; read it and retry",
                                   code="ConcurrentUpdate", status=409)
        item.update(spec=canonical(spec), ids=json.dumps(ids, sort_keys=True), updatedAt=table.now_iso(),
                    etag=ids.get("flowEtag") or "", flowId=ids.get("flowId") or rec.flow_id or "")
        if etags is not None:
            item["etags"] = json.dumps(etags, sort_keys=True)
        if credentials is not None:
            item["credentials"] = json.dumps(credentials, sort_keys=True)
        self._put(item)

    def create(self, name: str, spec: dict[str, Any], ids: dict[str, Any], *, connector: str,
               etags: dict[str, Any], origin: str) -> None:
        flow_id = ids["flowId"]
        self.claim_flow(flow_id, name)
        current = self.claim_item(name)
        try:
            self.reserve(name, spec_hash(spec), current if current and current.get("status") == "DELETED" else None)
            made = self._get(keys.dataflow(name, keys.RECORD)) is None
        except DataflowConflict:
            made = False
        if not made:
            self.release_flow(flow_id, name)
            raise DataflowConflict(f"a dataflow named {name!r} exists already; adopt under another name",
                                   code="DataflowExists", status=409)
        self._put(keys.record_item(name, status="ACTIVE", connector=connector, flowId=flow_id,
                                   ids=json.dumps(ids, sort_keys=True), spec=canonical(spec),
                                   etags=json.dumps(etags, sort_keys=True), etag=ids.get("flowEtag") or "",
                                   origin=origin, updatedAt=table.now_iso()))
        self.adopted(name, origin)

    def delete(self, name: str, rec: records.Record | None = None) -> None:
        self.items.pop((keys.dataflow_pk(name), keys.RECORD), None)
        if rec is not None and rec.flow_id:
            self.release_flow(rec.flow_id, name)

    def pages(self, *, start_after: str | None = None, page_size: int | None = None,
              projection: tuple[str, ...] | None = None) -> Iterator[list[dict[str, Any]]]:
        found = sorted((item for (pk, sk), item in self.items.items() if sk == keys.RECORD),
                       key=lambda item: item["pk"])
        found = [copy.deepcopy(i) for i in found if start_after is None or i["pk"] > keys.dataflow_pk(start_after)]
        size = page_size or 1000
        for i in range(0, max(len(found), 1), size):
            yield found[i:i + size]

    def every(self, limit: int = 100_000) -> Iterator[records.Record]:
        for item in itertools.islice((i for page in self.pages() for i in page), limit):
            yield records.Record.of(item)

    # --- an execution's items -----------------------------------------------------------------------
    def has_outcome(self, execution: str) -> bool:
        return execution in self.outcomes

    def get_outcome(self, execution: str) -> dict[str, Any] | None:
        return copy.deepcopy(self.outcomes.get(execution))

    def put_applied(self, execution: str, summary: dict[str, Any]) -> None:
        self.applied_summaries[execution] = json.loads(json.dumps(summary, default=str))

    def applied(self, execution: str) -> dict[str, Any] | None:
        return copy.deepcopy(self.applied_summaries.get(execution))

    # --- in place of the store ------------------------------------------------------------------------
    def install(self, monkeypatch: Any) -> FakeStore:
        """Put this store in place of store/'s functions (the modules' attributes, which is how every
        caller reaches them), and Powertools' idempotency records in memory."""
        for module, names in ((claims, ("claim", "claim_item", "reserve", "recorded_execution", "take_start", "hold",
                                        "adopted", "changing", "set_claim_hash", "mark_deleted")),
                              (owners, ("flow_owner", "claim_flow", "release_flow")),
                              (origins, ("applied_from", "dataflow_from")),
                              (records, ("record", "save", "create", "delete", "pages", "every")),
                              (journal, ("has_outcome", "get_outcome", "put_applied", "applied"))):
            for name in names:
                monkeypatch.setattr(module, name, getattr(self, name))
        monkeypatch.setattr(idempotency, "persistence", lambda: self.persistence)
        return self


class FakeS3:
    """A versioned bucket's objects in memory: get_object (Range, VersionId), put_object, delete_object."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], list[tuple[str, bytes]]] = {}
        self._versions = itertools.count(1)

    @staticmethod
    def _error(code: str, operation: str) -> ClientError:
        return ClientError({"Error": {"Code": code, "Message": code}}, operation)

    def put_object(self, *, Bucket: str, Key: str, Body: bytes, **_: Any) -> dict[str, Any]:
        version = f"v{next(self._versions)}"
        self.objects.setdefault((Bucket, Key), []).append((version, bytes(Body)))
        return {"VersionId": version}

    def get_object(self, *, Bucket: str, Key: str, VersionId: str | None = None, Range: str | None = None,
                   **_: Any) -> dict[str, Any]:
        versions = self.objects.get((Bucket, Key))
        if not versions:
            raise self._error("NoSuchKey", "GetObject")
        found = [body for version, body in versions if VersionId in (None, version)]
        if not found:
            raise self._error("NoSuchVersion", "GetObject")
        body = found[-1]
        if Range:
            first, last = (int(x) for x in Range.removeprefix("bytes=").split("-"))
            if first >= len(body):
                raise self._error("InvalidRange", "GetObject")
            body = body[first:last + 1]
        return {"Body": io.BytesIO(body)}

    def body(self, bucket: str, key: str) -> bytes:
        return self.objects[(bucket, key)][-1][1]

    def delete_object(self, *, Bucket: str, Key: str, **_: Any) -> dict[str, Any]:
        self.objects.pop((Bucket, Key), None)
        return {}


class FakeSns:
    """What was published, in order."""

    def __init__(self) -> None:
        self.published: list[dict[str, Any]] = []

    def publish(self, **kwargs: Any) -> dict[str, Any]:
        self.published.append(kwargs)
        return {"MessageId": uuid.uuid4().hex}


class FakeStepFunctions:
    """Step Functions' StartExecution: an execution's name is taken once (ExecutionAlreadyExists after)."""

    def __init__(self) -> None:
        self.started: dict[str, dict[str, Any]] = {}  # name -> {stateMachineArn, input}

    def start_execution(self, *, stateMachineArn: str, name: str, input: str) -> dict[str, Any]:  # noqa: A002, N803
        if name in self.started:
            raise ClientError({"Error": {"Code": "ExecutionAlreadyExists", "Message": name}}, "StartExecution")
        self.started[name] = {"stateMachineArn": stateMachineArn, "input": json.loads(input)}
        return {"executionArn": f"{stateMachineArn.replace(':stateMachine:', ':execution:')}:{name}"}


class FakeSecrets:
    """Powertools' Secrets Manager provider over a dict of JSON objects (local/fixtures/secrets.json's shape)."""

    def __init__(self, values: dict[str, dict[str, Any]]) -> None:
        self.values = values
        self.reads: list[str] = []

    def get(self, name: str, transform: str | None = None, **_: Any) -> Any:
        self.reads.append(name)
        if name not in self.values:
            raise ClientError({"Error": {"Code": "ResourceNotFoundException", "Message": name}}, "GetSecretValue")
        return copy.deepcopy(self.values[name]) if transform == "json" else json.dumps(self.values[name])


def fake_secrets(monkeypatch: Any, values: dict[str, dict[str, Any]]) -> FakeSecrets:
    """aws.secrets() answers from `values`."""
    from aepflow.core import aws

    secrets = FakeSecrets(values)
    monkeypatch.setattr(aws, "secrets", lambda: secrets)
    return secrets


def fake_clients(monkeypatch: Any, **clients: Any) -> None:
    """aws.aws_client(service) answers these fakes (by service name); any other service is refused."""
    from aepflow.core import aws

    def client(service: str) -> Any:
        if service not in clients:
            raise AssertionError(f"a unit test reached AWS {service} with no fake for it")
        return clients[service]

    monkeypatch.setattr(aws, "aws_client", client)


__all__ = ["FakeS3", "FakeSecrets", "FakeSns", "FakeStore", "InMemoryIdempotency", "fake_clients", "fake_secrets",
           "spec_hash"]
