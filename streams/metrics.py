"""The worker's Prometheus metrics: one registry per worker, served at /metrics (streams/web.py).

What a batch produced (events by outcome, dead letters, alerts, milestones) is counted once
its rows are in ClickHouse, from the rows themselves: the counters then match what a query
of the tables finds, and a batch given up in a hand-over is counted by whoever writes it
next. What the worker holds now (consumer lag, the reorder buffer, unfinished work) and the
sink's own counts are read when Prometheus scrapes, from the same places `retention status`
reads, so the two agree. Nothing here runs per event.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any, get_args

import faust
from faust.types import TP
from prometheus_client import CollectorRegistry, Histogram
from prometheus_client import Counter as PromCounter
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder

from retention.settings import Settings
from schemas import MODELS
from schemas.alerts import DeadLetterStage, MilestoneKind, RuleId
from sinks.rows import COLUMNS, EVENT_TABLES
from streams.ports import ConsumerPort
from streams.processor import BatchResult
from streams.processor.parse import families_by_topic

OUTCOMES = ("accepted", "rerouted", "dead_letter")
# The labels' columns in the rows the sink writes (sinks/rows.py), read in C by itemgetter.
_ALERT_LABELS = itemgetter(*(COLUMNS["churn_risk_alerts"].index(c)
                             for c in ("rule_id", "historical")))
_MILESTONE_LABELS = itemgetter(*(COLUMNS["milestones"].index(c) for c in ("kind", "historical")))
_LETTER_LABELS = itemgetter(*(COLUMNS["dead_letters"].index(c) for c in ("topic", "stage")))
# The tables the worker writes besides the raw event tables.
_OUTPUT_TABLES = ("churn_risk_alerts", "milestones", "dead_letters", "customer_state")


@dataclass(frozen=True)
class WorkerLive:
    """What a scrape reads from the running worker: the pipeline and its sink."""

    # The worker's status, as `retention status` shows it (Pipeline.status).
    status: Callable[[], dict[str, Any]]
    # Messages per (input topic, partition) past the worker's last commit.
    lag: Callable[[], Mapping[tuple[str, int], int]]
    # Failed ClickHouse inserts per table, and batches written again after one.
    write_errors: Callable[[], Mapping[str, int]]
    write_retries: Callable[[], int]


@dataclass
class Tally:
    """What one batch's rows add to the counters, taken before the sink consumes them."""

    events: Counter[tuple[str, str]] = field(default_factory=Counter)
    # (topic, stage)
    dead_letters: Counter[tuple[str, str]] = field(default_factory=Counter)
    # (rule_id or kind, historical)
    alerts: Counter[tuple[str, bool]] = field(default_factory=Counter)
    milestones: Counter[tuple[str, bool]] = field(default_factory=Counter)


class WorkerMetrics:
    def __init__(self, settings: Settings) -> None:
        self.registry = CollectorRegistry()
        families = families_by_topic(settings)
        self.input_topics = frozenset(families)
        # Each input topic's raw table: its row count is the topic's accepted events.
        self.topic_of_table = {EVENT_TABLES[MODELS[family]]: topic
                               for topic, family in families.items()}
        r = self.registry
        self.events = PromCounter(
            "retention_events", "Input messages written, by topic and what became of them: "
            "accepted (into its raw table), rerouted (produced again keyed by customer_id; "
            "its copy is counted again when it arrives), dead_letter (refused before it "
            "was applied)", ["topic", "outcome"], registry=r)
        self.dead_letters = PromCounter(
            "retention_dead_letters", "Dead letters written, by the input topic of the "
            "message and the stage that refused it (size, parse, event_time, placement, "
            "processing)", ["topic", "reason"], registry=r)
        self.alerts = PromCounter(
            "retention_alerts", "Churn-risk alerts written, by rule and whether they are "
            "historical (decided more than the live horizon before they were raised)",
            ["rule_id", "historical"], registry=r)
        self.milestones = PromCounter(
            "retention_milestones", "Milestones written, by kind and whether they are "
            "historical", ["kind", "historical"], registry=r)
        self.batch_seconds = Histogram(
            "retention_batch_duration_seconds", "Time per batch and stage: process (one "
            "intake batch through the processor), clickhouse (one insert of the rows queued "
            "meanwhile, retries included), produce (one processed batch's outputs onto "
            "Kafka)", ["stage"], registry=r)
        self.flush_seconds = Histogram(
            "retention_state_flush_duration_seconds", "Time to store one state flush in "
            "the table and its changelog", registry=r)
        # Every series from the start, at 0: rate() and absent-series alerts need them.
        for topic in families:
            for outcome in OUTCOMES:
                self.events.labels(topic, outcome)
            for stage in get_args(DeadLetterStage):
                self.dead_letters.labels(topic, stage)
        for historical in ("false", "true"):
            for rule in get_args(RuleId):
                self.alerts.labels(rule, historical)
            for kind in get_args(MilestoneKind):
                self.milestones.labels(kind, historical)
        for stage in ("process", "clickhouse", "produce"):
            self.batch_seconds.labels(stage)

    def watch(self, live: WorkerLive) -> None:
        """Read `live` at every scrape (once per worker)."""
        tables = (*self.topic_of_table, *_OUTPUT_TABLES)
        self.registry.register(_LiveCollector(live, tables))

    def exposition(self, accept: str = "") -> tuple[bytes, str]:
        """The scrape's body and content type, in the format the `accept` header asks for:
        OpenMetrics or Prometheus text 1.0.0 when asked, Prometheus text 0.0.4 otherwise."""
        encode, content_type = choose_encoder(accept)
        return encode(self.registry), content_type

    def spent(self, stage: str, seconds: float) -> None:
        """A pipeline stage took `seconds` (stages as in the pipeline's status)."""
        if stage == "table":
            self.flush_seconds.observe(seconds)
        else:
            self.batch_seconds.labels(stage).observe(seconds)

    def tally(self, result: BatchResult) -> Tally:
        """What `result` adds once written; call before the sink takes its rows."""
        rows = result.rows.rows
        tally = Tally(
            dead_letters=Counter(map(_LETTER_LABELS, rows.get("dead_letters", ()))),
            alerts=Counter(map(_ALERT_LABELS, rows.get("churn_risk_alerts", ()))),
            milestones=Counter(map(_MILESTONE_LABELS, rows.get("milestones", ()))))
        for table, topic in self.topic_of_table.items():
            if table in rows:
                tally.events[topic, "accepted"] = len(rows[table])
        for (topic, stage), n in tally.dead_letters.items():
            if stage != "processing":  # a processing failure's event was accepted before
                tally.events[topic, "dead_letter"] += n
        if result.rerouted:
            for message in result.messages:
                if message.topic in self.input_topics:  # a re-routed copy: same topic
                    tally.events[message.topic, "rerouted"] += 1
        return tally

    def written(self, tally: Tally) -> None:
        """The batch `tally` was taken from is in ClickHouse and on Kafka: count it."""
        for (topic, outcome), n in tally.events.items():
            self.events.labels(topic, outcome).inc(n)
        for (topic, stage), n in tally.dead_letters.items():
            self.dead_letters.labels(topic, stage).inc(n)
        for (rule, historical), n in tally.alerts.items():
            self.alerts.labels(rule, _flag(historical)).inc(n)
        for (kind, historical), n in tally.milestones.items():
            self.milestones.labels(kind, _flag(historical)).inc(n)


