"""Entry point of the `retention` command."""

from __future__ import annotations

import click

from retention.cli.alerts import alerts
from retention.cli.db import db
from retention.cli.demo import demo
from retention.cli.generate import generate
from retention.cli.importer import import_command
from retention.cli.kpi import kpi
from retention.cli.model import model
from retention.cli.publish import publish
from retention.cli.run import up, worker
from retention.cli.schemas import schemas_group
from retention.cli.status import status


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """retention-pipeline: customer-retention analytics on Kafka, Faust and ClickHouse.

    Configuration comes from RETENTION_* environment variables (see README).
    """


for command in (up, worker, publish, generate, import_command, status, alerts, db,
                schemas_group, demo, kpi, model):
    cli.add_command(command)


if __name__ == "__main__":
    cli()
