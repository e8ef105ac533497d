"""`retention at-risk`: whom to call today, ranked by value at risk.

JSON output is a contract for scripts: one object per line, the columns of
sql/customer/at_risk.sql (episode arrays parallel: rules, opened_at, details).
"""

from __future__ import annotations

import click

from retention.analytics.customer import at_risk
from retention.cli.common import FORMAT_OPTION, render
from retention.cli.kpi import backend
from retention.settings import get_settings

TABLE_COLUMNS = ("customer_id", "value_at_risk", "predicted_clv", "churn_probability",
                 "risk_score", "orders", "last_purchase_at", "reasons")


@click.command("at-risk")
@click.option("--min-value", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="Least value at risk (predicted CLV x churn probability) listed; above 0 "
                   "leaves out customers without a predictive profile.")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@FORMAT_OPTION
def at_risk_command(min_value: float, limit: int, fmt: str) -> None:
    """Customers with open churn-risk episodes, highest value at risk first, with reasons."""
    with backend(get_settings()) as runner:
        rows = at_risk(runner, min_value, limit)
    if fmt != "table":
        columns = list(rows[0]) if rows else []
        click.echo(render(columns, [[r[c] for c in columns] for r in rows], fmt))
        return
    table = [[*(r[c] for c in TABLE_COLUMNS[:-1]),
              "; ".join(f"{rule}: {detail}" for rule, detail in
                        zip(r["episode_rules"], r["episode_details"], strict=True))]
             for r in rows]
    click.echo(render(TABLE_COLUMNS, table, "table"))
