"""Importing years of history, then going live: history builds state and ClickHouse rows but
reaches no subscriber; decisions are the same as a replay's; live events after the import
are decided against the imported state and published."""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd

from retention.demo.synthetic import HistorySpec, generate_history
from sinks.rows import COLUMNS
from streams.processor import BatchResult, InMessage, StreamProcessor
from streams.signals import SignalEngine

from .helpers import TOPIC_OF, FakeClock, Offsets, processor_settings

# "Today", as the injected wall clocks say.
NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
DAY = timedelta(days=1)
CUSTOMERS = 600
LATENESS = 3600.0


def history(end: datetime, seed: int = 11) -> list[dict[str, Any]]:
    """Three years of the demo's generated history, ending at `end`."""
    return generate_history(HistorySpec(customers=CUSTOMERS, months=36, seed=seed, end=end))


class Worker:
    """The stream processor as a worker runs it, with the wall clock injected: the engine
    stamps outputs with it, the live horizon is measured against it."""

    def __init__(self, now: datetime = NOW, **signals: Any) -> None:
        self.now = now
        # One input partition: every key maps to partition 0, where send() puts it.
        settings = processor_settings(kafka={"partitions": 1}, live_watermark=False,
                                      allowed_lateness_s=LATENESS, **signals)
        self.engine = SignalEngine(settings.signals, wall_clock=lambda: self.now)
        # watermarks follow event time (and drain()): nothing idles mid-run
        self.proc = StreamProcessor(settings, self.engine, load_state=lambda _c, _p: None,
                                    monotonic=FakeClock(0.0),
                                    wall_time=lambda: self.now.timestamp())
        self.offsets = Offsets()
        self.results: list[BatchResult] = []

    def send(self, events: list[dict[str, Any]], batch: int = 500) -> None:
        messages = []
        for e in events:
            topic = TOPIC_OF[e["type"]]
            offset = self.offsets.take(topic, 0)
            messages.append(InMessage(topic, 0, offset, e["customer_id"].encode(),
                                      json.dumps(e).encode(), handle=(topic, offset)))
        for i in range(0, len(messages), batch):
            self.results.append(self.proc.process(messages[i:i + batch]))

    def drain(self, until: datetime) -> None:
        """The watermark jumps to `until`: the wall clock, once the history is in."""
        self.results.append(self.proc.drain(until.timestamp()))

    def messages(self, topic: str) -> list[dict[str, Any]]:
        return [json.loads(m.value) for r in self.results for m in r.messages
                if m.topic == topic]

    def rows(self, table: str) -> list[dict[str, Any]]:
        return [dict(zip(COLUMNS[table], row, strict=True))
                for r in self.results for row in r.rows.rows.get(table, [])]

    def outputs(self) -> list[dict[str, Any]]:
        """Every output stored, as its payload, in the order it was raised."""
        return [json.loads(row["payload"]) for table in ("churn_risk_alerts", "milestones")
                for row in self.rows(table)]

    def forget_results(self) -> None:
        self.results = []


def imported(events: list[dict[str, Any]], **signals: Any) -> Worker:
    """The history sent, then the watermark jumps to the wall clock (NOW)."""
    worker = Worker(**signals)
    worker.send(events)
    worker.drain(NOW)
    return worker


def _id(output: dict[str, Any]) -> str:
    return str(output.get("alert_id") or output["milestone_id"])


def _kind(output: dict[str, Any]) -> str:
    return str(output.get("rule_id") or output["kind"])


def _decision(output: dict[str, Any]) -> dict[str, Any]:
    """An output minus its delivery fields (the only ones the wall clock sets)."""
    return {k: v for k, v in output.items() if k not in ("raised_at", "historical")}


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# --- an import ending two years ago -------------------------------------------------------
TWO_YEARS_AGO = NOW - timedelta(days=730)


