"""`retention query NAME --param name=value`: an ops cookbook question (docs/ops-queries.md).

Each question is a named operation (sql/cookbook/NAME.sql): it runs read-only on the
worker while the worker holds the embedded database, or on ClickHouse directly otherwise.
"""

from __future__ import annotations

import click

from retention.cli.common import FORMAT_OPTION, render
from retention.cli.kpi import backend
from retention.settings import get_settings
from sinks.operations import OperationRefused, operations

COOKBOOK = "cookbook/"


def _questions() -> dict[str, str]:
    """Question name -> operation name."""
    return {name.removeprefix(COOKBOOK): name for name in operations()
            if name.startswith(COOKBOOK)}


def _parse_params(pairs: tuple[str, ...]) -> dict[str, str]:
    values: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"expected name=value, got {pair!r}", param_hint="--param")
        values[name] = value
    return values


@click.command("query")
@click.argument("name", required=False, metavar="NAME")
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE",
              help="A parameter of the question, e.g. --param min_risk_score=40.")
@click.option("--list", "list_only", is_flag=True, help="List the questions and parameters.")
@FORMAT_OPTION
def query(name: str | None, params: tuple[str, ...], list_only: bool, fmt: str) -> None:
    """Answer an ops cookbook question NAME (see docs/ops-queries.md; --list shows them)."""
    questions = _questions()
    if list_only or name is None:
        for question, op_name in questions.items():
            parameters = operations()[op_name].parameters
            described = " ".join(f"--param {n}=<{t}>" for n, t in parameters.items())
            click.echo(f"{question} {described}".rstrip())
        return
    if name not in questions:
        raise click.BadParameter(f"no question named {name!r}; see --list", param_hint="NAME")
    op = operations()[questions[name]]
    values = _parse_params(params)
    try:
        op.bind(values)  # refuse bad values here, before reaching any database
    except OperationRefused as exc:
        raise click.BadParameter(str(exc), param_hint="--param") from exc
    with backend(get_settings()) as runner:
        result = runner.run(op.name, values)
    click.echo(render(result.columns, result.rows, fmt))
