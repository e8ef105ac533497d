"""/metrics scraped from a real worker (embedded tansu + chDB) as Prometheus would, with the
bearer token: the counters equal what was published, the dead letters sent, the rows in
ClickHouse and `retention status`; a ClickHouse outage shows as write errors, retries and
consumer lag."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from kafka import KafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from retention.demo.synthetic import HistorySpec, generate_history, to_json_lines
from retention.embedded.stack import LocalStack
from retention.kafka import Publisher, current_status
from tests.integration.helpers import read_tables, wait_for, wait_idle_alive, worker_url

pytestmark = pytest.mark.integration

SPEC = HistorySpec(customers=150, months=6, seed=12)
TOKEN = "metrics-scrape-token-7c1d2e"
MAX_MESSAGE_BYTES = 16_384
TOPIC = {"purchase": "purchases", "support": "support-events", "survey": "survey-responses"}
OUTAGE_EVENTS = 20
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def _bad_messages() -> list[tuple[str, bytes, bytes, str]]:
    """(topic, key, value, the stage that must refuse it), built by hand."""
    old_ticket = {"event_id": "bad-old", "customer_id": "cust-b3",
                  "occurred_at": "1990-01-01T00:00:00Z", "ticket_id": "t", "action": "opened",
                  "channel": "email"}
    huge_survey = {"event_id": "bad-huge", "customer_id": "cust-b4",
                   "occurred_at": "2026-03-01T00:00:00Z", "survey": "nps", "score": 9,
                   "comment": "x" * (MAX_MESSAGE_BYTES + 100)}
    return [
        ("purchases", b"cust-b1", b"{not json", "parse"),
        ("purchases", b"cust-b2", json.dumps({
            "event_id": "bad-neg", "customer_id": "cust-b2", "occurred_at":
            "2026-03-01T00:00:00Z", "order_id": "o", "amount": -1}).encode(), "parse"),
        ("support-events", b"cust-b3", json.dumps(old_ticket).encode(), "event_time"),
        ("survey-responses", b"cust-b4", json.dumps(huge_survey).encode(), "size"),
    ]


# Keyed by someone else: re-routed to cust-m1's partition, where its copy is accepted.
MISPLACED = {"type": "purchase", "event_id": "moved-1", "customer_id": "cust-m1",
             "occurred_at": "2026-03-01T00:00:00Z", "order_id": "o-m1", "amount": 3}


def _scrape(stack: LocalStack, token: str | None = TOKEN) -> tuple[int, Samples]:
    """GET /metrics as Prometheus does (bearer token); every sample by (name, labels)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(worker_url(stack) + "/metrics", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, {}
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(text) for s in family.samples}
    return 200, samples


def _by(samples: Samples, name: str, *labels: str) -> dict[tuple[str, ...], float]:
    """Non-zero samples of `name` summed by the values of `labels` (in that order)."""
    out: Counter[tuple[str, ...]] = Counter()
    for (n, pairs), value in samples.items():
        if n == name and value:
            given = dict(pairs)
            out[tuple(given[label] for label in labels)] += value
    return dict(out)


def _total(samples: Samples, name: str) -> float:
    return sum(v for (n, _), v in samples.items() if n == name)


def _one(samples: Samples, name: str) -> float:
    return samples[name, ()]


