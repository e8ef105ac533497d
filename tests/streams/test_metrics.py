"""The worker's metrics over the pipeline glue: what the counters say equals what was offered,
counted by hand, and what the fakes recorded as written; the scrape is read back with
prometheus_client's own parser."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from faust.types import TP
from prometheus_client.parser import text_string_to_metric_families

from schemas import InputEvent, Purchase, SupportEvent, SurveyResponse
from streams.metrics import WorkerLive, WorkerMetrics, committed_lag
from streams.outputs import partition_for
from tests.streams.helpers import at, purchase, survey, wire
from tests.streams.test_pipeline_glue import (
    IDLE_S,
    PARTITIONS,
    FakeMessage,
    Glue,
    build,
    glue_settings,
    process_and_release,
)

TOPIC = {Purchase: "purchases", SupportEvent: "support-events", SurveyResponse: "survey-responses"}
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def placed(event: InputEvent, offset: int, key: bytes | None = None) -> FakeMessage:
    """`event` on its topic, in the partition its customer maps to (keyed `key` if given)."""
    own = event.customer_id.encode()
    return FakeMessage(TOPIC[type(event)], partition_for(own, PARTITIONS), offset,
                       own if key is None else key, wire(event))


def raw(topic: str, offset: int, value: bytes, key: bytes = b"c0") -> FakeMessage:
    return FakeMessage(topic, partition_for(key, PARTITIONS), offset, key, value)


def scrape(metrics: WorkerMetrics) -> Samples:
    """Every sample of the exposition, by (sample name, sorted labels)."""
    text = metrics.exposition()[0].decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def labelled(samples: Samples, name: str, **labels: str) -> float:
    return samples[name, tuple(sorted(labels.items()))]


def nonzero(samples: Samples, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {labels: v for (n, labels), v in samples.items() if n == name and v}


def watch(glue: Glue) -> WorkerMetrics:
    """The glue's metrics, reading the pipeline's status as the worker does."""
    metrics = glue.pipeline.metrics
    metrics.watch(WorkerLive(status=glue.pipeline.status, lag=dict,
                             write_errors=dict, write_retries=lambda: 0))
    return metrics


def bad_batch() -> list[FakeMessage]:
    """Three valid purchases, a detractor's NPS answer, two refused messages and one keyed
    by someone else (re-routed)."""
    detractor = survey("c1", at(0, hours=2), "nps", 2)
    too_early = json.dumps({"event_id": "old-1", "customer_id": "c2",
                            "occurred_at": "1990-01-01T00:00:00Z", "ticket_id": "t",
                            "action": "opened", "channel": "email"}).encode()
    moved = purchase("c2", at(1), event_id="moved-1")
    return [
        placed(purchase("c0", at(0)), 0), placed(purchase("c1", at(0, hours=1)), 1),
        placed(purchase("c2", at(0, hours=3)), 2), placed(detractor, 0),
        raw("purchases", 3, b"{not json"), raw("support-events", 0, too_early, b"c2"),
        # c2 maps to partition 1: keyed c2 but in partition 0, so it is re-routed.
        FakeMessage("purchases", 1 - partition_for(b"c2", PARTITIONS), 4, b"c2", wire(moved)),
    ]


def test_written_batch_counts_equal_what_was_offered_and_what_the_sink_got() -> None:
    """Events by topic and outcome, dead letters by reason, alerts and milestones by kind
    equal hand counts of the batch and the rows the sink was given."""
    async def scenario() -> None:
        glue = build()
        metrics = watch(glue)
        await process_and_release(glue, bad_batch())
        s = scrape(metrics)
        events = nonzero(s, "retention_events_total")
        assert events == {
            (("outcome", "accepted"), ("topic", "purchases")): 3,
            (("outcome", "accepted"), ("topic", "survey-responses")): 1,
            (("outcome", "dead_letter"), ("topic", "purchases")): 1,
            (("outcome", "dead_letter"), ("topic", "support-events")): 1,
            (("outcome", "rerouted"), ("topic", "purchases")): 1,
        }
        assert nonzero(s, "retention_dead_letters_total") == {
            (("reason", "parse"), ("topic", "purchases")): 1,
            (("reason", "event_time"), ("topic", "support-events")): 1,
        }
        # What the sink was handed, counted from its rows independently of the metrics.
        written = glue.sink.rows
        by_rule = Counter((r[2], str(r[5]).lower()) for r in written["churn_risk_alerts"])
        by_kind = Counter((r[2], str(r[6]).lower()) for r in written["milestones"])
        assert by_rule[("nps_detractor", "false")] == 1
        assert by_kind[("first_purchase", "false")] == 3
        assert {(dict(k)["rule_id"], dict(k)["historical"]): v
                for k, v in nonzero(s, "retention_alerts_total").items()} == by_rule
        assert {(dict(k)["kind"], dict(k)["historical"]): v
                for k, v in nonzero(s, "retention_milestones_total").items()} == by_kind
        assert labelled(s, "retention_alerts_total", rule_id="low_csat", historical="true") == 0
    asyncio.run(scenario())


def test_outputs_decided_long_ago_are_counted_as_historical() -> None:
    """With the default 24 h live horizon, outputs dated months before the wall clock are
    counted under historical="true", none under "false"."""
    async def scenario() -> None:
        settings = glue_settings()
        settings.signals.live_horizon_s = 86_400.0
        glue = build(settings=settings)
        metrics = watch(glue)
        await process_and_release(glue, [placed(purchase(f"c{i}", at(i)), i) for i in range(3)])
        s = scrape(metrics)
        assert labelled(s, "retention_milestones_total", kind="first_purchase",
                        historical="true") == 3
        assert labelled(s, "retention_milestones_total", kind="first_purchase",
                        historical="false") == 0
    asyncio.run(scenario())


def test_nothing_is_counted_before_its_batch_is_written() -> None:
    """While ClickHouse has not answered, the batch's events are not counted; then they are."""
    async def scenario() -> None:
        glue = build()
        metrics = watch(glue)
        glue.sink.gate = asyncio.Event()
        await glue.pipeline.process([placed(purchase("c0", at(0)), 0)])
        glue.clock.advance(IDLE_S + 1)
        await glue.pipeline.tick()
        await asyncio.sleep(0.05)
        s = scrape(metrics)
        assert labelled(s, "retention_events_total", topic="purchases", outcome="accepted") == 0
        # Its rows wait for ClickHouse and its message for the acknowledgement.
        assert labelled(s, "retention_work_pending") == glue.pipeline.status()["rows_pending"] > 1
        glue.sink.gate.set()
        await glue.settle()
        s = scrape(metrics)
        assert labelled(s, "retention_events_total", topic="purchases", outcome="accepted") == 1
        assert labelled(s, "retention_work_pending") == 0
    asyncio.run(scenario())


