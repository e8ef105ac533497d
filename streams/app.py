"""The worker, built from settings: Faust app -> topics, tables, pipeline, agents, views.

Nothing here runs at import. `build_worker(settings)` is the one place the worker's parts
are wired together; unit tests build the same parts around fakes instead (tests/streams).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import faust
from faust.types.auth import CredentialsT

from retention.kafka import bootstrap_servers, client_security
from retention.settings import KafkaSettings, Settings
from streams import web
from streams.agents import customer_events, model_refresh, watermark_clock
from streams.metrics import WorkerLive, WorkerMetrics, committed_lag
from streams.output_producer import OutputProducer
from streams.pipeline import Pipeline
from streams.ports import FaustConsumer, LazySink
from streams.tables import StateTable
from streams.topics import Topics

# The transport registered under this URL scheme (pyproject entry point `faust.transports`)
# is Faust's aiokafka transport with batch intake (streams/intake.py).
TRANSPORT_SCHEME = "retention-kafka"


def broker_credentials(kafka: KafkaSettings) -> CredentialsT | None:
    """Faust's form of `client_security`: Faust hands its aiokafka consumer, producer and
    admin client these (its `credentials_to_aiokafka_auth` gives back the same options)."""
    security = client_security(kafka)
    if kafka.uses_sasl:
        return faust.SASLCredentials(
            username=security["sasl_plain_username"],
            password=security["sasl_plain_password"],
            mechanism=security["sasl_mechanism"],
            ssl_context=security.get("ssl_context"),
        )
    if kafka.uses_ssl:
        return faust.SSLCredentials(security["ssl_context"])
    return None


def build_faust_app(settings: Settings, servers: str) -> faust.App:
    """The Faust app alone: no broker or store URL lives in code."""
    k = settings.kafka
    settings.table_dir.mkdir(parents=True, exist_ok=True)
    return faust.App(
        k.group_id,
        broker=[f"{TRANSPORT_SCHEME}://{s}" for s in servers.split(",")],
        broker_credentials=broker_credentials(k),
        # RocksDB keeps table state on local disk, so a restarted worker does not depend
        # on replaying the whole changelog (see README, "Operations").
        store="rocksdb://",
        datadir=str(settings.table_dir),
        topic_partitions=k.partitions,
        topic_replication_factor=k.replication_factor,
        broker_session_timeout=k.session_timeout_s,
        broker_heartbeat_interval=k.heartbeat_interval_s,
        broker_commit_interval=settings.worker.commit_interval_s,
        consumer_auto_offset_reset="earliest",
        # Messages held in the reorder buffer are never acknowledged before they are
        # processed; on shutdown they are simply redelivered, so do not wait for them.
        stream_wait_empty=False,
        stream_buffer_maxsize=settings.sink.batch_max_events * 2,
        producer_linger=0.005,
        web_host=settings.worker.web_host,
        web_port=settings.worker.web_port,
        web_bind=settings.worker.web_host,
        # Only the project's own views (streams/web.py): Faust's table pages would serve
        # customer state, its router the cluster's worker URLs, the rest internals.
        web_tables_enabled=False,
        web_router_enabled=False,
        web_stats_enabled=False,
        web_graph_enabled=False,
        web_metrics_enabled=False,
        key_serializer="raw",
        value_serializer="raw",
    )


@dataclass(frozen=True)
class Worker:
    """Everything `faust.Worker` runs, and the handles tests and the CLI reach for."""

    settings: Settings
    app: faust.App
    topics: Topics
    state_table: StateTable
    pipeline: Pipeline
    sink: LazySink
    # Started and stopped with the app (mode services handed to faust.Worker).
    services: tuple[Any, ...]


def build_worker(settings: Settings) -> Worker:
    servers = bootstrap_servers(settings)
    app = build_faust_app(settings, servers)
    topics = Topics.declare(app, settings.kafka)
    state_table = StateTable.declare(app, settings.kafka.partitions)
    producer = OutputProducer(settings, servers)
    sink = LazySink(settings)
    metrics = WorkerMetrics(settings)
    pipeline = Pipeline(
        settings,
        consumer=FaustConsumer(app),
        store=state_table,
        sink=sink,
        publisher=producer.publisher,
        changelog=producer.changelog,
        crash=app.crash,
        metrics=metrics,
    )
    customer_events.register(app, topics, pipeline, settings)
    watermark_clock.register(app, pipeline, settings)
    model_refresh.register(app, pipeline, settings)
    web.register(app, settings.worker, pipeline, sink)
    metrics.watch(WorkerLive(
        status=pipeline.status,
        lag=lambda: committed_lag(app, pipeline.consumer, metrics.input_topics),
        write_errors=sink.write_errors, write_retries=sink.write_retries))
    web.register_metrics(app, settings.worker, metrics)

    async def on_revoked(sender: Any, /, *args: Any, signal: Any, **kw: Any) -> None:
        revoked: set[Any] = args[0]  # Faust sends the revoked TPs
        await pipeline.hand_over({tp.partition for tp in revoked})

    app.on_partitions_revoked.connect(on_revoked)

    async def on_assigned(sender: Any, /, *args: Any, signal: Any, **kw: Any) -> None:
        pipeline.on_assigned()

    app.on_partitions_assigned.connect(on_assigned)

    return Worker(settings, app, topics, state_table, pipeline, sink, (producer,))
