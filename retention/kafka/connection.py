"""Reaching the broker: where it is, client configuration, the admin client."""

from __future__ import annotations

from typing import Any

from kafka import KafkaAdminClient
from kafka.errors import KafkaConnectionError

from retention.embedded.runfile import read_run_file
from retention.settings import Settings


class BrokerUnavailable(RuntimeError):
    """No broker configured or reachable; the message says what to do."""


def bootstrap_servers(settings: Settings) -> str:
    """Configured servers, else the embedded broker a running `retention up` recorded."""
    if settings.kafka.bootstrap_servers:
        return settings.kafka.bootstrap_servers
    run = read_run_file(settings.run_file)
    if run is None:
        raise BrokerUnavailable(
            f"no Kafka broker: start `retention up` (embedded, records {settings.run_file}) "
            "or set RETENTION_KAFKA__BOOTSTRAP_SERVERS"
        )
    return run.bootstrap_servers


def client_config(settings: Settings, servers: str | None = None) -> dict[str, Any]:
    k = settings.kafka
    config: dict[str, Any] = {
        "bootstrap_servers": (servers or bootstrap_servers(settings)).split(","),
        "security_protocol": k.security_protocol,
    }
    if k.sasl_mechanism:
        config["sasl_mechanism"] = k.sasl_mechanism
        config["sasl_plain_username"] = k.sasl_username
        config["sasl_plain_password"] = (
            k.sasl_password.get_secret_value() if k.sasl_password else None
        )
    return config


def admin_client(settings: Settings, servers: str | None = None) -> KafkaAdminClient:
    try:
        return KafkaAdminClient(
            client_id="retention-admin", **client_config(settings, servers)
        )
    except KafkaConnectionError as exc:
        raise BrokerUnavailable(f"Kafka broker at {servers or 'configured servers'} "
                                "does not answer") from exc
