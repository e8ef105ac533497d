"""Per-customer state: the LRU cache over the table and the record cache of changes."""

from __future__ import annotations

import json
from typing import Any

from streams.processor.messages import BatchResult
from streams.processor.state_cache import StateCache
from streams.state import CustomerState


class Table:
    """The state table: what the cache reads, and which reads it was asked for."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, Any]] = {}
        self.reads: list[tuple[str, int | None]] = []

    def load(self, cid: str, partition: int | None) -> dict[str, Any] | None:
        self.reads.append((cid, partition))
        return self.rows.get(cid)

    def store(self, result: BatchResult) -> None:
        assert result.flush is not None
        for cid, (state, _) in result.flush.states.items():
            self.rows[cid] = state.to_dict()


def changed(cache: StateCache, cid: str, orders: int, partition: int = 0) -> CustomerState:
    state = cache.get(cid, partition)
    state.orders = orders
    cache.touch(state, ("handle", partition))
    return state


def test_a_new_customer_is_read_once_then_served_from_the_cache() -> None:
    """The table is asked once, with the customer's partition; a new state belongs to it."""
    table = Table()
    cache = StateCache(table.load, size=10)
    first = cache.get("c1", 3)
    assert cache.get("c1", 3) is first
    assert table.reads == [("c1", 3)]
    assert (first.customer_id, first.partition) == ("c1", 3)


def test_the_least_recently_used_state_is_evicted() -> None:
    """Past its size the cache drops the state read longest ago, and reads it again later."""
    table = Table()
    table.rows["c1"] = CustomerState(customer_id="c1", orders=4).to_dict()
    cache = StateCache(table.load, size=2)
    cache.get("c1", 0)
    cache.get("c2", 0)
    cache.get("c1", 0)  # c2 is now the least recently used
    cache.get("c3", 0)
    assert list(cache.cache) == ["c1", "c3"]
    assert cache.get("c1", 0).orders == 4
    assert table.reads == [("c1", 0), ("c2", 0), ("c3", 0)]


def test_an_evicted_state_not_yet_written_is_not_read_from_the_table() -> None:
    """Until its change is in the table, the changed object is the customer's truth."""
    table = Table()
    table.rows["c1"] = CustomerState(customer_id="c1", orders=1).to_dict()  # stale
    cache = StateCache(table.load, size=1)
    state = changed(cache, "c1", orders=2)
    cache.get("c2", 0)  # evicts c1
    assert "c1" not in cache.cache
    assert cache.get("c1", 0) is state
    assert table.reads == [("c1", 0), ("c2", 0)]


def test_flush_hands_over_the_latest_version_of_each_changed_state() -> None:
    """One entry per customer however often it changed, as JSON and a customer_state row."""
    cache = StateCache(Table().load, size=10)
    changed(cache, "c1", orders=1)
    changed(cache, "c1", orders=2, partition=5)
    result = BatchResult()
    cache.flush(result)
    assert result.flush is not None
    assert list(result.flush.states) == ["c1"]
    state, handle = result.flush.states["c1"]
    assert (state.orders, handle) == (2, ("handle", 5))
    assert json.loads(result.flush.state_json["c1"]) == state.to_dict()
    assert len(result.rows.rows["customer_state"]) == 1
    assert cache.dirty == {}
    empty = BatchResult()
    cache.flush(empty)
    assert empty.flush is None  # nothing changed since


def test_a_written_flush_releases_states_unless_changed_again() -> None:
    """written() lets the table serve a state again, but not one changed since its flush."""
    table = Table()
    cache = StateCache(table.load, size=10)
    changed(cache, "c1", orders=1)
    changed(cache, "c2", orders=1)
    first = BatchResult()
    cache.flush(first)
    changed(cache, "c2", orders=2)  # changed again before the first flush is written
    table.store(first)
    assert first.flush is not None
    cache.written(first.flush)
    assert set(cache.unwritten) == {"c2"}
    assert cache.unwritten["c2"][0].orders == 2


def test_a_state_in_two_flushes_in_flight_stays_unwritten_until_both_are_written() -> None:
    """Each flush in flight counts: the first write alone does not release the state."""
    cache = StateCache(Table().load, size=10)
    changed(cache, "c1", orders=1)
    first = BatchResult()
    cache.flush(first)
    changed(cache, "c1", orders=2)
    second = BatchResult()
    cache.flush(second)
    assert first.flush is not None and second.flush is not None
    cache.written(first.flush)
    assert "c1" in cache.unwritten
    cache.written(second.flush)
    assert cache.unwritten == {}


def test_forget_drops_every_state_of_the_given_partitions() -> None:
    """Cached, dirty and unwritten states of revoked partitions go; others stay."""
    cache = StateCache(Table().load, size=10)
    changed(cache, "c1", orders=1, partition=1)
    changed(cache, "c2", orders=1, partition=2)
    cache.forget({1})
    assert list(cache.cache) == ["c2"]
    assert list(cache.dirty) == ["c2"]
    assert list(cache.unwritten) == ["c2"]
