"""The worker's one Faust table: customer states, written once per changed key per flush.

RocksDB is reached through three private names of Faust's store (`_db_for_partition`,
`_key_index`, `_dbs`; tests/contracts/test_private_apis.py pins them): a flush writes a
whole batch of keys with one changelog record batch per partition, which `table[key] =
value` (one producer call per key) cannot do.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import faust
from faust.stores.rocksdb import Store
from faust.types import TP, TableT

from streams.outputs import PublisherPort


@dataclass(slots=True)
class _ChangelogRecord:
    topic: str
    key: bytes
    value: bytes


class StateTable:
    """customer_id -> CustomerState.to_dict() as JSON; co-partitioned with the input topics."""

    def __init__(self, table: TableT[bytes, bytes]) -> None:
        self.table = table

    @classmethod
    def declare(cls, app: faust.App, partitions: int) -> StateTable:
        return cls(app.Table(
            "customer-state",
            default=None,
            partitions=partitions,
            # bytes in and out (Faust picks the "raw" codec from the types, for the store
            # *and* for changelog recovery): the processor serialises each state once per
            # flush.
            key_type=bytes,
            value_type=bytes,
        ))

    def _store(self) -> Store:
        store = self.table.data
        if not isinstance(store, Store):
            raise TypeError(f"customer-state needs the RocksDB store, not {type(store).__name__}")
        return store

    async def store(self, states: Iterable[tuple[str, str, int]],
                    publisher: PublisherPort) -> None:
        """Write (customer_id, state JSON, partition) triples to the table, as a flush.

        What `table[key] = value` does per key (the RocksDB put in the partition's database,
        the changelog record in the same partition, then the changelog offset remembered in
        RocksDB so that recovery resumes after it), done for the whole flush at once.
        """
        changelog = self.table.changelog_topic.get_topic_name()
        records: list[_ChangelogRecord] = []
        partitions: list[int] = []
        for key, value, partition in self._put_local(states):
            records.append(_ChangelogRecord(changelog, key, value))
            partitions.append(partition)
        written = await publisher.publish(records, partitions)
        store = self._store()
        for (topic, partition), offset in written.items():
            store.set_persisted_offset(TP(topic, partition), offset)

    def seed(self, states: Iterable[tuple[str, str, int]]) -> int:
        """Put (customer_id, state JSON, partition) triples in the partitions' RocksDB
        databases, without changelog records; returns how many.

        For the states ClickHouse last had, when the changelog is gone (the embedded broker
        restarted) and the table was emptied with it: they stay on disk, not in memory, and
        are re-armed and read like any stored state. Each is rewritten, with its changelog
        record, by the first flush that changes it; one never changed is seeded again from
        ClickHouse by whoever starts over an empty table next.
        """
        return sum(1 for _ in self._put_local(states))

    def _put_local(self, states: Iterable[tuple[str, str, int]]
                   ) -> Iterator[tuple[bytes, bytes, int]]:
        """Put each (customer_id, state JSON, partition) in its partition's RocksDB database
        and Faust's key index; yield (key, value, partition) as put."""
        store = self._store()
        for customer_id, data, partition in states:
            key, value = customer_id.encode(), data.encode()
            store._db_for_partition(partition).put(key, value)
            store._key_index[key] = partition
            yield key, value, partition

    def read(self, customer_id: str, partition: int | None = None) -> dict[str, Any] | None:
        """The stored state, read from its partition's RocksDB database (every open one if
        the partition is unknown). Not `table.get()`: without a current event, Faust's lookup
        went through a key index that a rebalance leaves behind, and answered None for
        stored keys."""
        key = customer_id.encode()
        store = self._store()
        if partition is not None:
            raw = store._db_for_partition(partition).get(key)
        else:
            raw = next((v for db in list(store._dbs.values()) if (v := db.get(key))), None)
        return json.loads(raw) if raw else None

    def stored(self) -> Iterator[dict[str, Any]]:
        """Every state this worker's table holds (active partitions), read one at a time:
        the caller keeps what it needs of each (a due time), not a million states at once."""
        for raw in self.table.values():
            if raw:
                yield json.loads(raw)
