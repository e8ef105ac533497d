"""One Kafka client configuration for every client: the Faust app, the worker's producer and
each kafka-python client of the CLI get the same security settings, and a broker that does
not accept them is a clear, bounded error."""

from __future__ import annotations

import asyncio
import logging
import ssl
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth
from kafka.errors import KafkaTimeoutError
from pydantic import ValidationError

from retention.cli.alerts import alerts
from retention.kafka import BrokerUnavailable, Publisher, client_security, ensure_topics
from retention.kafka import connection as kafka_connection
from retention.kafka.offsets import consumer_lag
from retention.settings import KafkaSettings, Settings, get_settings
from streams import output_producer
from streams.app import build_faust_app
from streams.output_producer import OutputProducer

PASSWORD = "pa55-word-never-printed"
SERVERS = "broker-1.internal:9093,broker-2.internal:9093"


def _kafka(ca_file: Path | None = None, **overrides: Any) -> dict[str, Any]:
    return {"bootstrap_servers": SERVERS, "security_protocol": "SASL_SSL",
            "sasl_mechanism": "SCRAM-SHA-256", "sasl_username": "retention",
            "sasl_password": PASSWORD, "ssl_cafile": ca_file, **overrides}


def _ca_subjects(context: ssl.SSLContext) -> list[Any]:
    return [cert["subject"] for cert in context.get_ca_certs()]


CA_SUBJECT = ((("commonName", "retention-test-ca"),),)


@pytest.mark.parametrize("protocol", ["PLAINTEXT", "SASL_PLAINTEXT"])
@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_sasl_options_are_the_settings(protocol: str, mechanism: str) -> None:
    """SASL mechanism, user and password become the three options both libraries read;
    no TLS context without SSL."""
    if protocol == "PLAINTEXT":
        assert client_security(KafkaSettings()) == {"security_protocol": "PLAINTEXT"}
        return
    kafka = KafkaSettings(security_protocol=protocol, sasl_mechanism=mechanism,
                          sasl_username="retention", sasl_password=PASSWORD)
    assert client_security(kafka) == {
        "security_protocol": protocol, "sasl_mechanism": mechanism,
        "sasl_plain_username": "retention", "sasl_plain_password": PASSWORD}


def test_ssl_trusts_the_configured_ca_only(ca_file: Path) -> None:
    """With a CA file the TLS context trusts that CA (and verifies host names)."""
    security = client_security(KafkaSettings(security_protocol="SSL", ssl_cafile=ca_file))
    context = security.pop("ssl_context")
    assert security == {"security_protocol": "SSL"}
    assert _ca_subjects(context) == [CA_SUBJECT]
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


@pytest.mark.parametrize(("fields", "complaint"), [
    ({"security_protocol": "SASL_SSL", "sasl_mechanism": "PLAIN", "sasl_username": "u"},
     "needs"),
    ({"sasl_mechanism": "SCRAM-SHA-512"}, "does not use SASL"),
    ({"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "PLAIN", "sasl_username": "u",
      "sasl_password": "p", "ssl_cafile": __file__}, "does not use SSL"),
    ({"security_protocol": "SSL", "ssl_cafile": "/no/such/ca.pem"}, "ssl_cafile"),
    ({"security_protocol": "SASL_SSL", "sasl_mechanism": "GSSAPI", "sasl_username": "u",
      "sasl_password": "p"}, "sasl_mechanism"),
])
def test_incomplete_security_settings_are_refused(fields: dict[str, Any],
                                                  complaint: str) -> None:
    with pytest.raises(ValidationError, match=complaint):
        KafkaSettings(**fields)


class Built(Exception):
    """Raised by a recording client class once it has seen its options."""


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> dict[str, dict[str, Any]]:
    """Every Kafka client class the project constructs, replaced by one that records the
    options it was given (keyed by class name) and stops the caller there."""
    seen: dict[str, dict[str, Any]] = {}

    def recorder(name: str) -> type:
        class Recording:
            def __init__(self, *args: Any, **options: Any) -> None:
                seen[name] = options
                raise Built(name)
        return Recording

    for name in ("KafkaAdminClient", "KafkaConsumer", "KafkaProducer"):
        monkeypatch.setattr(kafka_connection, name, recorder(name))
    monkeypatch.setattr(output_producer, "AIOKafkaProducer", recorder("AIOKafkaProducer"))
    return seen


