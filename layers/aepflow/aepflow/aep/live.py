"""What AEP has now, read with GETs only: one dataflow's resources (a GET each, concurrently), or
many dataflows' at once with list queries filtered by id (`GET /flows?property=id==a,b,…`, FACTS §2:
a comma list is any-of), IDS_PER_QUERY ids a call, so a thousand flows cost a few dozen calls."""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from aepflow.aep.bodies import mapping_in_use  # noqa: F401 - the readers of live flows take it from here
from aepflow.aep.client import AepClient, segment
from aepflow.aep.resources import FLOW_COLLECTIONS
from aepflow.core.errors import AepNotFound

# Ids in one `property=id==…` filter: 100 UUIDs make a query string of about 4 KB, well inside what
# HTTP gateways accept (8 KB is the usual line limit); AEP documents no bound of its own.
IDS_PER_QUERY = 100
# The kinds a dataflow's record names, read from Flow Service by id.
FLOW_SERVICE_KINDS = ("flow", "sourceConnection", "baseConnection", "targetConnection")
ID_KEYS = {"flow": "flowId", "sourceConnection": "sourceConnectionId", "baseConnection": "baseConnectionId",
           "targetConnection": "targetConnectionId"}


@dataclass
class Live:
    """One dataflow's resources as AEP answers them; None where the record names none, and the
    kind in `missing` where the record names one AEP no longer has."""

    flow: dict[str, Any] | None = None
    sourceConnection: dict[str, Any] | None = None
    baseConnection: dict[str, Any] | None = None
    targetConnection: dict[str, Any] | None = None
    mappingSet: dict[str, Any] | None = None
    missing: set[str] = field(default_factory=set)

    def of(self, kind: str) -> dict[str, Any] | None:
        return getattr(self, kind)


def get_one(client: AepClient, kind: str, resource_id: str) -> dict[str, Any] | None:
    try:
        body = client.get("flowservice", f"{FLOW_COLLECTIONS[kind]}/{segment(resource_id)}") or {}
    except AepNotFound:
        return None
    items = body.get("items") if isinstance(body, dict) else None
    return items[0] if items else None


def mapping_set(client: AepClient, mapping_id: str, version: Any = None) -> dict[str, Any] | None:
    """GET /mappingSets/{id} (data-prep.yaml), at `version` when given."""
    params = {"version": str(version)} if version not in (None, "") else None
    try:
        return client.get("conversion", f"/mappingSets/{segment(mapping_id)}", params=params)
    except AepNotFound:
        return None


def read(client: AepClient, ids: dict[str, Any], *, with_mapping: bool = True) -> Live:
    """The record's resources, one GET each, concurrently; the mapping set at the version the
    flow uses (a version never changes, so this is what the flow maps with)."""
    client.tokens.token()  # one IMS request at most, before the GETs fan out
    live = Live()
    jobs: dict[str, str] = {kind: resource_id for kind in FLOW_SERVICE_KINDS if (resource_id := ids.get(ID_KEYS[kind]))}
    with ThreadPoolExecutor(max_workers=len(jobs) + 1) as pool:
        futures = {kind: pool.submit(get_one, client, kind, resource_id) for kind, resource_id in jobs.items()}
        mapping_future = None
        if with_mapping and ids.get("mappingId"):
            mapping_future = pool.submit(mapping_set, client, ids["mappingId"], ids.get("mappingVersion"))
        for kind, future in futures.items():
            found = future.result()
            setattr(live, kind, found)
            if found is None:
                live.missing.add(kind)
        if mapping_future is not None:
            live.mappingSet = mapping_future.result()
            if live.mappingSet is None:
                live.missing.add("mappingSet")
    return live


def _chunks(values: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


def list_by_ids(client: AepClient, kind: str, resource_ids: Iterable[str | None],
                counter: dict[str, int] | None = None) -> dict[str, dict[str, Any]]:
    """id -> resource, for every id AEP still has (None and "" skipped), with IDS_PER_QUERY ids a list query."""
    wanted = sorted({i for i in resource_ids if i})
    found: dict[str, dict[str, Any]] = {}
    for chunk in _chunks(wanted, IDS_PER_QUERY):
        params = [("property", "id==" + ",".join(chunk)), ("limit", str(len(chunk)))]
        for item in client.paginate("flowservice", FLOW_COLLECTIONS[kind], params=params):
            if isinstance(item, dict) and item.get("id") in chunk:
                found[item["id"]] = item
        if counter is not None:
            counter[kind] = counter.get(kind, 0) + 1
    return found


def read_many(client: AepClient, ids_by_name: dict[str, dict[str, Any]],
              counter: dict[str, int] | None = None) -> dict[str, Live]:
    """name -> Live, for many dataflows of one sandbox: a few list queries per kind, concurrently
    across kinds. Mapping sets are not read (a flow's mapping id and version say which it uses)."""
    client.tokens.token()
    by_kind: dict[str, dict[str, dict[str, Any]]] = {}
    with ThreadPoolExecutor(max_workers=len(FLOW_SERVICE_KINDS)) as pool:
        futures = {kind: pool.submit(list_by_ids, client, kind,
                                     [ids.get(ID_KEYS[kind]) for ids in ids_by_name.values()], counter)
                   for kind in FLOW_SERVICE_KINDS}
        by_kind = {kind: future.result() for kind, future in futures.items()}
    out: dict[str, Live] = {}
    for name, ids in ids_by_name.items():
        live = Live()
        for kind in FLOW_SERVICE_KINDS:
            resource_id = ids.get(ID_KEYS[kind])
            if not resource_id:
                continue
            found = by_kind[kind].get(resource_id)
            setattr(live, kind, found)
            if found is None:
                live.missing.add(kind)
        out[name] = live
    return out
