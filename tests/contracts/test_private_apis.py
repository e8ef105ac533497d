"""Every private name of a dependency the worker relies on, checked in one place.

When an upgrade of Faust, aiokafka or pydantic moves one of these, this module fails and
names it; nothing else should need reading to find out why the worker broke. Each entry
says where it is used and why no public way serves.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import faust
import pytest
from faust.transport.consumer import Consumer as BaseConsumer
from faust.transport.consumer import Fetcher, ThreadDelegateConsumer
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread
from faust.transport.drivers.aiokafka import Consumer as AIOKafkaConsumer

from streams.intake import BatchingConsumer, BatchingTransport


def params(func: object) -> list[str]:
    return list(inspect.signature(func).parameters)  # type: ignore[arg-type]


# --- Faust consumer: batch intake (streams/intake.py) --------------------------------------
# The fetch loop is the one place Faust turns records into per-message trips through the
# conductor; batch intake replaces that loop and nothing else (see the module docstring).

def test_fetcher_drives_the_consumer_through_drain_messages() -> None:
    """Faust's fetcher service still hands its loop to `consumer._drain_messages(fetcher)`."""
    fetcher_task = Fetcher._fetcher.fun  # a mode ServiceTask around the coroutine function
    assert "consumer._drain_messages(self)" in inspect.getsource(fetcher_task)
    assert params(BaseConsumer._drain_messages) == ["self", "fetcher"]
    assert BatchingConsumer._drain_messages is not AIOKafkaConsumer._drain_messages


@pytest.mark.parametrize(("name", "expected"), [
    ("_wait_next_records", ["self", "timeout"]),   # (records, active partitions)
    ("_to_message", ["self", "tp", "record"]),
    ("_add_gap", ["self", "tp", "offset_from", "offset_to"]),
    ("perform_seek", ["self"]),
])
def test_consumer_methods_the_intake_loop_calls(name: str, expected: list[str]) -> None:
    """The methods our copy of Faust's loop calls keep their names and parameters."""
    assert params(getattr(AIOKafkaConsumer, name)) == expected


def test_consumer_state_the_intake_loop_reads() -> None:
    """`_read_offset` (per-TP dict), `_buffered_partitions` and `_stopped` are set up in
    `Consumer.__init__`, and `_drain_messages` of Faust still uses the same names."""
    init = inspect.getsource(BaseConsumer.__init__)
    for attribute in ("self._read_offset = defaultdict", "self._buffered_partitions = set()"):
        assert attribute in init
    faust_loop = (inspect.getsource(BaseConsumer._drain_messages)
                  + inspect.getsource(BaseConsumer.getmany))
    for used in ("self._read_offset", "self)._stopped.is_set", "fetcher)._stopped.is_set",
                 "self._wait_next_records(", "self._to_message", "self._add_gap(",
                 "self._buffered_partitions", "self.scheduler.iterate(",
                 "self.app.topics.acks_enabled_for", "track_tp_end_offset",
                 "self.consumer_stopped_errors", "self.suspend_flow.wait()"):
        assert used in faust_loop, used


def test_committed_offsets_the_consumer_port_reads() -> None:
    """`_committed_offset` (per-TP dict) holds the group's committed offsets from the seek
    after an assignment and each commit since: FaustConsumer.end_offset (streams/ports.py)
    tells from it that a partition has nothing left to deliver after a restart (no public
    accessor answers without a round trip to the coordinator)."""
    assert "self._committed_offset = defaultdict" in inspect.getsource(BaseConsumer.__init__)
    assert "self._committed_offset.update(" in inspect.getsource(BaseConsumer.perform_seek)
    assert "self._committed_offset.update(" in inspect.getsource(
        BaseConsumer._commit_offsets)

def test_consumer_thread_factory() -> None:
    """`_new_consumer_thread()` builds the thread the consumer delegates to (the tansu
    consumer thread is returned from there), called once in `__init__`."""
    assert "self._thread = self._new_consumer_thread()" in inspect.getsource(
        ThreadDelegateConsumer.__init__)
    assert params(AIOKafkaConsumer._new_consumer_thread) == ["self"]
    assert BatchingConsumer._new_consumer_thread is not AIOKafkaConsumer._new_consumer_thread


def test_highwaters_go_through_the_overridable_method() -> None:
    """Recovery asks `highwaters()`, which runs `_highwaters(partitions)` on the thread: the
    tansu work-around (streams/broker_compat.py) overrides that one method."""
    assert "self._highwaters" in inspect.getsource(AIOKafkaConsumerThread.highwaters)
    assert params(AIOKafkaConsumerThread._highwaters) == ["self", "partitions"]


def test_batching_transport_is_found_by_url() -> None:
    """The `faust.transports` entry point (a public Faust extension point) names our
    transport; without `pip install -e .` the broker URL would not resolve."""
    assert faust.transport.by_url("retention-kafka://127.0.0.1:9092") is BatchingTransport
    assert BatchingTransport.Consumer is BatchingConsumer


# --- Faust RocksDB store: state flushes (streams/tables.py) -------------------------------
# A flush writes thousands of keys with one changelog record batch per partition; the
# public `table[key] = value` produces one changelog record per key (a producer call each).

def test_rocksdb_store_partition_databases(tmp_path: Path) -> None:
    """`_db_for_partition(p)` opens p's database into `_dbs`; `_key_index` maps keys to
    partitions; `set_persisted_offset` records the changelog offset recovery resumes at."""
    from faust.stores.rocksdb import Store

    app = faust.App("contract-test", store="rocksdb://", datadir=str(tmp_path),
                    key_serializer="raw", value_serializer="raw")
    table = app.Table("t", default=None, partitions=2, key_type=bytes, value_type=bytes)
    store = table.data
    assert isinstance(store, Store)
    store._db_for_partition(1).put(b"k", b"v")
    store._key_index[b"k"] = 1
    assert store._dbs[1].get(b"k") == b"v"
    assert params(Store.set_persisted_offset) == ["self", "tp", "offset"]
    assert store._key_index[b"k"] == 1


# --- pydantic: outputs built without re-validation (streams/signals/outputs.py) -----------

def test_trusted_construction_equals_validation() -> None:
    """An output assembled from its `__dict__` and `__pydantic_fields_set__` (pydantic's
    own model_construct does the same, slowly) serialises exactly as a validated one."""
    from datetime import UTC, datetime

    from retention.settings import SignalSettings
    from schemas import Milestone
    from streams.signals import SignalEngine
    from streams.signals.outputs import _MILESTONE_SET, _trusted
    from streams.state import CustomerState

    snapshot = SignalEngine(SignalSettings()).snapshot(CustomerState("c1"), 0.0)
    values = {
        "schema_version": 1, "milestone_id": "m1", "customer_id": "c1", "kind": "first_purchase",
        "value": 1.0, "detail": "first order", "decided_at": datetime(2026, 1, 1, tzinfo=UTC),
        "raised_at": datetime(2026, 1, 2, tzinfo=UTC), "historical": False,
        "trigger_event_id": "e1",
        "state": snapshot,
    }
    validated = Milestone.model_validate(values)
    trusted = _trusted(Milestone, _MILESTONE_SET, dict(values))
    assert trusted.__pydantic_serializer__.to_json(trusted) == validated.model_dump_json().encode()
    assert trusted == validated
