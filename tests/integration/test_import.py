"""`retention import` as a team runs it: a generated history, a running pipeline on the
embedded backends (real tansu, real chDB), the command as a subprocess.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from retention.embedded.stack import LocalStack, patched_environ
from retention.kafka import worker_status
from retention.settings import Settings
from sinks.rows import COLUMNS
from tests.analytics.conftest import assert_outputs_equal
from tests.analytics.kpis.reference import Reference
from tests.integration.helpers import read_tables, read_topic, wait_for
from tests.integration.test_pipeline import reference_results

pytestmark = pytest.mark.integration

# As `retention up` runs (live watermark on), with short idle and flush times for a test.
STACK_ENV = {
    "RETENTION_SIGNALS__IDLE_WATERMARK_AFTER_S": "2",
    "RETENTION_SINK__FLUSH_INTERVAL_S": "0.2",
}
# A replay in which nothing counts as historical: the horizon is a century.
HORIZON_DISABLED = {"RETENTION_SIGNALS__LIVE_HORIZON_S": str(100 * 365 * 86400)}
CUSTOMERS = 300
# Lines put into the generated file, and where (1-based line numbers of the final file).
BAD_LINES = {
    11: "{not json",
    120: json.dumps({"type": "purchase", "event_id": "bad-1", "occurred_at":
                     "2020-01-01T00:00:00Z", "order_id": "o", "amount": 5}),  # no customer
    400: json.dumps({"type": "survey", "event_id": "bad-2", "customer_id": "cust-000001",
                     "occurred_at": "2020-01-01T00:00:00Z", "survey": "nps", "score": 11}),
}
INGESTED = pd.Timestamp("2030-01-01", tz="UTC")


@dataclass
class Imported:
    stack: LocalStack
    path: Path
    events: list[dict[str, Any]]  # the generated (valid) events, in file order
    lines: int
    result: subprocess.CompletedProcess[str]

    @property
    def summary(self) -> dict[str, Any]:
        return dict(json.loads(self.result.stdout))


def retention(env: dict[str, str], *args: str, timeout: float = 600,
              ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "retention.cli.main", *args],
                          env={**os.environ, **env}, capture_output=True, text=True,
                          timeout=timeout)


def _at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).astimezone(dt.UTC)


def _ts(value: Any) -> dt.datetime:
    """A DateTime64 column's value as the worker's query view sends it (ISO text)."""
    stamp = pd.Timestamp(value)
    return (stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp).to_pydatetime()


def read_stored(stack: LocalStack, queries: dict[str, str]) -> dict[str, list[list[Any]]]:
    """Rows of read-only `queries` on what the stack stored. The worker holds the chDB
    folder and runs named operations only, so it is stopped for the read (as an operator
    reads after `retention up` ends) and started again."""
    rows = read_tables(stack, queries)
    stack.start_worker()
    wait_for(lambda: worker_status(stack.settings()), timeout_s=120, what="worker back up")
    return rows


def _ids(values: list[str]) -> str:
    """A test-made id list as a ClickHouse array literal."""
    return "[" + ", ".join(f"'{v}'" for v in values) + "]"


def _write_history(folder: Path) -> tuple[Path, list[dict[str, Any]], int]:
    """Three years ending two years before today, from `retention generate`, with
    BAD_LINES put in; gzip-compressed, as a team might ship it."""
    end = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=2 * 365)
    plain = folder / "generated.jsonl"
    done = retention({}, "generate", "--customers", str(CUSTOMERS), "--years", "3",
                     "--end", end.isoformat(), "--seed", "5", "--out", str(plain))
    assert done.returncode == 0, done.stderr
    lines = plain.read_text().splitlines()
    events = [json.loads(line) for line in lines]
    for number in sorted(BAD_LINES):
        lines.insert(number - 1, BAD_LINES[number])
    path = folder / "history.jsonl.gz"
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    return path, events, len(lines)


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Imported]:
    folder = tmp_path_factory.mktemp("import")
    path, events, lines = _write_history(folder)
    stack = LocalStack(folder / "stack", STACK_ENV)
    try:
        settings = stack.start()
        stack.start_worker()
        wait_for(lambda: worker_status(settings), timeout_s=120, what="the worker's web view")
        result = retention(stack.env, "import", str(path), "--format", "json",
                           "--timeout", "600")
        yield Imported(stack, path, events, lines, result)
    finally:
        stack.stop()


def test_summary_counts_equal_the_file(imported: Imported) -> None:
    """Exit 1 (some lines rejected); events by type, customers, time range and the
    invalid lines with their line numbers equal counts made from the file; when the
    command returns, every distinct event is already in ClickHouse."""
    assert imported.result.returncode == 1, imported.result.stderr
    summary = imported.summary
    events = imported.events
    assert summary["files"] == [{"file": str(imported.path), "lines": imported.lines}]
    assert summary["events"] == dict(Counter(e["type"] for e in events))
    assert summary["events_total"] == len(events)
    assert summary["customers"] == len({e["customer_id"] for e in events}) == CUSTOMERS
    times = [_at(e["occurred_at"]) for e in events]
    assert _at(summary["time_range"]["first"]) == min(times)
    assert _at(summary["time_range"]["last"]) == max(times)
    assert summary["invalid_lines"]["count"] == len(BAD_LINES)
    assert [i["line"] for i in summary["invalid_lines"]["shown"]] == sorted(BAD_LINES)
    # Not a terminal: progress as plain lines on stderr, the summary alone on stdout.
    assert f"publish {imported.path}: done" in imported.result.stderr

    distinct = {e["event_id"]: e for e in events}
    by_type = Counter(e["type"] for e in distinct.values())
    tables = [("purchases", "purchase"), ("support_events", "support"),
              ("survey_responses", "survey")]
    counts = read_stored(imported.stack, {t: f"SELECT count() FROM {t} FINAL" for t, _ in tables})
    for table, family in tables:
        assert counts[table][0][0] == by_type[family]


def _frames(events: list[dict[str, Any]]) -> tuple[pd.DataFrame, ...]:
    """The raw tables the events make, for the pandas KPI reference."""
    def frame(table: str, family: str) -> pd.DataFrame:
        rows = pd.DataFrame([e for e in events if e["type"] == family])
        # ClickHouse keeps occurred_at to the millisecond (DateTime64(3)); the generator
        # writes microseconds.
        stored_at = pd.to_datetime(rows["occurred_at"], utc=True).dt.floor("ms")
        return rows.reindex(columns=COLUMNS[table]).assign(occurred_at=stored_at,
                                                           ingested_at=INGESTED)

    purchases = frame("purchases", "purchase")
    purchases["kind"] = purchases["kind"].fillna("order")
    return (purchases, frame("support_events", "support"),
            frame("survey_responses", "survey"))


def test_history_is_stored_as_historical_and_not_published(imported: Imported) -> None:
    """A history ending two years ago: nothing on churn-risk or milestones; every output
    stored with `historical`; the ids equal a replay with the horizon disabled; the
    summary's outputs equal the stored ones and its KPIs the pandas reference."""
    stack = imported.stack
    assert stack.servers is not None
    assert read_topic(stack.servers, "churn-risk") == []
    assert read_topic(stack.servers, "milestones") == []

    tables = read_stored(stack, {
        "outputs": "SELECT 'churn-risk', rule_id, count(), countIf(historical) FROM "
                   "churn_risk_alerts FINAL GROUP BY rule_id UNION ALL SELECT 'milestones', "
                   "kind, count(), countIf(historical) FROM milestones FINAL GROUP BY kind",
        "alert_ids": "SELECT alert_id FROM churn_risk_alerts FINAL",
        "milestone_ids": "SELECT milestone_id FROM milestones FINAL"})
    rows = tables["outputs"]
    stored = {(topic, kind): int(n) for topic, kind, n, _ in rows}
    assert all(int(n) == int(historical) for *_, n, historical in rows), rows
    assert sum(stored.values()) > CUSTOMERS  # at least a first_purchase each, and more

    with patched_environ({**stack.env, **HORIZON_DISABLED}):
        replay_settings = Settings()
    results = reference_results(imported.events, replay_settings)
    assert ({r[0] for r in tables["alert_ids"]}, {r[0] for r in tables["milestone_ids"]}) == (
        {r[0] for res in results for r in res.rows.rows.get("churn_risk_alerts", [])},
        {r[0] for res in results for r in res.rows.rows.get("milestones", [])})

    summary = imported.summary
    assert {(o["topic"], o["kind"]): o["historical"] for o in summary["outputs"]
            if o["historical"]} == stored
    assert all(o["live"] == 0 for o in summary["outputs"])

    kpis = summary["kpis"]
    start, end = (dt.date.fromisoformat(kpis["period"][k]) for k in ("start", "end"))
    last = max(_at(e["occurred_at"]) for e in imported.events)
    assert (start, end) == (dt.date(last.year - 1, 1, 1), dt.date(last.year, 1, 1))
    reference = Reference(*_frames(imported.events),
                          activity_window_days=replay_settings.activity_window_days,
                          lifespan_cap_years=replay_settings.lifespan_cap_years)
    expected = reference.scalar_outputs(start, end)
    assert_outputs_equal({k: kpis["values"][k] for k in expected}, expected)