def test_live_gauges_agree_with_the_status_and_durations_count_each_stage() -> None:
    """Reorder buffer, pending work, rows written and duplicates equal `retention status`;
    each histogram has one observation per processed batch, write, produce and state flush."""
    async def scenario() -> None:
        glue = build()
        metrics = watch(glue)
        event = purchase("c0", at(0))
        await process_and_release(glue, [placed(event, 0)])
        await process_and_release(glue, [placed(event, 1)])  # the same event again
        # Two events in a partition whose watermark has not passed them: still buffered.
        await glue.pipeline.process([placed(purchase("c1", at(5)), 2),
                                     placed(purchase("c1", at(6)), 3)])
        await glue.settle()
        status, s = glue.pipeline.status(), scrape(metrics)
        assert status["events_buffered"] == 2
        assert labelled(s, "retention_reorder_buffer_events") == status["events_buffered"]
        assert labelled(s, "retention_work_pending") == status["rows_pending"]
        assert labelled(s, "retention_clickhouse_rows_written_total") == sum(
            len(rows) for rows in glue.sink.rows.values())
        assert labelled(s, "retention_duplicates_total") == 1
        writes = sum(1 for e in glue.timeline if e == "rows written")
        flushes = sum(1 for e in glue.timeline if e == "state stored")
        assert labelled(s, "retention_batch_duration_seconds_count", stage="process") == 3
        assert labelled(s, "retention_batch_duration_seconds_count", stage="clickhouse") \
            == writes
        # Outputs are produced per processed result (timer results too), writes coalesce.
        assert labelled(s, "retention_batch_duration_seconds_count", stage="produce") \
            == glue.publisher.calls >= writes
        assert labelled(s, "retention_state_flush_duration_seconds_count") == flushes > 0
    asyncio.run(scenario())


@dataclass
class FakeMonitor:
    tp_committed_offsets: dict[TP, int] = field(default_factory=dict)


@dataclass
class FakeApp:
    monitor: FakeMonitor


class EndsConsumer:
    def __init__(self, ends: dict[tuple[str, int], int], assigned: set[int]) -> None:
        self.ends, self.assigned = ends, assigned

    def end_offset(self, topic: str, partition: int) -> int | None:
        return self.ends.get((topic, partition))

    def assigned_partitions(self) -> set[int]:
        return self.assigned

    def generation(self) -> int:
        return 1

    def ack(self, messages: Any) -> None:
        raise AssertionError("not used")


def test_lag_is_high_watermark_minus_commit_for_assigned_partitions_only() -> None:
    """Lag per (topic, partition) is end minus committed offset, for assigned partitions
    with a known commit and a known end; a revoked partition's old commit is not shown."""
    committed = {TP("purchases", 0): 7, TP("purchases", 1): 10, TP("support-events", 0): 3,
                 TP("purchases", 2): 1}
    ends = {("purchases", 0): 12, ("purchases", 1): 10, ("support-events", 0): 3,
            ("survey-responses", 0): 9, ("purchases", 2): 50}
    app = FakeApp(FakeMonitor(committed))
    lag = committed_lag(app, EndsConsumer(ends, {0, 1}),  # type: ignore[arg-type]
                        ["purchases", "support-events", "survey-responses"])
    assert lag == {("purchases", 0): 5, ("purchases", 1): 0, ("support-events", 0): 0}


def test_lag_series_are_labelled_by_topic_and_partition() -> None:
    """The scrape shows each lag entry as one gauge sample with topic and partition labels."""
    metrics = WorkerMetrics(glue_settings())
    status = {"events_buffered": 0, "rows_pending": 0, "rows_written": 0,
              "counters": {"duplicates": 0, "late": 0, "timer_errors": 0}}
    metrics.watch(WorkerLive(status=lambda: status,
                             lag=lambda: {("purchases", 0): 5, ("purchases", 3): 0},
                             write_errors=lambda: {"purchases": 2}, write_retries=lambda: 2))
    s = scrape(metrics)
    assert nonzero(s, "retention_consumer_lag") == {(("partition", "0"),
                                                     ("topic", "purchases")): 5}
    assert labelled(s, "retention_consumer_lag", topic="purchases", partition="3") == 0
    assert labelled(s, "retention_clickhouse_write_errors_total", table="purchases") == 2
    # Every table the worker writes has its series, at 0 until an insert fails.
    assert labelled(s, "retention_clickhouse_write_errors_total", table="milestones") == 0
    assert labelled(s, "retention_clickhouse_write_retries_total") == 2