def _same_security(options: dict[str, Any], expected: dict[str, Any]) -> None:
    """`options` carry exactly `expected`'s security, the TLS context trusting our CA."""
    got = {k: options.get(k) for k in expected}
    assert _ca_subjects(got.pop("ssl_context")) == [CA_SUBJECT]
    assert got == {k: v for k, v in expected.items() if k != "ssl_context"}


def test_every_client_gets_the_one_configuration(
        built: dict[str, dict[str, Any]], ca_file: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker's Faust app and output producer, and the CLI's admin client (topics,
    lag), consumers (lag, alerts tail) and publisher, are all given the configured SASL
    mechanism, user, password and CA."""
    settings = Settings(kafka=_kafka(ca_file), data_dir=tmp_path)
    expected = client_security(settings.kafka)
    assert set(expected) == {"security_protocol", "sasl_mechanism", "sasl_plain_username",
                             "sasl_plain_password", "ssl_context"}

    # The worker: Faust hands these credentials to its aiokafka consumer, producer and admin.
    app = build_faust_app(settings, SERVERS)
    _same_security(dict(credentials_to_aiokafka_auth(app.conf.broker_credentials)), expected)
    with pytest.raises(Built):
        asyncio.run(OutputProducer(settings, SERVERS).on_start())
    _same_security(built.pop("AIOKafkaProducer"), expected)

    # The CLI's kafka-python clients, each reached through the code that uses it.
    callers = {
        "KafkaAdminClient": lambda: ensure_topics(settings),
        "KafkaConsumer": lambda: consumer_lag(settings),
        "KafkaProducer": lambda: Publisher(settings),
    }
    for name, call in callers.items():
        with pytest.raises(Built):
            call()
        options = built.pop(name)
        _same_security(options, expected)
        assert options["bootstrap_servers"] == SERVERS.split(",")
        assert options["bootstrap_timeout_ms"] == settings.kafka.connect_timeout_s * 1000

    for variable, value in {"BOOTSTRAP_SERVERS": SERVERS, "SECURITY_PROTOCOL": "SASL_SSL",
                            "SASL_MECHANISM": "SCRAM-SHA-256", "SASL_USERNAME": "retention",
                            "SASL_PASSWORD": PASSWORD, "SSL_CAFILE": str(ca_file)}.items():
        monkeypatch.setenv(f"RETENTION_KAFKA__{variable}", value)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(alerts, ["tail", "--max", "1"])
    finally:
        get_settings.cache_clear()
    assert isinstance(result.exception, Built)
    _same_security(built.pop("KafkaConsumer"), expected)
    assert not built


def test_a_refused_connection_is_a_clear_error_without_the_password(
        monkeypatch: pytest.MonkeyPatch, ca_file: Path, tmp_path: Path) -> None:
    """A bootstrap that times out names the servers, the security settings, the library's
    last error and the variables to check, and never the password."""

    class Refused:
        def __init__(self, **options: Any) -> None:
            logging.getLogger("kafka.net.manager").warning(
                "Bootstrap connection to bootstrap-0 failed: SaslAuthenticationFailedError: "
                "invalid credentials (backoff 0.05 secs)")
            raise KafkaTimeoutError("Unable to bootstrap")

    monkeypatch.setattr(kafka_connection, "KafkaAdminClient", Refused)
    settings = Settings(kafka=_kafka(ca_file), data_dir=tmp_path)
    with pytest.raises(BrokerUnavailable) as refused:
        kafka_connection.admin_client(settings)
    message = str(refused.value)
    for part in (SERVERS, "SASL_SSL", "SCRAM-SHA-256 as 'retention'", str(ca_file),
                 "last error: SaslAuthenticationFailedError: invalid credentials. Check",
                 "RETENTION_KAFKA__BOOTSTRAP_SERVERS",
                 "__SASL_PASSWORD", "__SSL_CAFILE"):
        assert part in message, part
    assert PASSWORD not in message
    assert PASSWORD not in repr(settings)
