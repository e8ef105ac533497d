"""`retention model fit|show`: the BG/NBD + Gamma-Gamma customer-lifetime model."""

from __future__ import annotations

import datetime as dt

import click
from clickhouse_connect.driver.exceptions import Error as ClickHouseError

from retention.cli import exit_codes
from retention.cli.common import fail
from retention.cli.kpi import backend, writer
from retention.cli.progress import make_progress
from retention.settings import get_settings


@click.group("model")
def model() -> None:
    """Customer-lifetime model: p_alive, expected purchases and predicted CLV."""


@model.command("fit")
@click.option("--as-of", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Calibration end day D, inclusive (UTC). Default: the last day with "
                   "purchases, at most yesterday.")
def fit(as_of: dt.datetime | None) -> None:
    """Fit on purchases up to --as-of and store params and per-customer predictions.

    Exits 4 without storing anything when the data cannot support the model yet
    (too few buyers, too little history, too few repeat buyers) or the fit fails.
    """
    from retention.analytics.model_fit import fit_model

    settings = get_settings()
    # A fit writes two tables: the writer's client, never the worker's read operations.
    with writer(settings) as runner:
        progress = make_progress()
        progress.task("model fit")  # a pulse: the fit reports no steps of its own
        try:
            report = fit_model(runner.client, settings, as_of.date() if as_of else None)
        except ClickHouseError as exc:
            progress.close()
            fail(f"model fit failed: {exc}", exit_codes.BACKEND)
    progress.close()
    if report.model is None:
        click.echo(f"model not fitted (as of {report.as_of}, {report.customers} customers):",
                   err=True)
        for reason in report.reasons:
            click.echo(f"  - {reason}", err=True)
        raise SystemExit(exit_codes.NOT_READY)
    m = report.model
    bg, gg = m.bgnbd, m.gamma_gamma
    click.echo(f"stored model v{m.version}: as of {m.as_of}, {m.customers:,} customers "
               f"({m.repeat_customers:,} with repeat purchases), horizon {m.horizon_days} d")
    click.echo(f"  BG/NBD (days): r={bg.r:.4g} alpha={bg.alpha:.4g} a={bg.a:.4g} b={bg.b:.4g}")
    click.echo(f"  Gamma-Gamma:   p={gg.p:.4g} q={gg.q:.4g} v={gg.v:.4g}")
    click.echo(f"  predictive profiles of {m.customers:,} customers (the customer_profile view; "
               f"discount rate {settings.model.annual_discount_rate:g}/year)")
    click.echo("  " + ", ".join(f"{k} {v:.1f}s" for k, v in report.seconds.items()))


@model.command("show")
def show() -> None:
    """Print the latest stored model's parameters."""
    from sinks.model_store import load_latest_model

    with backend(get_settings()) as runner:
        latest = load_latest_model(runner)
    if latest is None:
        fail("no model stored yet: run `retention model fit`", exit_codes.NOT_READY)
    bg, gg = latest.bgnbd, latest.gamma_gamma
    fitted = latest.fitted_at.strftime("%Y-%m-%d %H:%M")
    click.echo(f"model v{latest.version}: as of {latest.as_of}, fitted {fitted} UTC, "
               f"{latest.customers:,} customers, horizon {latest.horizon_days} d")
    click.echo(f"  BG/NBD (days): r={bg.r:.4g} alpha={bg.alpha:.4g} a={bg.a:.4g} b={bg.b:.4g}")
    click.echo(f"  Gamma-Gamma:   p={gg.p:.4g} q={gg.q:.4g} v={gg.v:.4g}")
