"""docker-compose.yml cannot run here (no Docker engine): check it against the code instead."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel

from retention.embedded.stack import patched_environ
from retention.settings import Settings

COMPOSE = yaml.safe_load((Path(__file__).parents[1] / "docker-compose.yml").read_text())


def _field_exists(model: type[BaseModel], path: list[str]) -> bool:
    name, *rest = path
    fields = {f.lower(): info for f, info in model.model_fields.items()}
    if name not in fields:
        return False
    if not rest:
        return True
    annotation = fields[name].annotation
    return isinstance(annotation, type) and issubclass(annotation, BaseModel) and \
        _field_exists(annotation, rest)


def test_compose_has_the_services_of_compose_mode():
    """Kafka (KRaft), ClickHouse server, a one-shot migration and the worker are defined."""
    services = COMPOSE["services"]
    assert {"kafka", "clickhouse", "migrate", "worker", "topics"} <= set(services)
    assert "controller" in services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"]
    assert services["migrate"]["command"] == ["db", "migrate"]
    assert services["worker"]["command"] == ["worker"]


def test_every_compose_variable_is_a_setting_the_code_reads():
    """Each RETENTION_* variable in the file names a real (nested) settings field."""
    env = COMPOSE["services"]["worker"]["environment"]
    assert env, "the worker gets its configuration from the environment"
    for key in env:
        assert key.startswith("RETENTION_"), key
        path = key.removeprefix("RETENTION_").lower().split("__")
        assert _field_exists(Settings, path), f"{key} is not read by retention.settings"


def test_compose_environment_selects_server_backends():
    """With the compose environment the settings point at Kafka and a ClickHouse server."""
    env = {k: str(v).replace("${CLICKHOUSE_PASSWORD:-retention}", "pw")
           for k, v in COMPOSE["services"]["worker"]["environment"].items()}
    with patched_environ(env):
        settings = Settings()
    assert settings.kafka.bootstrap_servers == "kafka:9092"
    assert not settings.clickhouse.is_embedded
    assert settings.clickhouse.database_name == "retention"
    assert "pw" not in repr(settings)  # the DSN's password stays masked


def test_the_worker_api_is_not_published():
    """The worker's HTTP port is not published to the host, and its environment keeps the
    API on loopback (a wider bind would need a token: tests/streams/test_web.py)."""
    worker = COMPOSE["services"]["worker"]
    assert "ports" not in worker
    env = {k: str(v).replace("${CLICKHOUSE_PASSWORD:-retention}", "pw")
           for k, v in worker["environment"].items()}
    with patched_environ(env):
        settings = Settings()
    assert settings.worker.web_is_loopback


def test_every_topic_the_code_uses_is_created_by_compose():
    """The topics job creates every input, output and dead-letter topic the code uses."""
    command = "\n".join(COMPOSE["services"]["topics"]["command"])
    settings = Settings()
    for topic in settings.kafka.input_topics + settings.kafka.output_topics:
        assert f" {topic}" in command or f"{topic} " in command, topic
    assert f"--partitions {settings.kafka.partitions}" in command
