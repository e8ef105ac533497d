"""`retention customer ID`: one customer's story, read through named operations.

JSON output is a contract for scripts: {"customer_id", "state", "open_risk_episodes",
"milestones", "recent_events", "predictive_profile"}; state and predictive_profile are
null when unknown (no state yet; no model, or no order before the model's calibration day).
Times are ISO text in UTC (ClickHouse's UTC wall time, no offset written).
"""

from __future__ import annotations

import json
from typing import Any

import click

from retention.analytics.customer import CustomerStory, customer_story
from retention.cli import exit_codes
from retention.cli.common import fail, render
from retention.cli.kpi import backend
from retention.settings import get_settings

STATE_FIELDS = ("orders", "revenue", "first_purchase_at", "last_purchase_at", "open_tickets",
                "latest_nps", "latest_csat", "risk_score", "open_risk_rules", "updated_at")
PROFILE_FIELDS = ("historic_clv", "predicted_clv", "total_clv", "churn_probability",
                  "value_at_risk", "expected_purchases", "average_days_between_orders",
                  "expected_next_order_date")


def _value(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) >= 1 or value == 0 else f"{value:.3f}"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "-"
    return str(value)


def _fields(row: dict[str, Any], names: tuple[str, ...]) -> list[str]:
    width = max(len(n) for n in names)
    return [f"  {n.ljust(width)}  {_value(row[n])}" for n in names]


def _section(title: str, rows: list[dict[str, Any]]) -> list[str]:
    if not rows:
        return [f"{title}: none"]
    columns = list(rows[0])
    return [f"{title}:", render(columns, [[r[c] for c in columns] for r in rows], "table")]


def _profile_lines(profile: dict[str, Any] | None) -> list[str]:
    if profile is None:
        return ["predictive profile: none (no model fitted yet, or no order on or before "
                "the model's calibration day: `retention model fit`)"]
    p = profile
    lines = [f"predictive profile (model v{p['model_version']}, as of {p['as_of']}, "
             f"horizon {p['horizon_days']} days, "
             f"discount rate {p['annual_discount_rate']:g}/year):"]
    lines += _fields(p, PROFILE_FIELDS)
    lines.append(f"  published because the model's data met its readiness rule: "
                 f"{p['buyers']:,} buyers (>= {p['min_buyers']}), {p['history_days']} days of "
                 f"history (>= {p['min_history_days']}), {p['customers_3plus']:,} customers "
                 f"with 3+ purchase days (>= {p['min_customers_3plus']})")
    return lines


def story_text(story: CustomerStory) -> str:
    lines = [f"customer {story.customer_id}"]
    if story.state is None:
        lines.append("state: none (the worker holds no state for this customer)")
    else:
        lines.append("state:")
        lines += _fields(story.state, STATE_FIELDS)
    lines += _section("open risk episodes", story.episodes)
    lines += _profile_lines(story.profile)
    lines += _section("milestones", story.milestones)
    lines += _section("recent events", story.recent_events)
    return "\n".join(lines)


@click.command("customer")
@click.argument("customer_id")
@click.option("--events", "recent", type=click.IntRange(min=0), default=10, show_default=True,
              help="How many of the latest events to show.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True, help="Output format.")
def customer(customer_id: str, recent: int, fmt: str) -> None:
    """One customer's story: state, open risk episodes with their reasons, predictive
    profile, milestones reached and recent events. Exits 4 for an unknown customer."""
    with backend(get_settings()) as runner:
        story = customer_story(runner, customer_id, recent)
    if not story.known:
        fail(f"no customer {customer_id!r}: no state and no event", exit_codes.NOT_READY)
    click.echo(json.dumps(story.as_dict()) if fmt == "json" else story_text(story))
