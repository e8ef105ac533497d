"""Secrets (the ClickHouse DSNs' passwords, the SASL password, the worker's API token) never
appear in printed settings, command output, error messages or log records."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from click.testing import CliRunner

from retention.cli.main import cli
from retention.embedded.broker import free_loopback_port
from retention.settings import Settings, get_settings

WRITER_PW = "writer-pw-5f1c9a"
READER_PW = "reader-pw-7d2e4b"
SASL_PW = "sasl-pw-3b8f0c"
TOKEN = "api-token-9a6e2d41c0"
SECRETS = (WRITER_PW, READER_PW, SASL_PW, TOKEN)


def _environment(tmp_path: Path) -> dict[str, str]:
    """Every secret set; ClickHouse and Kafka on loopback ports nobody listens on."""
    closed = free_loopback_port()
    return {
        "RETENTION_DATA_DIR": str(tmp_path),
        "RETENTION_CLICKHOUSE__DSN": f"http://sink:{WRITER_PW}@127.0.0.1:{closed}/retention",
        "RETENTION_CLICKHOUSE__READONLY_DSN":
            f"http://ops:{READER_PW}@127.0.0.1:{closed}/retention",
        "RETENTION_CLICKHOUSE__CONNECT_TIMEOUT_S": "2",
        "RETENTION_KAFKA__BOOTSTRAP_SERVERS": f"127.0.0.1:{closed}",
        "RETENTION_KAFKA__SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "RETENTION_KAFKA__SASL_MECHANISM": "SCRAM-SHA-512",
        "RETENTION_KAFKA__SASL_USERNAME": "retention",
        "RETENTION_KAFKA__SASL_PASSWORD": SASL_PW,
        "RETENTION_KAFKA__CONNECT_TIMEOUT_S": "1",
        "RETENTION_WORKER__API_TOKEN": TOKEN,
    }


def _leaked(text: str) -> list[str]:
    return [s for s in SECRETS if s in text]


@pytest.fixture
def secret_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = _environment(tmp_path)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    yield env
    get_settings.cache_clear()


def test_printed_settings_mask_every_secret(secret_env: dict[str, str]) -> None:
    settings = Settings()
    assert settings.kafka.sasl_password is not None  # the secrets were read
    for text in (repr(settings), str(settings), settings.model_dump_json()):
        assert not _leaked(text)


@pytest.mark.parametrize("command", [
    ["kpi", "nps", "--start", "2024-01-01", "--end", "2025-01-01"],
    ["query", "unmerged_duplicates"],
    ["model", "fit"],
    ["db", "migrate"],
    ["status", "--format", "json"],
    ["publish", "-"],
    ["alerts", "tail", "--max", "1"],
])
def test_failing_connections_name_no_secret(secret_env: dict[str, str], command: list[str],
                                            caplog: pytest.LogCaptureFixture) -> None:
    """A ClickHouse or Kafka that does not answer is exit 3 with a message, and neither the
    output nor any log record holds a secret."""
    caplog.set_level(logging.DEBUG)
    result = CliRunner().invoke(cli, command, input="{}\n")
    assert result.exit_code == 3, result.output
    assert "error:" in result.output
    assert not _leaked(result.output)
    assert not _leaked(caplog.text)
    assert not _leaked("".join(str(a) for r in caplog.records for a in (r.args or ())))


def test_invalid_settings_are_reported_without_their_values(
        secret_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """A settings error names the problem, not the values (pydantic's own message would
    print the whole Kafka group, password included)."""
    monkeypatch.delenv("RETENTION_KAFKA__SASL_USERNAME")
    get_settings.cache_clear()
    result = CliRunner().invoke(cli, ["status"])
    assert result.exit_code == 2
    assert "__SASL_USERNAME" in result.output
    assert not _leaked(result.output)
