"""Reaching the broker: where it is, the one client configuration, and the CLI's clients.

`client_security` is the only place Kafka security is turned into client options: the
worker's Faust app (as `broker_credentials`, streams/app.py), its aiokafka output producer
and every kafka-python client below get the same values. kafka-python clients are built
here only, with bounded connection timeouts, so a wrong address, CA or password ends in
BrokerUnavailable (exit 3) with the reason instead of a hang.
"""

from __future__ import annotations

import logging
import re
import ssl
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.errors import KafkaError

from retention.embedded.runfile import read_run_file
from retention.settings import KafkaSettings, Settings

T = TypeVar("T")


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


def client_security(kafka: KafkaSettings) -> dict[str, Any]:
    """Security options in the keyword names aiokafka and kafka-python share:
    `security_protocol`, plus `ssl_context` (the CA file's, else the system's) for SSL and
    `sasl_mechanism`, `sasl_plain_username`, `sasl_plain_password` for SASL (the same three
    names serve PLAIN and SCRAM)."""
    config: dict[str, Any] = {"security_protocol": kafka.security_protocol}
    if kafka.uses_ssl:
        cafile = str(kafka.ssl_cafile) if kafka.ssl_cafile else None
        config["ssl_context"] = ssl.create_default_context(cafile=cafile)
    if kafka.uses_sasl:
        assert kafka.sasl_password is not None  # KafkaSettings validates SASL settings
        config["sasl_mechanism"] = kafka.sasl_mechanism
        config["sasl_plain_username"] = kafka.sasl_username
        config["sasl_plain_password"] = kafka.sasl_password.get_secret_value()
    return config


def client_config(settings: Settings, servers: str | None = None) -> dict[str, Any]:
    """Bootstrap servers and security: what every Kafka client of the project is given."""
    return {"bootstrap_servers": (servers or bootstrap_servers(settings)).split(","),
            **client_security(settings.kafka)}


def _bounded(settings: Settings) -> dict[str, Any]:
    # kafka-python retries a failed bootstrap (refused, TLS or SASL failure) until this.
    return {"bootstrap_timeout_ms": int(settings.kafka.connect_timeout_s * 1000)}


# kafka-python's line for a failed attempt: "... connection to bootstrap-0 failed: <reason>
# (backoff 0.09 secs)"; its final "Bootstrap failed: KafkaTimeoutError" says less.
_CONNECTION_FAILED = re.compile(r"connection to \S+ failed: (.*?)(?: \(backoff [^)]*\))?$")


class _LastFailure(logging.Handler):
    """Keeps why kafka-python's last connection attempt failed: the reason a bootstrap
    timed out (refused, TLS, SASL), which its timeout error does not carry."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.reason: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        found = _CONNECTION_FAILED.search(record.getMessage())
        if found:
            self.reason = found.group(1)


@contextmanager
def _kafka_failures() -> Iterator[_LastFailure]:
    # Also keeps kafka-python's own log lines off the CLI's stderr (one clear line instead).
    handler = _LastFailure()
    logger = logging.getLogger("kafka")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


def describe_security(kafka: KafkaSettings) -> str:
    """The security settings in words, never the password."""
    words: str = kafka.security_protocol
    if kafka.uses_sasl:
        words += f", {kafka.sasl_mechanism} as {kafka.sasl_username!r}"
    if kafka.uses_ssl:
        words += f", CA {kafka.ssl_cafile or 'from the system'}"
    return words


def scrub(text: str, kafka: KafkaSettings) -> str:
    """`text` with the SASL password blanked, should a library ever echo it."""
    secret = kafka.sasl_password.get_secret_value() if kafka.sasl_password else ""
    return text.replace(secret, "**********") if secret else text


def _connect(settings: Settings, servers: str | None, build: Callable[[dict[str, Any]], T]) -> T:
    config = client_config(settings, servers)
    k = settings.kafka
    with _kafka_failures() as last:
        try:
            return build({**config, **_bounded(settings)})
        except KafkaError as exc:
            reason = scrub(last.reason or str(exc), k)
            hint = "RETENTION_KAFKA__BOOTSTRAP_SERVERS"
            if k.uses_sasl:
                hint += ", __SASL_USERNAME, __SASL_PASSWORD"
            if k.uses_ssl:
                hint += ", __SSL_CAFILE"
            raise BrokerUnavailable(
                f"Kafka at {','.join(config['bootstrap_servers'])} did not accept a connection "
                f"within {k.connect_timeout_s:g} s ({describe_security(k)}); last error: "
                f"{reason}. Check {hint}") from exc


def admin_client(settings: Settings, servers: str | None = None) -> KafkaAdminClient:
    return _connect(settings, servers,
                    lambda c: KafkaAdminClient(client_id="retention-admin", **c))


def consumer(settings: Settings, **options: Any) -> KafkaConsumer:
    """A consumer without a group (the CLI assigns partitions itself)."""
    return _connect(settings, None,
                    lambda c: KafkaConsumer(enable_auto_commit=False, **c, **options))


def producer(settings: Settings, **options: Any) -> KafkaProducer:
    return _connect(settings, None, lambda c: KafkaProducer(**c, **options))
