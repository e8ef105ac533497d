"""sql/roles/roles.sql: a writer role for the sink and a read-only role for ops teams.

chDB has no access control (its default user may not create roles), so the statements are
checked here by ClickHouse's own parser on chDB and by reading them; applying them needs a
ClickHouse server (README, "Security").
"""

from __future__ import annotations

import re
from importlib import resources
from typing import Any

import pytest
from click.testing import CliRunner

from retention.cli.db import db
from retention.settings import get_settings
from sinks.roles import roles_statements
from sinks.sql_files import read_sql


def _grants(role: str, database: str = "retention") -> set[str]:
    """The privileges the file grants `role` on `database`.*."""
    found: set[str] = set()
    for statement in roles_statements(database):
        match = re.fullmatch(rf"GRANT (.+) ON {database}\.\* TO {role}", statement)
        if match:
            found |= {p.strip() for p in match.group(1).split(",")}
    return found


@pytest.mark.parametrize("database", ["retention", "analytics_eu"])
def test_every_statement_parses(fresh_client: Any, database: str) -> None:
    """ClickHouse's parser accepts each statement (EXPLAIN AST runs no access check)."""
    statements = roles_statements(database)
    assert len(statements) == 5
    for statement in statements:
        kind = fresh_client.command(f"EXPLAIN AST {statement}")
        assert kind in ("CreateSettingsProfileQuery", "CreateRoleQuery", "GrantQuery"), kind


def test_the_reader_selects_only_under_a_readonly_profile_it_cannot_change() -> None:
    statements = roles_statements()
    assert _grants("retention_reader") == {"SELECT"}
    assert ("CREATE SETTINGS PROFILE IF NOT EXISTS retention_readonly "
            "SETTINGS readonly = 1 CONST") in statements
    assert ("CREATE ROLE IF NOT EXISTS retention_reader "
            "SETTINGS PROFILE 'retention_readonly'") in statements


def test_the_writer_can_do_what_migrations_and_the_sink_do_and_no_more() -> None:
    """Each kind of statement in sql/migrations, plus SELECT and INSERT for the sink and the
    model fit, is granted; nothing that drops, alters or manages access is."""
    needed = {"SELECT", "INSERT", "CREATE DATABASE"}  # create_database.sql runs first
    kinds = {"CREATE TABLE": "CREATE TABLE", "CREATE MATERIALIZED VIEW": "CREATE VIEW",
             "INSERT INTO": "INSERT"}
    for entry in resources.files("sql").joinpath("migrations").iterdir():
        if entry.name.endswith(".sql"):
            for statement in entry.read_text().split(";"):
                code = re.sub(r"^\s*--.*$", "", statement, flags=re.M).strip()
                if code:
                    needed |= {p for k, p in kinds.items() if code.startswith(k)}
    granted = _grants("retention_writer")
    assert granted == needed
    assert not {p for p in granted if re.match(r"DROP|ALTER|TRUNCATE|ALL|ACCESS", p)}


def test_roles_are_printed_for_the_configured_database(monkeypatch: pytest.MonkeyPatch) -> None:
    """`retention db roles` grants on the configured database, not the file's."""
    monkeypatch.setenv("RETENTION_CLICKHOUSE__DSN", "http://admin:pw@ch.internal:8123/eu_retention")
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(db, ["roles"], catch_exceptions=False)
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "ON eu_retention.* TO retention_reader;" in result.output
    assert "retention.*" not in result.output.replace("eu_retention.*", "")
    assert "pw" not in result.output


@pytest.mark.parametrize("database", ["x; DROP DATABASE retention", "a.b", "", "`x`"])
def test_a_database_name_that_is_not_plain_is_refused(database: str) -> None:
    with pytest.raises(ValueError, match="not a plain database name"):
        roles_statements(database)


def test_the_file_says_how_to_apply_it() -> None:
    assert "retention db roles | clickhouse-client --multiquery" in read_sql("roles/roles.sql")
