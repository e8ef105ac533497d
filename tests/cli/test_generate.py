"""`retention generate`: a valid, seeded history of the asked size, span and end."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from pathlib import Path

from click.testing import CliRunner

from retention.cli.generate import generate
from retention.demo.synthetic import HistorySpec
from schemas import family_of_line, parse_event

ARGS = ["--customers", "150", "--years", "3", "--end", "2022-03-01"]


def _run(args: list[str]) -> str:
    result = CliRunner().invoke(generate, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_file_is_valid_events_of_the_asked_customers_and_years(tmp_path: Path) -> None:
    """Every line validates; exactly N customers; every event in [end - Y years, end)."""
    out = tmp_path / "h.jsonl.gz"
    _run([*ARGS, "--out", str(out)])
    lines = gzip.decompress(out.read_bytes()).decode().splitlines()
    events = [parse_event(line, family_of_line(line)) for line in lines]
    assert {e.customer_id for e in events} == {f"cust-{n:06d}" for n in range(150)}
    start = dt.datetime(2019, 3, 1, tzinfo=dt.UTC)
    end = dt.datetime(2022, 3, 1, tzinfo=dt.UTC)
    assert all(start <= e.occurred_at < end for e in events)
    # Spread over the span, not bunched at one end: events in the first and last year.
    assert min(e.occurred_at for e in events) < start + dt.timedelta(days=365)
    assert max(e.occurred_at for e in events) > end - dt.timedelta(days=365)
    assert {json.loads(line)["type"] for line in lines} == {"purchase", "support", "survey"}


def test_same_seed_same_bytes_other_seed_other_history(tmp_path: Path) -> None:
    """The seed (with size and dates) decides the file; stdout gets the same lines."""
    plain = tmp_path / "a.jsonl"
    _run([*ARGS, "--out", str(plain)])
    assert _run([*ARGS, "--out", "-"]) == plain.read_text()
    gz = tmp_path / "a.jsonl.gz"
    _run([*ARGS, "--out", str(gz)])
    assert gzip.decompress(gz.read_bytes()).decode() == plain.read_text()
    assert _run([*ARGS, "--seed", "8", "--out", "-"]) != plain.read_text()


def test_end_on_29_february(tmp_path: Path) -> None:
    """A history ending on 29 February starts on the 28th, `years` calendar years back."""
    spec = HistorySpec(years=1, end=dt.datetime(2024, 2, 29, tzinfo=dt.UTC))
    assert spec.start == dt.datetime(2023, 2, 28, tzinfo=dt.UTC)


def test_demo_span_is_unchanged() -> None:
    """Without `years` the span is still 30-day months, as the demo has always had it."""
    spec = HistorySpec()
    assert spec.end - spec.start == dt.timedelta(days=360)
