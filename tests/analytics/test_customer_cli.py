"""`retention customer ID` and `retention at-risk`: JSON equal to the queries' answers, the
table's sections and reasons, exit codes."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest
from click.testing import CliRunner, Result

from retention.analytics.customer import at_risk, customer_story
from retention.cli.main import cli
from retention.settings import get_settings

from .conftest import Db
from .customer_shop import NEWCOMER, STORY


@pytest.fixture
def invoke(shop, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Result]]:
    """Run `retention ...` against the shop's database (directly: no worker runs)."""
    db: Db = shop[0]
    ch = db.settings.clickhouse
    monkeypatch.setenv("RETENTION_CLICKHOUSE__DSN", ch.dsn.get_secret_value())
    monkeypatch.setenv("RETENTION_CLICKHOUSE__DATABASE", str(ch.database))
    monkeypatch.setenv("RETENTION_DATA_DIR", str(db.settings.data_dir))

    def run(*args: str) -> Result:
        get_settings.cache_clear()
        return CliRunner().invoke(cli, list(args), catch_exceptions=False)

    yield run
    get_settings.cache_clear()


def test_customer_json_is_the_story(shop, invoke) -> None:
    """--format json prints the story's sections as customer_story reads them."""
    result = invoke("customer", STORY, "--events", "4", "--format", "json")
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer == json.loads(json.dumps(customer_story(shop[0].runner, STORY, 4).as_dict()))
    assert answer["predictive_profile"]["model_version"] == 1
    assert len(answer["recent_events"]) == 4


def test_customer_table_shows_every_section(invoke) -> None:
    """The table names the state, each open episode's reason, the profile with the
    readiness rule it passed, milestones and events."""
    out = invoke("customer", STORY).stdout
    for text in ("customer c00007", "risk_score", "open risk episodes:", "NPS 3", "overdue",
                 "predictive profile (model v1", "churn_probability", "expected_next_order_date",
                 "readiness rule", "milestones:", "lifetime_spend", "recent events:", "nps 3"):
        assert text in out, text
    newcomer = invoke("customer", NEWCOMER).stdout
    assert "predictive profile: none" in newcomer


def test_unknown_customer_exits_4(invoke) -> None:
    result = invoke("customer", "nobody")
    assert result.exit_code == 4
    assert "no customer 'nobody'" in result.stderr


def test_at_risk_json_and_table(shop, invoke) -> None:
    """--min-value and --limit reach the query; the table lists each customer's reasons."""
    result = invoke("at-risk", "--min-value", "5", "--limit", "7", "--format", "json")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert rows == json.loads(json.dumps(at_risk(shop[0].runner, 5.0, 7)))
    assert 0 < len(rows) <= 7 and all(r["value_at_risk"] >= 5 for r in rows)
    table = invoke("at-risk", "--limit", "3").stdout.splitlines()
    assert table[0].split()[:2] == ["customer_id", "value_at_risk"]
    assert len(table) == 5 and "because of reason" in table[2]
    assert invoke("at-risk", "--min-value", "-1").exit_code == 2
