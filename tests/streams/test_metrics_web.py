"""/metrics over the worker's real aiohttp server: the text format Prometheus reads, under the
same bind and token policy as the rest of the worker's HTTP API."""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import yaml
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import text_string_to_metric_families

from retention.embedded.broker import free_loopback_port
from retention.settings import Settings
from streams import web
from streams.app import build_faust_app
from streams.metrics import WorkerLive, WorkerMetrics

TOKEN = "metrics-token-0123456789abcdef"
STATUS = {"events_buffered": 4, "rows_pending": 9, "rows_written": 120,
          "counters": {"duplicates": 2, "late": 0, "timer_errors": 0}}


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, str, str]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read().decode()


def _scrape(tmp_path: Path, *calls: dict[str, str], **worker: Any
            ) -> list[tuple[int, str, str]]:
    """GET /metrics once per header set in `calls` while the worker's web server serves."""
    settings = Settings(data_dir=tmp_path, worker={"web_port": free_loopback_port(), **worker})
    metrics = WorkerMetrics(settings)
    metrics.watch(WorkerLive(status=lambda: STATUS, lag=lambda: {("purchases", 1): 3},
                             write_errors=dict, write_retries=lambda: 0))

    async def main() -> list[tuple[int, str, str]]:
        app = build_faust_app(settings, "127.0.0.1:9")
        web.register_metrics(app, settings.worker, metrics)
        app.web.init_server()
        await app.web.start_server()
        try:
            w = settings.worker
            url = f"http://{w.web_host}:{w.web_port}{web.METRICS_PATH}"
            return [await asyncio.to_thread(_get, url, headers) for headers in calls]
        finally:
            await app.web.stop_server()

    return asyncio.run(main())


def test_loopback_worker_without_token_serves_the_text_format(tmp_path: Path) -> None:
    """On loopback with no token configured, /metrics answers 200 in Prometheus' text format
    with the worker's live values."""
    [(code, content_type, body)] = _scrape(tmp_path, {})
    assert code == 200 and content_type.startswith("text/plain")
    samples = {s.name: s.value for f in text_string_to_metric_families(body) for s in f.samples
               if not s.labels}
    assert samples["retention_reorder_buffer_events"] == 4
    assert samples["retention_work_pending"] == 9
    assert samples["retention_clickhouse_rows_written_total"] == 120
    assert samples["retention_duplicates_total"] == 2
    assert 'retention_consumer_lag{partition="1",topic="purchases"} 3.0' in body


def test_token_is_required_when_configured(tmp_path: Path) -> None:
    """With an API token, /metrics answers 401 to no token and to a wrong one, and only the
    bearer token (as Prometheus' `authorization` sends it) gets the metrics."""
    none, wrong, right = _scrape(
        tmp_path, {}, {"Authorization": "Bearer not-the-token-at-all-000"},
        {"Authorization": f"Bearer {TOKEN}"}, api_token=TOKEN)
    assert none[0] == 401 and wrong[0] == 401
    assert "retention_" not in none[2] + wrong[2]
    assert right[0] == 200 and "retention_events_total" in right[2]


# What Prometheus 3 sends by default (scrape_protocols: OpenMetrics first).
PROMETHEUS_ACCEPT = ("application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,"
                     "application/openmetrics-text;version=0.0.1;q=0.4,"
                     "text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,"
                     "text/plain;version=0.0.4;q=0.2,*/*;q=0.1")


def test_prometheus_accept_header_gets_openmetrics(tmp_path: Path) -> None:
    """A scrape asking for OpenMetrics (as Prometheus does) gets it, complete with its
    `# EOF`, and OpenMetrics' own parser reads the same values."""
    [(code, content_type, body)] = _scrape(tmp_path, {"Accept": PROMETHEUS_ACCEPT})
    assert code == 200 and content_type.startswith("application/openmetrics-text")
    assert body.endswith("# EOF\n")
    samples = {s.name: s.value for f in openmetrics_families(body) for s in f.samples
               if not s.labels}
    assert samples["retention_work_pending"] == 9


def test_compose_prometheus_scrapes_the_workers_loopback_metrics() -> None:
    """Compose's Prometheus shares the worker's network namespace and scrapes the loopback
    port the worker listens on, at the path /metrics is served on."""
    root = Path(__file__).parents[2]
    compose = yaml.safe_load((root / "docker-compose.yml").read_text())["services"]
    config = yaml.safe_load((root / "prometheus/prometheus.yml").read_text())
    assert compose["prometheus"]["network_mode"] == "service:worker"
    [job] = config["scrape_configs"]
    [target] = job["static_configs"][0]["targets"]
    port = compose["worker"]["environment"]["RETENTION_WORKER__WEB_PORT"]
    assert target == f"127.0.0.1:{port}" and job["metrics_path"] == web.METRICS_PATH
    assert "RETENTION_WORKER__WEB_HOST" not in compose["worker"]["environment"]  # loopback
