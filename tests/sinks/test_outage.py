"""The sink through a ClickHouse outage: injected in its write path, real chDB underneath."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from pathlib import Path
from typing import Any

import pytest

from retention.settings import SinkSettings
from sinks.base import RowBatch, SinkBackpressure
from sinks.clickhouse import ClickHouseSink
from sinks.migrations import migrate
from sinks.rows import event_row
from tests.streams.helpers import at, purchase

AT = dt.datetime(2024, 5, 1, 12, tzinfo=dt.UTC)


def _batch(*event_ids: str) -> RowBatch:
    batch = RowBatch()
    for offset, event_id in enumerate(event_ids):
        batch.add(*event_row(purchase("c1", at(offset), event_id=event_id), 0, offset, AT))
    return batch


def _stored(sink: ClickHouseSink) -> list[str]:
    """Event ids in the purchases table, once per row (no FINAL: a second insert shows)."""
    rows = sink.client.query("SELECT event_id FROM purchases").result_rows
    return sorted(r[0] for r in rows)


@pytest.fixture
def outage_file(tmp_path: Path) -> Path:
    return tmp_path / "outage"


@pytest.fixture
def sink(fresh_client: Any, outage_file: Path) -> ClickHouseSink:
    migrate(fresh_client)
    return ClickHouseSink(fresh_client, SinkSettings(retry_initial_s=0.05, retry_max_s=0.05,
                                                     outage_file=outage_file))


def test_inserts_fail_while_the_outage_file_names_a_time_ahead(
        sink: ClickHouseSink, outage_file: Path) -> None:
    """No file or a past time: rows land; a time ahead: SinkBackpressure, nothing written."""
    sink.write(_batch("before"))
    outage_file.write_text(str(time.time() + 60))
    with pytest.raises(SinkBackpressure, match="injected outage"):
        sink.write(_batch("during"))
    outage_file.write_text(str(time.time() - 1))
    sink.write(_batch("after"))
    assert _stored(sink) == ["after", "before"]


def test_no_outage_switch_unless_configured(fresh_client: Any) -> None:
    """Without RETENTION_SINK__OUTAGE_FILE the write path has no fault injection at all."""
    assert ClickHouseSink(fresh_client, SinkSettings()).outage is None


def test_write_until_done_retries_until_clickhouse_answers(
        sink: ClickHouseSink, outage_file: Path) -> None:
    """A batch refused for a second is retried with backoff and then written, once."""
    async def scenario() -> bool:
        outage_file.write_text(str(time.time() + 1))
        return await sink.write_until_done(_batch("a", "b"), asyncio.Event())
    started = time.monotonic()
    assert asyncio.run(scenario()) is True
    assert time.monotonic() - started >= 0.9
    assert sink.failed_attempts == 0  # reset once written
    assert _stored(sink) == ["a", "b"]


def test_write_until_done_gives_up_when_told_during_an_outage(
        sink: ClickHouseSink, outage_file: Path) -> None:
    """`give_up` set while the batch keeps failing ends the retries within a backoff step
    (False: nothing written); the outage itself would have lasted a minute."""
    async def scenario() -> tuple[bool, float]:
        outage_file.write_text(str(time.time() + 60))
        give_up = asyncio.Event()
        writing = asyncio.ensure_future(sink.write_until_done(_batch("a"), give_up))
        await asyncio.sleep(0.3)
        assert not writing.done()
        give_up.set()
        started = time.monotonic()
        written = await asyncio.wait_for(writing, 1)
        return written, time.monotonic() - started
    written, waited = asyncio.run(scenario())
    assert written is False and waited < 0.5
    assert _stored(sink) == []