def test_imported_history_is_stored_as_historical_and_not_published() -> None:
    """Three years ending two years ago: nothing on churn-risk or milestones, every stored
    output flagged historical, and the decisions (ids, event times, order, content) those
    of a replay with the horizon disabled, whose outputs are all live and published."""
    events = history(TWO_YEARS_AGO)
    worker = imported(events)
    replay = imported(events, live_horizon_s=math.inf)

    assert worker.messages("churn-risk") == worker.messages("milestones") == []
    stored = worker.outputs()
    kinds = Counter(_kind(o) for o in stored)
    assert {"inactive_overdue", "slow_resolution", "nps_detractor", "anniversary",
            "first_purchase", "win_back"} <= kinds.keys(), kinds
    for table in ("churn_risk_alerts", "milestones"):
        rows = worker.rows(table)
        assert rows and all(row["historical"] is True for row in rows), table
    assert all(o["historical"] is True for o in stored)
    # none of them is news: each was decided more than a day before it was raised
    assert max(_at(o["decided_at"]) for o in stored) < NOW - DAY

    replayed = replay.outputs()
    assert not any(o["historical"] for o in replayed)
    assert {_id(o) for o in stored} == {_id(o) for o in replayed}
    assert [_decision(o) for o in stored] == [_decision(o) for o in replayed]
    published = replay.messages("churn-risk") + replay.messages("milestones")
    assert sorted(map(_id, published)) == sorted(map(_id, replayed))


def test_publish_historical_publishes_the_backlog_flagged() -> None:
    """RETENTION_SIGNALS__PUBLISH_HISTORICAL: the same outputs are published, each saying
    it is historical."""
    events = history(TWO_YEARS_AGO)
    worker = imported(events, publish_historical=True)
    published = worker.messages("churn-risk") + worker.messages("milestones")
    assert sorted(map(_id, published)) == sorted(map(_id, worker.outputs()))
    assert published and all(o["historical"] is True for o in published)


def _open_overdue_customers(events: list[dict[str, Any]], stored: list[dict[str, Any]],
                            ) -> list[str]:
    """Customers whose inactive_overdue alert came after their last order: the episode is
    still open (an order closes it), read from the events and the alerts stored."""
    last_order: dict[str, datetime] = {}
    for e in events:
        if e["type"] == "purchase" and e.get("kind", "order") == "order":
            when = _at(e["occurred_at"])
            last_order[e["customer_id"]] = max(when, last_order.get(e["customer_id"], when))
    return sorted({o["customer_id"] for o in stored if _kind(o) == "inactive_overdue"
                   and _at(o["decided_at"]) > last_order[o["customer_id"]]})


def test_live_events_after_the_import_are_decided_against_it_and_published() -> None:
    """A day after the import, customers come back: a returning customer with an open
    historical inactive_overdue episode raises a live win_back, published, which closes
    it; an unhappy known customer's detractor answer is a live alert; nobody known gets a
    first_purchase; a new customer does."""
    events = history(TWO_YEARS_AGO)
    worker = imported(events)
    stored = worker.outputs()
    overdue = _open_overdue_customers(events, stored)
    assert len(overdue) >= 3, overdue
    returning = overdue[:3]
    unhappy = next(e["customer_id"] for e in events if e["customer_id"] not in returning)

    worker.forget_results()
    worker.now = live = NOW + DAY
    stamp = (live - timedelta(hours=2)).isoformat().replace("+00:00", "Z")
    live_events = [
        {"type": "purchase", "event_id": f"live-{cid}", "customer_id": cid,
         "occurred_at": stamp, "order_id": f"live-{cid}", "amount": 30.0}
        for cid in [*returning, "cust-new"]
    ] + [{"type": "survey", "event_id": "live-nps", "customer_id": unhappy,
          "occurred_at": stamp, "survey": "nps", "score": 2}]
    worker.send(live_events)
    worker.drain(live)

    milestones = worker.messages("milestones")
    wins = {m["customer_id"]: m for m in milestones if m["kind"] == "win_back"}
    assert sorted(wins) == returning
    for cid, win in wins.items():
        assert win["historical"] is False
        assert "inactive_overdue" in win["detail"]
        assert win["state"]["open_risk_rules"] == []
        assert win["state"]["orders"] > 1  # the imported orders count
        # the episode it closes was raised during the import, as history
        assert any(o["customer_id"] == cid and _kind(o) == "inactive_overdue"
                   and o["historical"] for o in stored)
    firsts = [m["customer_id"] for m in milestones if m["kind"] == "first_purchase"]
    assert firsts == ["cust-new"]
    (alert,) = [a for a in worker.messages("churn-risk") if a["customer_id"] == unhappy]
    assert (alert["rule_id"], alert["historical"]) == ("nps_detractor", False)
    # live: everything published is stored, nothing stored is held back
    published = worker.messages("churn-risk") + milestones
    assert sorted(map(_id, published)) == sorted(map(_id, worker.outputs()))
    assert not any(row["historical"] for row in worker.rows("milestones"))


