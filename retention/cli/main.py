"""Entry point of the `retention` command."""

from __future__ import annotations

from typing import Any

import click
from pydantic import ValidationError

from retention.cli import exit_codes
from retention.cli.alerts import alerts
from retention.cli.at_risk import at_risk_command
from retention.cli.cohorts import cohorts
from retention.cli.customer import customer
from retention.cli.db import db
from retention.cli.demo import demo
from retention.cli.dlq import dlq
from retention.cli.generate import generate
from retention.cli.importer import import_command
from retention.cli.kpi import kpi
from retention.cli.lifecycle import lifecycle
from retention.cli.model import model
from retention.cli.publish import publish
from retention.cli.query import query
from retention.cli.report import report
from retention.cli.run import up, worker
from retention.cli.schemas import schemas_group
from retention.cli.status import status
from retention.cli.stickiness import stickiness


class BadConfiguration(click.ClickException):
    exit_code = exit_codes.USAGE


class RetentionGroup(click.Group):
    """Turns invalid RETENTION_* settings into one clear line per problem (exit 2)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ValidationError as exc:
            # Locations and messages only: an input value could be a secret.
            problems = "; ".join(
                f"{'.'.join(str(p) for p in error['loc']) or 'settings'}: {error['msg']}"
                for error in exc.errors(include_input=False, include_url=False))
            raise BadConfiguration(f"invalid configuration: {problems}") from exc


@click.group(cls=RetentionGroup, context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """retention-pipeline: customer-retention analytics on Kafka, Faust and ClickHouse.

    Configuration comes from RETENTION_* environment variables (see README).
    """


for command in (up, worker, publish, generate, import_command, status, alerts, dlq, db,
                schemas_group, demo, kpi, query, model, report, cohorts, lifecycle, stickiness,
                customer, at_risk_command):
    cli.add_command(command)


if __name__ == "__main__":
    cli()