def test_live_events_after_the_import_are_published(imported: Imported,
                                                    tmp_path: Path) -> None:
    """Going live: a purchase today from customers with an open historical
    `inactive_overdue` episode is published as a live `win_back` that closes it."""
    stack = imported.stack
    assert stack.servers is not None
    last_order: dict[str, dt.datetime] = {}
    for e in imported.events:
        if e["type"] == "purchase" and e.get("kind", "order") == "order":
            at = _at(e["occurred_at"])
            last_order[e["customer_id"]] = max(at, last_order.get(e["customer_id"], at))
    overdue = read_stored(stack, {"overdue": (
        "SELECT customer_id, max(decided_at) FROM churn_risk_alerts FINAL "
        "WHERE rule_id = 'inactive_overdue' GROUP BY customer_id")})["overdue"]
    # Open: raised after the customer's last order, which nothing has followed since.
    open_episodes = sorted(c for c, decided in overdue if _ts(decided) > last_order[c])
    chosen = open_episodes[:3]
    assert chosen, "the history should leave some customers overdue"

    now = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(seconds=30)
    live = tmp_path / "live.jsonl"
    live.write_text("".join(json.dumps({
        "type": "purchase", "event_id": f"live-{c}", "customer_id": c,
        "occurred_at": now.isoformat().replace("+00:00", "Z"), "order_id": f"live-{c}",
        "amount": 42.0}) + "\n" for c in chosen))
    started = time.monotonic()
    result = retention(stack.env, "import", str(live), "--format", "json", "--timeout", "300")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert {(o["topic"], o["kind"]): o["live"] for o in summary["outputs"]}[
        ("milestones", "win_back")] == len(chosen)
    assert summary["kpis"] is None  # a few minutes of events: no complete calendar year

    published = read_topic(stack.servers, "milestones")
    assert sorted(m["customer_id"] for m in published if m["kind"] == "win_back") == chosen
    # Everything published is from now, nothing from the history.
    recent = now - dt.timedelta(seconds=1)
    assert all(_at(m["decided_at"]) >= recent for m in published)
    assert all(_at(a["decided_at"]) >= recent for a in read_topic(stack.servers, "churn-risk"))

    after = read_stored(stack, {
        "wins": "SELECT customer_id, historical, decided_at FROM milestones FINAL "
                f"WHERE kind = 'win_back' AND has({_ids(chosen)}, customer_id)",
        "states": "SELECT customer_id, open_risk_rules FROM customer_state FINAL "
                  f"WHERE has({_ids(chosen)}, customer_id)"})
    wins, states = after["wins"], after["states"]
    assert sorted((c, bool(h)) for c, h, at in wins if _ts(at) >= recent) == [
        (c, False) for c in chosen]
    assert sorted(states) == [[c, []] for c in chosen]
    print(f"live import of {len(chosen)} purchases: {time.monotonic() - started:.1f} s")


def test_timeout_exits_4_with_the_input_summary(imported: Imported, tmp_path: Path) -> None:
    """--timeout 0: the events are sent, the command does not wait: exit 4, and the
    summary says what was read and sent but claims no outputs or KPIs."""
    now = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(seconds=30)
    path = tmp_path / "answers.jsonl"
    path.write_text("".join(json.dumps({
        "type": "survey", "event_id": f"late-{n}", "customer_id": f"cust-{n:06d}",
        "occurred_at": now.isoformat().replace("+00:00", "Z"), "survey": "csat",
        "score": 4}) + "\n" for n in range(5)))
    result = retention(imported.stack.env, "import", str(path), "--format", "json",
                       "--timeout", "0")
    assert result.returncode == 4, result.stderr
    summary = json.loads(result.stdout)
    assert summary["events"] == {"survey": 5}
    assert summary["outputs"] is None and summary["kpis"] is None
    assert "did not finish within 0 s" in result.stderr