def test_scraped_counters_equal_what_was_offered_and_stored(tmp_path: Path) -> None:
    """Events by topic and outcome equal the lines published and the bad messages sent; dead
    letters by reason the stages they were sent to trip; alerts and milestones by kind and
    historical flag the rows in ClickHouse; overlapping values equal `retention status`; a
    ClickHouse outage shows as write errors, retries and exact consumer lag."""
    started = time.monotonic()
    events = generate_history(SPEC)
    outage_file = tmp_path / "clickhouse-outage"
    env = {
        "RETENTION_SIGNALS__LIVE_WATERMARK": "false",
        "RETENTION_SIGNALS__IDLE_WATERMARK_AFTER_S": "2",
        "RETENTION_SINK__FLUSH_INTERVAL_S": "0.2",
        "RETENTION_SINK__OUTAGE_FILE": str(outage_file),
        "RETENTION_SINK__RETRY_MAX_S": "0.5",
        "RETENTION_KAFKA__MAX_MESSAGE_BYTES": str(MAX_MESSAGE_BYTES),
        "RETENTION_WORKER__API_TOKEN": TOKEN,
    }
    with LocalStack(tmp_path / "stack", env) as stack:
        stack.start_worker()
        publisher = Publisher(stack.settings())
        assert publisher.publish_lines(to_json_lines(events)).sent == len(events)
        raw = KafkaProducer(bootstrap_servers=stack.servers)
        bad = _bad_messages()
        for topic, key, value, _ in bad:
            raw.send(topic, key=key, value=value)
        raw.send("purchases", key=b"someone-else", value=json.dumps(MISPLACED).encode())
        raw.flush()
        assert wait_idle_alive(stack, 240).idle

        assert _scrape(stack, token=None)[0] == 401
        assert _scrape(stack, token="wrong-token-0123456789")[0] == 401
        code, s = _scrape(stack)
        status = current_status(stack.settings())  # what `retention status` shows
        assert code == 200 and status.idle

        # Events: every published line accepted into its topic's raw table (duplicates
        # included: they are messages too), the misplaced one re-routed and its copy accepted.
        published = Counter(TOPIC[e["type"]] for e in events)
        published["purchases"] += 1  # the re-routed copy
        refused = Counter(topic for topic, *_ in bad)
        expected_events = {**{(t, "accepted"): n for t, n in published.items()},
                           **{(t, "dead_letter"): n for t, n in refused.items()},
                           ("purchases", "rerouted"): 1}
        assert _by(s, "retention_events_total", "topic", "outcome") == expected_events
        assert _by(s, "retention_dead_letters_total", "topic", "reason") == Counter(
            (topic, stage) for topic, _, _, stage in bad)

        # Where the metrics and `retention status` overlap, they agree.
        w = status.worker
        assert w is not None
        assert _total(s, "retention_dead_letters_total") == w["counters"]["dead_letters"]
        assert _by(s, "retention_events_total", "outcome")[("rerouted",)] == \
            w["counters"]["rerouted"]
        # status "events" counts applied events and duplicates: all accepted ones here.
        assert _by(s, "retention_events_total", "outcome")[("accepted",)] == \
            w["counters"]["events"]
        assert _one(s, "retention_duplicates_total") == w["counters"]["duplicates"] > 0
        assert _one(s, "retention_clickhouse_rows_written_total") == w["rows_written"]
        assert _one(s, "retention_reorder_buffer_events") == w["events_buffered"] == 0
        assert _one(s, "retention_work_pending") == w["rows_pending"] == 0
        partitions = stack.settings().kafka.partitions
        lag = _by(s, "retention_consumer_lag", "topic", "partition")
        assert lag == {}  # nothing behind: every series is 0
        assert sum(1 for (n, _) in s if n == "retention_consumer_lag") == 3 * partitions
        assert sum(status.lag.values()) == 0
        assert _total(s, "retention_clickhouse_write_errors_total") == 0
        assert s["retention_batch_duration_seconds_count", (("stage", "process"),)] > 0
        assert _one(s, "retention_state_flush_duration_seconds_count") > 0

        # A ClickHouse outage while new events arrive: inserts refused and retried, nothing
        # committed, so the lag is exactly the new events (as the broker says too).
        outage_file.write_text(str(time.time() + 600))
        now = datetime.now(UTC) - timedelta(hours=1)
        fresh = [json.dumps({"type": "purchase", "event_id": f"fresh-{i}",
                             "customer_id": f"cust-fresh-{i}",
                             "occurred_at": (now + timedelta(seconds=i)).isoformat(),
                             "order_id": f"of-{i}", "amount": 10}) for i in range(OUTAGE_EVENTS)]
        assert publisher.publish_lines(fresh).sent == OUTAGE_EVENTS
        publisher.close()
        during = wait_for(
            lambda: (x := _scrape(stack)[1]) and
            _total(x, "retention_consumer_lag") == OUTAGE_EVENTS and
            _total(x, "retention_clickhouse_write_errors_total") >= 2 and x,
            timeout_s=60, what="lag of the new events and refused inserts")
        assert sum(current_status(stack.settings()).lag.values()) == OUTAGE_EVENTS
        assert _one(during, "retention_clickhouse_write_retries_total") >= 1
        assert _by(during, "retention_events_total", "outcome")[("accepted",)] == \
            sum(published.values())  # the new events are not counted before they are written
        outage_file.write_text("0")
        assert wait_idle_alive(stack, 120).idle
        _, final = _scrape(stack)
        errors = _total(final, "retention_clickhouse_write_errors_total")
        assert _one(final, "retention_clickhouse_write_retries_total") == errors >= 2
        assert _by(final, "retention_events_total", "outcome")[("accepted",)] == \
            sum(published.values()) + OUTAGE_EVENTS
        assert _total(final, "retention_consumer_lag") == 0

        stored = read_tables(stack, {
            "alerts": "SELECT rule_id, toString(historical), count() FROM churn_risk_alerts "
                      "FINAL GROUP BY 1, 2",
            "milestones": "SELECT kind, toString(historical), count() FROM milestones FINAL "
                          "GROUP BY 1, 2",
            "dead_letters": "SELECT topic, stage, count() FROM dead_letters FINAL "
                            "GROUP BY 1, 2",
        })
    alerts = {(rule, flag): n for rule, flag, n in stored["alerts"]}
    milestones = {(kind, flag): n for kind, flag, n in stored["milestones"]}
    assert alerts and milestones
    assert _by(final, "retention_alerts_total", "rule_id", "historical") == alerts
    assert _by(final, "retention_milestones_total", "kind", "historical") == milestones
    # History months old is historical; the first purchases during the outage are live.
    assert milestones[("first_purchase", "false")] == OUTAGE_EVENTS
    assert _by(final, "retention_dead_letters_total", "topic", "reason") == {
        (topic, stage): n for topic, stage, n in stored["dead_letters"]}
    print(f"metrics scrape run: {time.monotonic() - started:.1f} s, "
          f"{sum(published.values())} events, {errors:.0f} refused inserts")
