"""`retention db migrate`: apply the versioned DDL in sql/migrations."""

from __future__ import annotations

import click

from retention.cli.common import fail
from retention.settings import get_settings


@click.group()
def db() -> None:
    """ClickHouse schema."""


@db.command()
def migrate() -> None:
    """Apply pending migrations (idempotent; the worker also runs this at start)."""
    from sinks.client import create_client
    from sinks.migrations import MigrationError, available_migrations
    from sinks.migrations import migrate as apply

    settings = get_settings()
    try:
        client = create_client(settings)
        applied = apply(client)
    except MigrationError as exc:
        fail(str(exc))
    except Exception as exc:
        fail(f"cannot open ClickHouse ({exc}); with the embedded default, a running worker "
             "holds the folder and has already migrated it")
    names = ", ".join(f"{m.version:04d}_{m.name}" for m in applied) or "none"
    click.echo(f"applied: {names}; schema at version {available_migrations()[-1].version:04d}")


@db.command()
def roles() -> None:
    """Print the SQL creating the writer and read-only roles for the configured database
    (for an administrator: `retention db roles | clickhouse-client --multiquery`)."""
    from sinks.roles import roles_statements

    database = get_settings().clickhouse.database_name
    try:
        statements = roles_statements(database)
    except ValueError as exc:
        fail(str(exc))
    click.echo("\n".join(f"{statement};" for statement in statements))
