"""Where integration runs get Kafka and ClickHouse: embedded, or Docker via testcontainers."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest


@dataclass
class Backend:
    name: str
    # None = the stack starts its own embedded tansu
    bootstrap_servers: str | None = None
    env: dict[str, str] = field(default_factory=dict)


def docker_unavailable_reason() -> str | None:
    try:
        import docker

        docker.from_env(timeout=3).ping()
    except Exception as exc:
        return f"no Docker engine answers ({type(exc).__name__}); the embedded run covers this"
    return None


@contextlib.contextmanager
def docker_backend() -> Iterator[Backend]:
    reason = docker_unavailable_reason()
    if reason:
        pytest.skip(reason)
    from testcontainers.clickhouse import ClickHouseContainer
    from testcontainers.kafka import KafkaContainer

    with KafkaContainer().with_kraft() as kafka, ClickHouseContainer() as clickhouse:
        host = clickhouse.get_container_host_ip()
        port = clickhouse.get_exposed_port(8123)
        dsn = f"http://{clickhouse.username}:{clickhouse.password}@{host}:{port}/default"
        yield Backend("docker", kafka.get_bootstrap_server(),
                      {"RETENTION_CLICKHOUSE__DSN": dsn})
