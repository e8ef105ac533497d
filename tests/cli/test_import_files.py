"""`retention import` input handling without a broker: files, gzip, stdin, line numbers.

The publisher is the real one (its validation decides what is sent); only its Kafka
producer is replaced by one that records what would have been sent.
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from retention.cli.import_files import open_input
from retention.cli.import_summary import InputTally
from retention.cli.importer import publish_input
from retention.kafka import Publisher
from retention.settings import Settings

TOPICS = {"purchase": "purchases", "support": "support-events", "survey": "survey-responses"}


class RecordingProducer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bytes]] = []

    def send(self, topic: str, key: bytes, value: bytes) -> None:
        self.sent.append((topic, key, value))

    def flush(self, timeout: float | None = None) -> None:
        pass

    def close(self) -> None:
        pass


class RecordingPublisher(Publisher):
    def __init__(self) -> None:  # no broker: the producer records instead
        super().__init__(Settings(), producer=RecordingProducer())
        assert self.topics == TOPICS

    @property
    def values(self) -> list[bytes]:
        return [value for _, _, value in self.producer.sent]  # type: ignore[attr-defined]


class NoProgress:
    """Records what the import reports while it reads (retention/cli/progress.py)."""

    def __init__(self) -> None:
        self.advanced: list[str] = []

    def task(self, label: str, total: float | None = None) -> None: ...

    def update(self, completed: float, detail: str = "", total: float | None = None) -> None:
        self.advanced.append(detail)

    def step(self, detail: str) -> None: ...

    def done(self, detail: str = "") -> None: ...

    def close(self) -> None: ...


def purchase(n: int, customer: str = "c1", at: str = "2024-03-01T10:00:00Z") -> str:
    return json.dumps({"type": "purchase", "event_id": f"p{n}", "customer_id": customer,
                       "occurred_at": at, "order_id": f"o{n}", "amount": 10.0 + n})


def survey(n: int, customer: str, at: str) -> str:
    return json.dumps({"type": "survey", "event_id": f"v{n}", "customer_id": customer,
                       "occurred_at": at, "survey": "nps", "score": 9})


# Line numbers (1-based) of the bad lines below, by hand.
LINES: list[bytes] = [
    purchase(1, "c1", "2024-03-01T10:00:00Z").encode(),
    b"{not json",                                                     # 2
    purchase(2, "c2", "2024-03-02T10:00:00+02:00").encode(),
    b"",                                                              # 4: blank, skipped
    json.dumps({"type": "purchase", "event_id": "p3"}).encode(),      # 5: fields missing
    survey(1, "c3", "2023-12-31T23:59:59Z").encode(),
    b"\xff\xfe not utf-8",                                            # 7
    purchase(4, "c1", "2024-06-30T23:00:00-05:00").encode(),
    json.dumps({"event_id": "p5", "customer_id": "c9",                # 9: no `type`
                "occurred_at": "2024-01-01T00:00:00Z", "order_id": "o", "amount": 1}).encode(),
]
BAD = [2, 5, 7, 9]
GOOD = [1, 3, 6, 8]


def _content() -> bytes:
    return b"\n".join(LINES) + b"\n"


def _publish(path: str, chunk_lines: int = 3) -> tuple[RecordingPublisher, InputTally, NoProgress]:
    publisher = RecordingPublisher()
    tally = InputTally(invalid_shown_max=10)
    progress = NoProgress()
    with open_input(path) as source:
        read = publish_input(publisher, source, None, tally, progress, chunk_lines)
        tally.files.append((path, read))
    return publisher, tally, progress


def _check(publisher: RecordingPublisher, tally: InputTally, name: str) -> None:
    assert [(i.file, i.line) for i in tally.invalid_shown] == [(name, n) for n in BAD]
    assert tally.invalid == len(BAD)
    # The original bytes of exactly the good lines, in order.
    assert publisher.values == [LINES[n - 1] for n in GOOD]
    assert dict(tally.events) == {"purchase": 3, "survey": 1}
    assert tally.customers == {"c1", "c2", "c3"}
    assert tally.first == dt.datetime(2023, 12, 31, 23, 59, 59, tzinfo=dt.UTC)
    assert tally.last == dt.datetime(2024, 7, 1, 4, 0, tzinfo=dt.UTC)  # -05:00 read as UTC
    assert tally.files == [(name, len(LINES))]


@pytest.mark.parametrize("chunk_lines", [1, 3, 100])
def test_invalid_lines_keep_their_file_line_numbers(tmp_path: Path, chunk_lines: int) -> None:
    """Rejected lines are reported with their line numbers in the file, whatever the chunk
    size; only valid lines are sent, byte for byte, and counted by type and customer."""
    path = tmp_path / "history.jsonl"
    path.write_bytes(_content())
    publisher, tally, progress = _publish(str(path), chunk_lines)
    _check(publisher, tally, str(path))
    assert progress.advanced == [f"{n} lines" for n in range(chunk_lines, len(LINES) + 1,
                                                               chunk_lines)]


def test_gzip_is_recognised_by_its_bytes(tmp_path: Path) -> None:
    """A gzip file is read decompressed, whether or not its name ends in .gz."""
    path = tmp_path / "history.jsonl"  # no .gz suffix on purpose
    path.write_bytes(gzip.compress(_content()))
    publisher, tally, _ = _publish(str(path))
    _check(publisher, tally, str(path))


@pytest.mark.parametrize("buffered", [True, False], ids=["terminal-stdin", "bytesio-stdin"])
@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_stdin(monkeypatch: pytest.MonkeyPatch, compress: bool, buffered: bool) -> None:
    """`-` reads stdin, plain or gzip, with the same line numbers, and leaves it open."""
    data = gzip.compress(_content()) if compress else _content()
    raw = io.BytesIO(data)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BufferedReader(raw) if buffered
                                                       else raw))
    publisher, tally, _ = _publish("-")
    _check(publisher, tally, "-")
    with open_input("-") as source:
        assert source.size is None and source.position() is None
    assert not sys.stdin.closed


def test_truncated_gzip_sends_what_came_before(tmp_path: Path) -> None:
    """A gzip stream cut short: the lines before the break are sent, the break is reported
    as an invalid line after the last one read, and nothing raises."""
    lines = [purchase(n, f"c{n}").encode() for n in range(1, 2001)]
    whole = gzip.compress(b"\n".join(lines) + b"\n")
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(whole[: len(whole) * 2 // 3])
    publisher, tally, _ = _publish(str(path), chunk_lines=100)
    sent = publisher.values
    assert 0 < len(sent) < len(lines)
    assert sent == lines[: len(sent)]
    assert tally.invalid == 1
    broken = tally.invalid_shown[0]
    assert broken.line == tally.files[0][1] + 1 >= len(sent) + 1
    assert "cannot read past line" in broken.reason


def test_only_the_first_invalid_lines_are_kept(tmp_path: Path) -> None:
    """All invalid lines are counted; only the first `invalid_shown_max` are listed."""
    path = tmp_path / "bad.jsonl"
    path.write_text("".join(f"bad {n}\n" for n in range(1, 51)))
    publisher = RecordingPublisher()
    tally = InputTally(invalid_shown_max=5)
    with open_input(str(path)) as source:
        publish_input(publisher, source, None, tally, NoProgress(), 7)
    assert tally.invalid == 50
    assert [i.line for i in tally.invalid_shown] == [1, 2, 3, 4, 5]
    assert publisher.values == []


def test_forced_topic_routes_lines_without_type(tmp_path: Path) -> None:
    """--topic: lines without a `type` are sent to that topic and counted under it."""
    path = tmp_path / "orders.jsonl"
    body: dict[str, Any] = {"event_id": "p1", "customer_id": "c1", "order_id": "o1",
                            "occurred_at": "2024-01-01T00:00:00Z", "amount": 3}
    path.write_text(json.dumps(body) + "\n")
    publisher = RecordingPublisher()
    tally = InputTally(invalid_shown_max=5)
    with open_input(str(path)) as source:
        publish_input(publisher, source, "purchases", tally, NoProgress())
    assert [t for t, _, _ in publisher.producer.sent] == ["purchases"]  # type: ignore[attr-defined]
    assert dict(tally.events) == {"purchase": 1} and tally.invalid == 0


def test_file_size_and_position_drive_the_bar(tmp_path: Path) -> None:
    """A regular file reports its size on disk, and the position reaches it at the end."""
    path = tmp_path / "h.jsonl.gz"
    path.write_bytes(gzip.compress(_content()))
    with open_input(str(path)) as source:
        assert source.compressed and source.size == path.stat().st_size
        list(source.lines())
        assert source.position() == source.size
