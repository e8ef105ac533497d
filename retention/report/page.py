"""The report as one HTML page: styles, plotly.js and every chart inlined.

Nothing is fetched when the page opens, so it works offline and as a mail attachment.
Every number shown also sits in a `data-*` attribute with its full value (KPI tiles, the
trend and count tables, the at-risk list): the browser test compares those with
`retention kpi ... --format json`, and anyone can read them with the browser's inspector.
Each chart has its numbers in a table beside it, readable without JavaScript.
"""

from __future__ import annotations

import datetime as dt
import json
from html import escape

import plotly.io as pio
from plotly.offline import get_plotlyjs

from retention.analytics.kpis import KPIS, KpiValue, Unit
from retention.report.charts import NOTHING_TO_DRAW, PLOTLY_CONFIG, figures
from retention.report.data import (
    LEVELS,
    TREND_KPIS,
    AtRiskCustomer,
    ReportData,
    retention_curve,
)
from retention.report.style import STYLESHEET


def _attr(value: float | int | str | None) -> str:
    """A data-* attribute value: numbers as JSON writes them (full precision), None empty."""
    if value is None:
        return ""
    return escape(value if isinstance(value, str) else json.dumps(value))


def format_value(unit: Unit, value: float | None) -> str:
    if value is None:
        return "n/a"
    if unit is Unit.RATIO:
        return f"{value * 100:.1f}%"
    if unit is Unit.HOURS:
        return f"{value:,.1f} h"
    if unit is Unit.SCORE:
        return f"{value:.1f}"
    return f"{value:,.2f}"


def _label(value: KpiValue) -> str:
    """The KPI's title; a KPI with several outputs names the output too."""
    if len(value.kpi.outputs) == 1:
        return value.kpi.title
    part = value.output.removeprefix(f"{value.kpi.name}_").removesuffix("_hours")
    return f"{value.kpi.title}: {part.replace('_', ' ')}"


def _verdict(value: KpiValue, days: int) -> tuple[str, str]:
    """(css class, text) of a tile's benchmark badge."""
    bench = value.kpi.benchmark
    if bench is None:
        return "none", ""
    if value.inside is True:
        return "inside", "inside the benchmark"
    if value.inside is False:
        return "outside", "outside the benchmark"
    if value.value is not None and bench.annual:
        return "na", f"annual benchmark: not for a {days}-day period"
    return "na", "no data"


def _tile(value: KpiValue, days: int) -> str:
    css, verdict = _verdict(value, days)
    bench = value.kpi.benchmark
    inside = "" if value.inside is None else str(value.inside).lower()
    bench_html = ""
    if bench is not None:
        bench_html = (f'<div class="tile-bench" title="{escape(bench.note)}">benchmark '
                      f"{escape(bench.describe())}</div>"
                      f'<div class="badge badge-{css}">{escape(verdict)}</div>')
    return (f'<div class="tile tile-{css}" data-kpi="{escape(value.kpi.name)}" '
            f'data-output="{escape(value.output)}" data-value="{_attr(value.value)}" '
            f'data-inside="{inside}">'
            f'<div class="tile-title">{escape(_label(value))}</div>'
            f'<div class="tile-value">{escape(format_value(value.kpi.unit, value.value))}'
            f"</div>{bench_html}</div>")


def _kpi_section(data: ReportData) -> str:
    tiles = "".join(_tile(v, data.period.days) for v in data.kpis)
    return ('<section id="kpis"><h2>KPIs for the period</h2>'
            '<p class="note">Benchmarks are the ranges quoted in the KPI definitions; an '
            "annual benchmark is judged only on a one-year period.</p>"
            f'<div class="tiles">{tiles}</div></section>')


def _charts(data: ReportData) -> dict[str, str]:
    """Each chart's HTML (a div and the script drawing it), or the note saying why there is
    no chart."""
    out = {}
    for fig_id, fig in figures(data).items():
        if fig is None:
            note = NOTHING_TO_DRAW[fig_id]
            out[fig_id] = f'<p class="note empty">{escape(note)}</p>' if note else ""
        else:
            html = pio.to_html(fig, include_plotlyjs=False, full_html=False, div_id=fig_id,
                               config=PLOTLY_CONFIG)
            out[fig_id] = f'<div class="chart" id="chart-{fig_id}">{html}</div>'
    return out


def _share_cell(value: float | None) -> str:
    """A cohort cell; blank when the month is not observed yet."""
    shown = "" if value is None else format_value(Unit.RATIO, value)
    return f'<td data-value="{_attr(value)}">{shown}</td>'


def _cohort_table(data: ReportData) -> str:
    head = "".join(f"<th>M{k}</th>" for k in range(12))
    body = []
    for row in data.cohorts:
        cells = "".join(_share_cell(row[f"month_{k}"]) for k in range(12))
        body.append(f'<tr data-cohort="{escape(row["cohort_month"])}" '
                    f'data-customers="{row["customers"]}"><th>{escape(row["cohort_month"][:7])}'
                    f'</th><td>{row["customers"]:,}</td>{cells}</tr>')
    curve = "".join(_share_cell(p.retention) for p in retention_curve(data.cohorts))
    return (f'<details><summary>Numbers</summary><table class="numbers" id="cohort-table">'
            f"<tr><th>cohort</th><th>customers</th>{head}</tr>{''.join(body)}"
            f'<tr class="total"><th>all cohorts</th><td></td>{curve}</tr></table></details>')


