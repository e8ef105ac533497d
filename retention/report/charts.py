"""The report's charts, as Plotly figures (plotly.js draws them in the page, offline).

Ratios stay ratios (0..1) in the figures' data and are shown as percentages through
Plotly's number formats, so a chart's data is the KPI's own value, as `retention kpi`
prints it in JSON.
"""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

from retention.analytics.kpis import KPIS, Benchmark
from retention.report.data import LEVELS, ReportData, retention_curve

FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"
LEVEL_COLOURS = {"low": "#9ecae1", "medium": "#fd8d3c", "high": "#d62728"}
TREND_COLOURS = {"repeat_purchase_rate": "#1f77b4", "customer_retention_rate": "#2ca02c",
                 "churn_rate": "#d62728", "csat": "#9467bd", "nps": "#ff7f0e"}
RATIO_TRENDS = ("repeat_purchase_rate", "customer_retention_rate", "churn_rate", "csat")


def _layout(fig: go.Figure, title: str, height: int, top: int = 60) -> go.Figure:
    fig.update_layout(title={"text": title, "x": 0, "xanchor": "left"}, height=height,
                      font={"family": FONT, "size": 13}, template="plotly_white",
                      margin={"l": 60, "r": 30, "t": top, "b": 50},
                      legend={"orientation": "h", "y": -0.18})
    return fig


def cohort_heatmap(data: ReportData) -> go.Figure:
    """Cohort month (rows, oldest on top) x month k after it; blank = not observed yet."""
    rows = data.cohorts
    labels = [f"{r['cohort_month'][:7]} ({r['customers']:,})" for r in rows]
    fig = go.Figure(go.Heatmap(
        z=[[r[f"month_{k}"] for k in range(12)] for r in rows],
        x=[f"M{k}" for k in range(12)], y=labels,
        zmin=0, zmax=1, colorscale="Blues", xgap=2, ygap=2,
        texttemplate="%{z:.0%}", colorbar={"tickformat": ".0%", "title": {"text": ""}},
        hovertemplate="cohort %{y}<br>month %{x}: %{z:.1%} buying<extra></extra>",
    ))
    fig.update_yaxes(autorange="reversed", title="first-order month (customers)")
    fig.update_xaxes(side="top")
    return _layout(fig, "Share of each cohort buying in month k after its first-order month "
                   "(M0)", max(280, 110 + 30 * len(rows)), top=90)


def retention_curve_figure(data: ReportData) -> go.Figure:
    """The cohorts pooled (weighted by size), each cohort's own curve one click away."""
    fig = go.Figure()
    for row in data.cohorts:
        fig.add_trace(go.Scatter(
            x=list(range(12)), y=[row[f"month_{k}"] for k in range(12)], mode="lines",
            name=row["cohort_month"][:7], line={"width": 1}, opacity=0.6,
            visible="legendonly",
            hovertemplate=f"cohort {row['cohort_month'][:7]}"
                          "<br>month %{x}: %{y:.1%}<extra></extra>"))
    points = retention_curve(data.cohorts)
    fig.add_trace(go.Scatter(
        x=[p.k for p in points], y=[p.retention for p in points], mode="lines+markers",
        name="all cohorts", line={"width": 3, "color": "#1f77b4"},
        customdata=[p.customers for p in points],
        hovertemplate="month %{x}: %{y:.1%} of %{customdata:,} customers<extra></extra>"))
    # A share of the cohort: never above 100%.
    fig.update_yaxes(tickformat=".0%", range=[0, 1.05], title="share buying in month k")
    fig.update_xaxes(dtick=1, title="months after the first-order month")
    return _layout(fig, "Retention curve (cohorts pooled; click a cohort to add its curve)",
                   380)


def _band(fig: go.Figure, benchmark: Benchmark, label: str, colour: str) -> None:
    """The benchmark range shaded across the chart, named in the legend (a label inside
    the plot would sit on the lines)."""
    if benchmark.low is None or benchmark.high is None:
        return
    fig.add_hrect(y0=benchmark.low, y1=benchmark.high, fillcolor=colour, opacity=0.12,
                  line_width=0)
    fig.add_trace(go.Scatter(
        x=[None], y=[None], mode="markers", hoverinfo="skip",
        name=f"{label} benchmark {benchmark.describe()}",
        marker={"symbol": "square", "size": 14, "color": colour, "opacity": 0.25}))


