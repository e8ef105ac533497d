"""The one Faust app, built from settings: no broker or store URL lives in code."""

from __future__ import annotations

import faust

from retention.kafka import bootstrap_servers
from retention.settings import Settings, get_settings
from streams import broker_compat


def build_app(settings: Settings) -> faust.App:
    k = settings.kafka
    servers = bootstrap_servers(settings)
    settings.table_dir.mkdir(parents=True, exist_ok=True)
    return faust.App(
        k.group_id,
        broker=[f"kafka://{s}" for s in servers.split(",")],
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
        key_serializer="raw",
        value_serializer="raw",
    )


settings = get_settings()
broker_compat.install(settings)
app = build_app(settings)