# --- an import ending ten years ago -------------------------------------------------------
TEN_YEARS_AGO = NOW - timedelta(days=round(10 * 365.25))


def reference_anniversaries(events: list[dict[str, Any]], until: datetime,
                            window: timedelta) -> set[tuple[str, int, datetime]]:
    """(customer, k, k-th anniversary of the first order) for every anniversary up to
    `until` with an order in [anniversary - window, anniversary) (signals.md), from the
    events alone: orders deduplicated by event_id, refunds not counted; calendar years as
    pandas adds them (29 February + 1 year = 28 February)."""
    orders = pd.DataFrame([e for e in events if e["type"] == "purchase"
                           and e.get("kind", "order") == "order"]).drop_duplicates("event_id")
    orders["at"] = pd.to_datetime(orders["occurred_at"], utc=True)
    times = {str(cid): sorted(at) for cid, at in orders.groupby("customer_id")["at"]}
    firsts = orders.groupby("customer_id")["at"].min()
    pairs = set()
    for k in range(1, until.year - firsts.min().year + 1):
        for cid, anniversary in (firsts + pd.DateOffset(years=k)).items():
            if anniversary <= until and any(anniversary - window <= t < anniversary
                                            for t in times[str(cid)]):
                pairs.add((str(cid), k, anniversary.to_pydatetime()))
    return pairs


def test_ten_year_old_history_raises_only_anniversaries_of_active_customers() -> None:
    """A history ending ten years ago, drained to today: one anniversary per (customer, k)
    with an order in the activity window before it, as counted from the events; none of
    the later years; none published."""
    events = history(TEN_YEARS_AGO, seed=12)
    worker = imported(events)
    got = {(m["customer_id"], int(m["value"]), _at(m["decided_at"]))
           for m in worker.outputs() if _kind(m) == "anniversary"}
    expected = reference_anniversaries(events, NOW, timedelta(days=365))
    assert len(expected) > 100
    assert got == expected
    assert len(worker.rows("milestones")) == len({_id(o) for o in worker.outputs()
                                                  if "milestone_id" in o})
    assert worker.messages("churn-risk") == worker.messages("milestones") == []
    # the whole window after the history: no anniversary more than a year after it
    assert max(at for *_, at in got) <= TEN_YEARS_AGO + timedelta(days=366)


class _Calls:
    """Counts calls of an engine method, as the processor makes them."""

    def __init__(self, method: Callable[..., Any]) -> None:
        self.method = method
        self.count = 0

    def __call__(self, *args: Any) -> Any:
        self.count += 1
        return self.method(*args)


def _catch_up(end: datetime) -> tuple[Counter[str], int, int]:
    """The history ending at `end` sent, then drained to NOW: the outputs of the drain by
    kind, and the engine's next_due and fire_due calls it took."""
    worker = Worker()
    worker.send(history(end, seed=13))
    worker.forget_results()
    next_due = worker.engine.next_due = _Calls(worker.engine.next_due)  # type: ignore[method-assign]
    fire_due = worker.engine.fire_due = _Calls(worker.engine.fire_due)  # type: ignore[method-assign]
    worker.drain(NOW)
    return Counter(_kind(o) for o in worker.outputs()), next_due.count, fire_due.count


def test_catching_up_costs_per_output_not_per_year_skipped() -> None:
    """The same history ending ten or fourteen years ago (a whole number of leap cycles
    apart) takes the same work to catch up to today: the same outputs, the same engine
    calls. Years skipped cost nothing."""
    ten = _catch_up(TEN_YEARS_AGO)
    fourteen = _catch_up(TEN_YEARS_AGO - timedelta(days=1461))
    assert ten == fourteen
    outputs, next_due, fire_due = ten
    assert outputs["anniversary"] > 0 and outputs["inactive_overdue"] > 0
    # each timer that fires raises at least one output, and re-arms once
    assert fire_due <= sum(outputs.values())
    assert next_due <= 2 * fire_due + sum(outputs.values())