def rate_trends(data: ReportData) -> go.Figure:
    """Repeat purchase, retention, churn and CSAT per month, the RPR benchmark as a band."""
    months = [m.period.start.isoformat() for m in data.months]
    fig = go.Figure()
    for name in RATIO_TRENDS:
        fig.add_trace(go.Scatter(
            x=months, y=[m.values[name] for m in data.months], mode="lines+markers",
            name=KPIS[name].title, line={"color": TREND_COLOURS[name]},
            hovertemplate=f"{KPIS[name].title}<br>%{{x|%b %Y}}: %{{y:.1%}}<extra></extra>"))
    rpr = KPIS["repeat_purchase_rate"].benchmark
    if rpr is not None:
        _band(fig, rpr, "Repeat purchase", TREND_COLOURS["repeat_purchase_rate"])
    fig.update_yaxes(tickformat=".0%", rangemode="tozero")
    fig.update_xaxes(dtick="M1", tickformat="%b %Y")
    return _layout(fig, "Monthly trends: rates (each month on its own)", 400)


def nps_trend(data: ReportData) -> go.Figure:
    months = [m.period.start.isoformat() for m in data.months]
    values = [m.values["nps"] for m in data.months]
    fig = go.Figure(go.Bar(
        x=months, y=values, name=KPIS["nps"].title,
        marker_color=["#2ca02c" if (v or 0) >= 0 else "#d62728" for v in values],
        hovertemplate="NPS %{x|%b %Y}: %{y:.1f}<extra></extra>"))
    fig.update_yaxes(range=[-100, 100], zeroline=True, zerolinewidth=2, title="NPS")
    fig.update_xaxes(dtick="M1", tickformat="%b %Y")
    return _layout(fig, "Monthly trends: Net Promoter Score (-100..100)", 320)


def alerts_by_rule(data: ReportData) -> go.Figure:
    """Churn-risk alerts decided in the period, per rule, stacked by level."""
    rules = sorted({rule for rule, _ in data.alerts},
                   key=lambda r: sum(data.alerts[(r, lvl)] for lvl in LEVELS))
    fig = go.Figure([
        go.Bar(y=rules, x=[data.alerts[(rule, level)] for rule in rules], name=level,
               orientation="h", marker_color=LEVEL_COLOURS[level],
               hovertemplate=f"%{{y}} ({level}): %{{x:,}}<extra></extra>")
        for level in LEVELS])
    fig.update_layout(barmode="stack")
    fig.update_xaxes(title="alerts")
    return _layout(fig, "Churn-risk alerts by rule and level", 360)


def milestones_by_kind(data: ReportData) -> go.Figure:
    kinds = sorted(data.milestones, key=lambda k: data.milestones[k])
    fig = go.Figure(go.Bar(
        y=kinds, x=[data.milestones[k] for k in kinds], orientation="h",
        marker_color="#2ca02c", hovertemplate="%{y}: %{x:,}<extra></extra>"))
    fig.update_xaxes(title="milestones")
    return _layout(fig, "Milestones by kind", 340)


# What the page says instead of a chart that would have nothing to draw.
NOTHING_TO_DRAW = {
    "cohort-heatmap": "No customer made a first order in a month starting in the period.",
    "retention-curve": "",  # the heatmap's note says it
    "trend-rates": "No month of the period has a purchase or a CSAT answer.",
    "trend-nps": "No month of the period has an NPS answer.",
    "alerts-by-rule": "No churn-risk alert was decided in the period.",
    "milestones-by-kind": "No milestone was decided in the period.",
}


def figures(data: ReportData) -> dict[str, go.Figure | None]:
    """Every chart by its element id in the page; None where it would have nothing to draw
    (empty axes read as a broken chart)."""
    has_rates = any(m.values[n] is not None for m in data.months for n in RATIO_TRENDS)
    has_nps = any(m.values["nps"] is not None for m in data.months)
    return {
        "cohort-heatmap": cohort_heatmap(data) if data.cohorts else None,
        "retention-curve": retention_curve_figure(data) if data.cohorts else None,
        "trend-rates": rate_trends(data) if has_rates else None,
        "trend-nps": nps_trend(data) if has_nps else None,
        "alerts-by-rule": alerts_by_rule(data) if any(data.alerts.values()) else None,
        "milestones-by-kind": (milestones_by_kind(data) if any(data.milestones.values())
                               else None),
    }


# No tool bar over the charts (a mailed report is read, not edited); zoom by dragging and
# double-click to reset still work.
PLOTLY_CONFIG: dict[str, Any] = {"displayModeBar": False, "responsive": True}
