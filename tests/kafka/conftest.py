"""Fixtures for Kafka client tests: a CA of their own, made with the openssl command."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.kafka.tls_proxy import make_certificates


@pytest.fixture(scope="session")
def ca_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A self-signed CA certificate (PEM) with the subject CN=retention-test-ca."""
    return make_certificates(tmp_path_factory.mktemp("ca")).ca