def _trend_table(data: ReportData) -> str:
    head = "".join(f"<th>{escape(KPIS[n].title)}</th>" for n in TREND_KPIS)
    body = []
    for month in data.months:
        cells = "".join(
            f'<td data-output="{n}" data-value="{_attr(month.values[n])}">'
            f"{format_value(KPIS[n].unit, month.values[n])}</td>" for n in TREND_KPIS)
        body.append(f'<tr data-month="{month.period.start.isoformat()}">'
                    f"<th>{month.period.start:%b %Y}</th>{cells}</tr>")
    return (f'<details><summary>Numbers</summary><table class="numbers" id="trend-table">'
            f"<tr><th>month</th>{head}</tr>{''.join(body)}</table></details>")


def _at_risk_row(c: AtRiskCustomer) -> str:
    last = "" if c.last_purchase_at is None else f"{c.last_purchase_at:%Y-%m-%d}"
    reasons = "".join(f'<li data-rule="{escape(e.rule)}"><b>{escape(e.rule)}</b> '
                      f"(+{e.weight}, since {e.opened_at:%Y-%m-%d}): {escape(e.detail)}</li>"
                      for e in c.episodes)
    return (f'<tr data-customer="{escape(c.customer_id)}" data-risk-score="{c.risk_score}">'
            f"<td>{escape(c.customer_id)}</td>"
            f'<td><span class="level level-{c.level}">{c.risk_score} {c.level}</span></td>'
            f'<td class="num">{c.revenue:,.2f}</td><td class="num">{c.orders}</td>'
            f'<td>{last}</td><td><ul class="reasons">{reasons}</ul></td></tr>')


def _at_risk_section(data: ReportData) -> str:
    rows = "".join(_at_risk_row(c) for c in data.at_risk) or (
        '<tr><td colspan="6">No customer has an open risk episode.</td></tr>')
    return ('<section id="at-risk"><h2>Customers at risk now</h2>'
            '<p class="note">Open churn-risk episodes in each customer\'s latest state, highest '
            "risk score first. The score is the sum of the open rules' weights; a purchase "
            "closes them.</p>"
            '<table class="list" id="at-risk-table"><tr><th>customer</th><th>risk</th>'
            '<th class="num">revenue</th><th class="num">orders</th><th>last purchase</th>'
            f"<th>reasons</th></tr>{rows}</table></section>")


def _count_tables(data: ReportData) -> str:
    head = "".join(f"<th>{level}</th>" for level in LEVELS)
    rules = sorted({rule for rule, _ in data.alerts})
    alert_rows = "".join(
        f'<tr data-rule="{escape(rule)}"><th>{escape(rule)}</th>'
        + "".join(f'<td class="num" data-level="{level}" data-value="{data.alerts[(rule, level)]}">'
                  f"{data.alerts[(rule, level)]:,}</td>" for level in LEVELS)
        + "</tr>" for rule in rules)
    milestone_rows = "".join(
        f'<tr data-kind="{escape(kind)}"><th>{escape(kind)}</th>'
        f'<td class="num" data-value="{count}">{count:,}</td></tr>'
        for kind, count in sorted(data.milestones.items()))
    return ('<details><summary>Numbers</summary><div class="pair">'
            f'<table class="numbers" id="alerts-table"><tr><th>rule</th>{head}</tr>'
            f"{alert_rows}</table>"
            '<table class="numbers" id="milestones-table"><tr><th>milestone</th><th>count</th>'
            f"</tr>{milestone_rows}</table></div></details>")


def render_page(data: ReportData, generated_at: dt.datetime, source: str) -> str:
    """The whole report: one HTML document with nothing to fetch."""
    charts = _charts(data)
    period = f"{data.period.start} .. {data.period.end}"
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Retention report {escape(period)}</title>
<style>{STYLESHEET}</style>
<script>{get_plotlyjs()}</script>
</head>
<body>
<header>
<h1>Customer retention report</h1>
<p class="period" data-start="{data.period.start}" data-end="{data.period.end}">
{escape(period)} (end excluded, UTC; {data.period.days} days)</p>
<p class="meta">Generated {generated_at:%Y-%m-%d %H:%M} UTC from {escape(source)}.</p>
<nav><a href="#kpis">KPIs</a><a href="#cohorts">Cohorts</a><a href="#trends">Trends</a>
<a href="#at-risk">At risk</a><a href="#outputs">Alerts and milestones</a></nav>
</header>
<main>
{_kpi_section(data)}
<section id="cohorts"><h2>Cohort retention</h2>
<p class="note">Cohorts are the months of a first order that start inside the period; cell
(cohort, k) is the share of the cohort buying in the k-th month after it. Blank cells are
not observed yet.</p>
{charts["cohort-heatmap"]}
{charts["retention-curve"]}
{_cohort_table(data)}
</section>
<section id="trends"><h2>Monthly trends</h2>
<p class="note">Each calendar month of the period computed on its own (retention and churn
compare the customers active at the month's start and end).</p>
{charts["trend-rates"]}
{charts["trend-nps"]}
{_trend_table(data)}
</section>
{_at_risk_section(data)}
<section id="outputs"><h2>Alerts and milestones in the period</h2>
<div class="pair">
{charts["alerts-by-rule"]}
{charts["milestones-by-kind"]}
</div>
{_count_tables(data)}
</section>
</main>
</body>
</html>
"""
