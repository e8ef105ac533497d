"""The report in a real browser: a history through the embedded pipeline, `retention report`
through the running worker and then directly, each file opened in headless Chromium.

What a reader sees is checked against independent answers: the numbers on the page against
`retention kpi ... --format json` for the same period, the alert and milestone counts and
the customers at risk against an in-process run of the same history.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kafka.partitioner.default import murmur2

from retention.demo.synthetic import HistorySpec, generate_history, to_json_lines
from retention.embedded.stack import LocalStack
from retention.kafka import Publisher
from retention.settings import Settings
from sinks.rows import COLUMNS
from streams.processor import BatchResult, InMessage, StreamProcessor
from streams.signals import SignalEngine
from tests.integration.helpers import REPLAY_ENV, wait_idle_alive
from tests.report.browser import WIDTH, chromium_path, open_page

pytestmark = pytest.mark.integration

SPEC = HistorySpec(customers=400, months=12, seed=11)
START, END = "2026-02-01", "2026-11-01"
TOP = 25
# The spec's repeat purchase rate range (kpis.md): 19.87%-39.6%.
RPR_RANGE = (0.1987, 0.396)
TRENDS = ("repeat_purchase_rate", "customer_retention_rate", "churn_rate", "nps", "csat")
CHARTS = {"cohort-heatmap", "retention-curve", "trend-rates", "trend-nps", "alerts-by-rule",
          "milestones-by-kind"}

# Everything the test reads from the rendered page, in one evaluation.
READ_PAGE = """(() => {
  const rows = sel => [...document.querySelectorAll(sel)];
  const heat = document.getElementById('cohort-heatmap');
  return {
    source: document.querySelector('.meta').textContent,
    tiles: rows('.tile').map(t => ({output: t.dataset.output, value: t.dataset.value,
      inside: t.dataset.inside, text: t.querySelector('.tile-value').textContent})),
    trends: rows('#trend-table tr[data-month]').map(r => ({month: r.dataset.month,
      cells: Object.fromEntries(rows(`#trend-table tr[data-month="${r.dataset.month}"] td`)
        .map(td => [td.dataset.output, td.dataset.value]))})),
    heatmap: {y: heat.data[0].y, z: heat.data[0].z},
    charts: rows('.js-plotly-plot').map(gd => {
      const box = gd.querySelector('.main-svg').getBoundingClientRect();
      return {id: gd.id, traces: gd.data.length, width: box.width, height: box.height,
              heatmapImages: gd.querySelectorAll('.hm image').length,
              lines: gd.querySelectorAll('.scatterlayer path.js-line').length,
              bars: gd.querySelectorAll('.barlayer .point').length};
    }),
    atRisk: rows('#at-risk-table tr[data-customer]').map(r => ({customer: r.dataset.customer,
      score: Number(r.dataset.riskScore),
      rules: [...r.querySelectorAll('li')].map(li => li.dataset.rule)})),
    alerts: rows('#alerts-table td').map(td => [td.closest('tr').dataset.rule,
      td.dataset.level, Number(td.dataset.value)]),
    milestones: rows('#milestones-table td').map(td => [td.closest('tr').dataset.kind,
      Number(td.dataset.value)]),
  };
})()"""


def replay(events: list[dict[str, Any]], settings: Settings) -> list[BatchResult]:
    """An independent in-process run of the same history, as tests/integration's pipeline
    test does: every event, then all topics quiet, then every changed state flushed."""
    engine = SignalEngine(settings.signals)
    clock = [0.0]
    topic = {"purchase": "purchases", "support": "support-events",
             "survey": "survey-responses"}
    n = settings.kafka.partitions
    messages = []
    for i, event in enumerate(events):
        key = event["customer_id"].encode()
        messages.append(InMessage(topic[event["type"]], (murmur2(key) & 0x7FFFFFFF) % n, i,
                                  key, json.dumps(event).encode()))
    # Every log read to its end, as the worker's consumer reports once all is in: only
    # then do quiet topics go idle (streams/processor/reorder.py).
    ends = {(m.topic, m.partition): m.offset + 1 for m in messages}
    processor = StreamProcessor(settings, engine, lambda *_: None, monotonic=lambda: clock[0],
                                end_offset=lambda topic, p: ends.get((topic, p), 0))
    results = [processor.process(messages)]
    clock[0] += settings.signals.idle_watermark_after_s + 1  # all topics go quiet, as live
    results.append(processor.tick())
    processor.flush(results[-1])
    return results


def _require_chromium() -> None:
    if chromium_path() is None:
        message = "chromium is not installed: `make browser` installs it (make test does)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def _cli(stack: LocalStack, *args: str) -> subprocess.CompletedProcess[str]:
    """`retention ARGS` in a process of its own, with the stack's settings."""
    done = subprocess.run([sys.executable, "-m", "retention.cli.main", *args],
                          env={**os.environ, **stack.env}, capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    return done


def _report(stack: LocalStack, out: Path) -> subprocess.CompletedProcess[str]:
    return _cli(stack, "report", "--start", START, "--end", END, "--top", str(TOP),
                "--out", str(out))


def _json(stack: LocalStack, *args: str) -> Any:
    return json.loads(_cli(stack, "kpi", *args, "--start", START, "--end", END,
                           "--format", "json").stdout)


def _render(html: Path, screenshot: Path) -> dict[str, Any]:
    with open_page(html) as page:
        seen: dict[str, Any] = page.evaluate(READ_PAGE)
        page.screenshot(screenshot)
        seen["errors"] = page.console_errors()
        seen["requests"] = page.requested_urls()
    return seen


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The history through a stack; the report and the KPIs through the worker, then the
    report again once the worker has stopped (read directly from the chDB folder)."""
    _require_chromium()
    folder = tmp_path_factory.mktemp("report")
    events = generate_history(SPEC)
    stack = LocalStack(folder / "stack", env=REPLAY_ENV)
    out: dict[str, Any] = {"folder": folder}
    try:
        settings = stack.start()
        stack.start_worker()
        publisher = Publisher(settings)
        publisher.publish_lines(to_json_lines(events))
        publisher.close()
        assert wait_idle_alive(stack, 300).idle
        out["worker_run"] = _report(stack, folder / "worker.html")
        out["kpis"] = _json(stack, "all")
        out["monthly"] = _json(stack, "all", "--by", "month")
        out["cohorts"] = _json(stack, "cohort_retention")
        out["worker"] = _render(folder / "worker.html", folder / "worker.png")
        stack.stop_worker()
        _report(stack, folder / "direct.html")
        out["direct"] = _render(folder / "direct.html", folder / "direct.png")
    finally:
        stack.stop()
    out["reference"] = replay(events, settings)
    yield out


def _number(attribute: str) -> float | None:
    return None if attribute == "" else float(attribute)


def _same(got: float | None, want: float | None, what: str) -> None:
    if want is None:
        assert got is None, f"{what}: expected no value, got {got}"
    else:
        assert got == pytest.approx(want, rel=1e-9, abs=1e-12), what


def test_the_page_opens_offline_without_errors(run: dict[str, Any]) -> None:
    """No console error or uncaught exception, and nothing requested beyond the file
    itself and the images Plotly draws into data: URLs."""
    for mode in ("worker", "direct"):
        seen = run[mode]
        assert seen["errors"] == [], mode
        page = (run["folder"] / f"{mode}.html").resolve().as_uri()
        assert [u for u in seen["requests"] if not u.startswith("data:")] == [page], mode


def test_every_chart_is_drawn(run: dict[str, Any]) -> None:
    """Plotly drew all six charts at a visible size: the heatmap's image, the curves'
    lines, the bars."""
    charts = {c["id"]: c for c in run["worker"]["charts"]}
    assert set(charts) == CHARTS
    for chart in charts.values():
        assert chart["width"] > 300 and chart["height"] > 200, chart
    assert charts["cohort-heatmap"]["heatmapImages"] == 1
    assert charts["retention-curve"]["lines"] >= 1
    assert charts["trend-rates"]["lines"] == 4
    assert charts["trend-nps"]["bars"] == 9  # one per month of the period
    assert charts["alerts-by-rule"]["bars"] > 0 and charts["milestones-by-kind"]["bars"] > 0


def test_tiles_equal_kpi_all(run: dict[str, Any]) -> None:
    """Every KPI tile shows `retention kpi all --format json`'s value for the period, the
    ratios as percentages, and the benchmark verdict the spec's range gives."""
    tiles = {t["output"]: t for t in run["worker"]["tiles"]}
    assert set(tiles) == set(run["kpis"])
    for output, want in run["kpis"].items():
        _same(_number(tiles[output]["value"]), want, output)
    rpr = run["kpis"]["repeat_purchase_rate"]
    assert tiles["repeat_purchase_rate"]["text"] == f"{rpr * 100:.1f}%"
    inside = RPR_RANGE[0] <= rpr <= RPR_RANGE[1]
    assert tiles["repeat_purchase_rate"]["inside"] == str(inside).lower()
    # The churn benchmark is annual; this period is nine months: not judged.
    assert tiles["churn_rate"]["inside"] == ""
    assert tiles["churn_rate"]["text"] == f"{run['kpis']['churn_rate'] * 100:.1f}%"


def test_worker_and_direct_reports_agree(run: dict[str, Any]) -> None:
    """The report read through the running worker equals the one read from the folder
    after it stopped; each page says which way it read."""
    assert "through the running worker" in run["worker"]["source"]
    assert "through the running worker" not in run["direct"]["source"]
    direct = {t["output"]: _number(t["value"]) for t in run["direct"]["tiles"]}
    for tile in run["worker"]["tiles"]:
        _same(direct[tile["output"]], _number(tile["value"]), tile["output"])
    assert run["direct"]["atRisk"] == run["worker"]["atRisk"]
    assert run["direct"]["alerts"] == run["worker"]["alerts"]


def test_monthly_trends_equal_kpi_by_month(run: dict[str, Any]) -> None:
    """Each month's repeat purchase rate, retention, churn, NPS and CSAT on the page equal
    `retention kpi all --by month`."""
    monthly = {m["period_start"]: m for m in run["monthly"]}
    trends = run["worker"]["trends"]
    assert [t["month"] for t in trends] == list(monthly)
    for row in trends:
        for output in TRENDS:
            _same(_number(row["cells"][output]), monthly[row["month"]][output],
                  f"{row['month']} {output}")


def test_heatmap_equals_cohort_retention(run: dict[str, Any]) -> None:
    """The heatmap's cells are `retention kpi cohort_retention`'s, cohort by cohort."""
    heat = run["worker"]["heatmap"]
    cohorts = run["cohorts"]
    assert len(cohorts) >= 6
    assert heat["y"] == [f"{c['cohort_month'][:7]} ({c['customers']:,})" for c in cohorts]
    for row, cohort in zip(heat["z"], cohorts, strict=True):
        for k, cell in enumerate(row):
            _same(cell, cohort[f"month_{k}"], f"{cohort['cohort_month']} month {k}")


def _in_period(when: dt.datetime) -> bool:
    return dt.datetime.fromisoformat(START).replace(tzinfo=dt.UTC) <= when < \
        dt.datetime.fromisoformat(END).replace(tzinfo=dt.UTC)


def _reference_rows(run: dict[str, Any], table: str) -> list[dict[str, Any]]:
    return [dict(zip(COLUMNS[table], row, strict=True))
            for result in run["reference"] for row in result.rows.rows.get(table, [])]


def test_alert_and_milestone_counts_equal_an_independent_run(run: dict[str, Any]) -> None:
    """Counts by rule and level (alerts) and by kind (milestones) decided in the period
    equal those of an in-process replay of the same history."""
    alerts = {r["alert_id"]: r for r in _reference_rows(run, "churn_risk_alerts")}
    want_alerts = Counter((a["rule_id"], a["level"]) for a in alerts.values()
                          if _in_period(a["decided_at"]))
    shown_alerts = {(rule, level): n for rule, level, n in run["worker"]["alerts"]}
    assert {k: n for k, n in shown_alerts.items() if n} == dict(want_alerts)
    assert sum(want_alerts.values()) > 50
    milestones = {r["milestone_id"]: r for r in _reference_rows(run, "milestones")}
    want_milestones = Counter(m["kind"] for m in milestones.values()
                              if _in_period(m["decided_at"]))
    shown = {kind: n for kind, n in run["worker"]["milestones"] if n}
    assert shown == dict(want_milestones)


def test_customers_at_risk_equal_an_independent_run(run: dict[str, Any]) -> None:
    """The at-risk list is the replay's final states with open episodes, highest score
    first (then revenue, then id), top 25, each with its open rules in opening order."""
    latest: dict[str, dict[str, Any]] = {}
    for state in _reference_rows(run, "customer_state"):
        if state["version"] >= latest.get(state["customer_id"], {"version": -1})["version"]:
            latest[state["customer_id"]] = state
    at_risk = sorted((s for s in latest.values() if s["open_risk_rules"]),
                     key=lambda s: (-s["risk_score"], -round(s["revenue"], 2),
                                    s["customer_id"]))[:TOP]
    want = [{"customer": s["customer_id"], "score": s["risk_score"],
             "rules": list(json.loads(s["state"])["episodes"])} for s in at_risk]
    assert len(want) == TOP
    assert run["worker"]["atRisk"] == want


def test_progress_lines_and_screenshot(run: dict[str, Any]) -> None:
    """Off a terminal the command prints one plain line per step; the screenshot is a
    full-page PNG."""
    stderr = run["worker_run"].stderr.splitlines()
    steps = 5 + 9  # KPIs, cohorts, nine months, at risk, alerts, milestones
    assert stderr[0] == f"report: KPIs (1/{steps})"
    assert stderr[-2:] == [f"report: milestones ({steps}/{steps})", "report: done"]
    png = (run["folder"] / "worker.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert width == WIDTH and height > 3000
