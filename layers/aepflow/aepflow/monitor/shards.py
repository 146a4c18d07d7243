"""The monitor's shards as it reads and writes them: the stored ones (store/monitor.py) decoded
into ShardState, and a Delta merged into the latest stored state (read again by the store when
another writer got there first)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from aepflow.monitor.state import Delta, ShardState, merge
from aepflow.store import monitor as monitor_store
from aepflow.store.monitor import StoredShard


@dataclass
class Loaded(StoredShard):
    """A shard as read, its state decoded."""
    state: ShardState = field(default_factory=ShardState)


def load(table: str, sandbox: str, shards: int, numbers: Iterable[int]) -> dict[int, Loaded]:
    return {n: Loaded(s.version, s.blob, ShardState.decode(s.blob))
            for n, s in monitor_store.load_shards(table, sandbox, shards, numbers).items()}


def save(table: str, sandbox: str, shards: int, number: int, known: Loaded | None, delta: Delta) -> None:
    """Apply `delta` to the stored shard (to `known` first, the state this writer read)."""
    def merged(stored: StoredShard) -> tuple[bytes, int]:
        state = merge(stored.state if isinstance(stored, Loaded) else ShardState.decode(stored.blob), delta)
        return state.encode(), len(state.flows)

    monitor_store.save_shard(table, sandbox, shards, number, known, merged)