def _flag(historical: bool) -> str:
    return "true" if historical else "false"


class _LiveCollector:
    """The worker's state now, read at scrape time."""

    def __init__(self, live: WorkerLive, tables: tuple[str, ...]) -> None:
        self.live = live
        self.tables = tables

    def collect(self) -> Iterator[Metric]:
        status = self.live.status()
        lag = GaugeMetricFamily(
            "retention_consumer_lag", "Messages in an assigned input partition past the "
            "worker's last commit (high watermark of its last fetch minus committed offset); "
            "a partition shows from the worker's first commit on", labels=["topic", "partition"])
        for (topic, partition), n in sorted(self.live.lag().items()):
            lag.add_metric([topic, str(partition)], n)
        yield lag
        yield GaugeMetricFamily(
            "retention_reorder_buffer_events", "Valid events held in the event-time reorder "
            "buffers until the watermark passes them", value=status["events_buffered"])
        yield GaugeMetricFamily(
            "retention_work_pending", "Rows waiting for ClickHouse plus messages taken in and "
            "not yet acknowledged: 0 when the worker is idle (`retention status`)",
            value=status["rows_pending"])
        yield CounterMetricFamily(
            "retention_clickhouse_rows_written", "Rows inserted into ClickHouse",
            value=status["rows_written"])
        errors = CounterMetricFamily(
            "retention_clickhouse_write_errors", "Inserts ClickHouse refused or failed, by "
            "table (each is retried with backoff)", labels=["table"])
        failed = self.live.write_errors()
        for table in sorted({*self.tables, *failed}):
            errors.add_metric([table], failed.get(table, 0))
        yield errors
        yield CounterMetricFamily(
            "retention_clickhouse_write_retries", "Batches written again after a failed "
            "insert", value=self.live.write_retries())
        counters = status["counters"]
        for name, (metric, what) in _PROCESSOR_COUNTERS.items():
            yield CounterMetricFamily(metric, what, value=counters[name])


# Processor counters (`retention status`) that no labelled metric above already covers.
_PROCESSOR_COUNTERS: Mapping[str, tuple[str, str]] = {
    "duplicates": ("retention_duplicates", "Events applied before (same event_id), skipped"),
    "late": ("retention_late_events", "Events that arrived behind the watermark, applied "
             "at once"),
    "timer_errors": ("retention_timer_errors", "Absence-rule firings that raised (the "
                     "customer's timer is disarmed)"),
}



def committed_lag(app: faust.App, consumer: ConsumerPort, topics: Collection[str]
                  ) -> dict[tuple[str, int], int]:
    """Consumer lag of this worker's input partitions, as Kafka defines it: the partition's
    high watermark (the consumer's last fetch) minus the group's committed offset (Faust's
    monitor records each commit). A partition shows once the worker has committed for it:
    before that its commit is not known here (`retention status` asks the broker)."""
    committed = app.monitor.tp_committed_offsets
    lag: dict[tuple[str, int], int] = {}
    for partition in consumer.assigned_partitions():
        for topic in topics:
            done = committed.get(TP(topic, partition))
            end = consumer.end_offset(topic, partition)
            if done is not None and end is not None:
                lag[topic, partition] = max(end - done, 0)
    return lag
