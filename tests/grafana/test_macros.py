"""The macro expansion the panel tests use gives the plugin's own expected output.

Expected strings are those of grafana-clickhouse-datasource's pkg/macros/macros_test.go
(v4.20.0), written out here, not produced by the expander.
"""

from __future__ import annotations

import datetime as dt

import pytest

from .macros import QueryContext, expand_macros, panel_sql, strip_comments, substitute_variables

# The plugin tests' range: 2014-11-12T11:45:26.371Z .. 2015-11-12T11:45:26.371Z.
PLUGIN_RANGE = QueryContext(
    dt.datetime(2014, 11, 12, 11, 45, 26, 371000, tzinfo=dt.UTC),
    dt.datetime(2015, 11, 12, 11, 45, 26, 371000, tzinfo=dt.UTC),
    dt.timedelta(seconds=20),
)


@pytest.mark.parametrize(("sql", "expected"), [
    ("$__fromTime", "toDateTime(1415792726)"),
    ("$__toTime", "toDateTime(1447328726)"),
    ("$__fromTime_ms", "fromUnixTimestamp64Milli(1415792726371)"),
    ("$__toTime_ms", "fromUnixTimestamp64Milli(1447328726371)"),
    ("$__dateFilter(dateCol)",
     "dateCol >= toDate('2014-11-12') AND dateCol <= toDate('2015-11-12')"),
    ("$__timeInterval(col)", "toStartOfInterval(toDateTime(col), INTERVAL 20 second)"),
    ("$__interval_s", "20"),
    ("$__timeFilter(ts)", "ts >= toDateTime(1415792726) AND ts <= toDateTime(1447328726)"),
    ("$__timeFilter_ms(ts)", "ts >= fromUnixTimestamp64Milli(1415792726371) AND "
                             "ts <= fromUnixTimestamp64Milli(1447328726371)"),
])
def test_each_macro_expands_as_the_plugin_does(sql: str, expected: str) -> None:
    """Each macro the panels may use gives the plugin's expected ClickHouse SQL."""
    assert expand_macros(sql, PLUGIN_RANGE) == expected


def test_interval_is_at_least_one_second() -> None:
    """A sub-second interval still gives `$__interval_s` 1, as the plugin clamps it."""
    ctx = QueryContext(PLUGIN_RANGE.time_from, PLUGIN_RANGE.time_to,
                       dt.timedelta(milliseconds=200))
    assert expand_macros("$__interval_s", ctx) == "1"


def test_longer_names_win_and_arguments_keep_their_parentheses() -> None:
    """`$__timeFilter_ms` is not read as `$__timeFilter`; nested calls stay in the argument."""
    sql = "WHERE $__timeFilter_ms(a) AND $__timeFilter(toDate(b, 'UTC'))"
    assert expand_macros(sql, PLUGIN_RANGE) == (
        "WHERE a >= fromUnixTimestamp64Milli(1415792726371) AND "
        "a <= fromUnixTimestamp64Milli(1447328726371) AND "
        "toDate(b, 'UTC') >= toDateTime(1415792726) AND toDate(b, 'UTC') <= toDateTime(1447328726)")


def test_comments_are_blanked_before_expansion() -> None:
    """Macros in comments are not expanded (the plugin blanks comments first), and quoted
    text that looks like a comment is kept."""
    sql = "SELECT 1 -- $__fromTime\n/* $__toTime */ , '--x' AS s"
    stripped = strip_comments(sql)
    assert stripped == "SELECT 1 " + " " * 14 + "\n" + " " * 15 + " , '--x' AS s"
    assert "$__" not in expand_macros(sql, PLUGIN_RANGE)


def test_dashboard_variables_come_first_and_unknown_names_stay() -> None:
    """Grafana substitutes `${name}` and `$name` of the dashboard; `$__` macros pass on."""
    sql = "SELECT ${window}, $window, $__interval_s"
    assert substitute_variables(sql, {"window": "365"}) == "SELECT 365, 365, $__interval_s"


def test_a_dollar_left_over_fails_before_clickhouse() -> None:
    """A variable the dashboard lacks, or a macro the tests cannot expand, is an error."""
    with pytest.raises(ValueError, match="missing"):
        panel_sql("SELECT ${missing}", PLUGIN_RANGE, {})
    with pytest.raises(ValueError, match=r"\$__timeGroup"):
        panel_sql("SELECT $__timeGroup(t, 5m)", PLUGIN_RANGE, {})


def test_naive_time_ranges_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        QueryContext(dt.datetime(2024, 1, 1), dt.datetime(2024, 2, 1))
