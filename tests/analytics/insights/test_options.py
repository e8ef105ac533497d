"""What the retention insights accept: events, brackets, ranges and the reporting zone."""

from __future__ import annotations

import datetime as dt
from typing import get_args

import pytest
from pydantic import ValidationError

from retention.analytics.insights import (
    EVENTS,
    Bracket,
    CohortQuery,
    PeriodRange,
    parse_brackets,
)
from retention.settings import Settings
from schemas.support import SupportAction
from schemas.survey import SurveyResponse
from sinks.operations import operation

D = dt.date
YEAR = PeriodRange(D(2024, 1, 1), D(2025, 1, 1), "month", "UTC")


def test_event_names_follow_the_schemas() -> None:
    """Every support action and survey of the event contracts has its event name."""
    surveys = get_args(SurveyResponse.model_fields["survey"].annotation)
    assert set(EVENTS) == {"purchase", "support", "survey", "any",
                           *(f"support.{a}" for a in get_args(SupportAction)),
                           *(f"survey.{s}" for s in surveys)}


@pytest.mark.parametrize(("text", "expected"), [
    ("1-7,8-30,31-90", [(1, 7), (8, 30), (31, 90)]),
    ("0,1-7,8-30", [(1, 7), (8, 30)]),  # day 0 is the cohort column
    ("1, 2-3 ,10", [(1, 1), (2, 3), (10, 10)]),
])
def test_brackets_parse(text: str, expected: list[tuple[int, int]]) -> None:
    """Day ranges or single days, comma separated; a leading day 0 is the cohort."""
    assert parse_brackets(text) == tuple(Bracket(a, b) for a, b in expected)


@pytest.mark.parametrize("text", ["", "0", "7-1", "0-7", "1-7,7-30", "8-30,1-7", "1-7;8-30",
                                  "a-b", "1--7"])
def test_bad_brackets_are_refused(text: str) -> None:
    """Brackets are increasing, non-overlapping day ranges from day 1."""
    with pytest.raises(ValueError):
        parse_brackets(text)


@pytest.mark.parametrize("values", [
    dict(start=D(2024, 1, 1), end=D(2024, 1, 1), period="month", tz="UTC"),
    dict(start=D(2024, 1, 1), end=D(2025, 1, 1), period="year", tz="UTC"),
    dict(start=D(2024, 1, 1), end=D(2025, 1, 1), period="month", tz="Mars/Olympus"),
])
def test_bad_ranges_are_refused(values: dict) -> None:
    """A range ends after it starts, in days, weeks or months of a known zone."""
    with pytest.raises(ValueError):
        PeriodRange(**values)


def test_bad_queries_are_refused() -> None:
    """Unknown modes, cohort types, events and fewer than one interval are refused."""
    for bad in (dict(mode="after"), dict(cohort="second"), dict(intervals=0),
                dict(start_event="purchases")):
        with pytest.raises(ValueError):
            CohortQuery(YEAR, **bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(("query", "name"), [
    (CohortQuery(YEAR), "retention/first_occurrence"),
    (CohortQuery(YEAR, cohort="recurring"), "retention/recurring"),
    (CohortQuery(YEAR, brackets=parse_brackets("1-7")), "retention/brackets"),
    (CohortQuery(YEAR, cohort="recurring", brackets=parse_brackets("1-7")),
     "retention/brackets"),
])
def test_each_shape_runs_its_file_with_exactly_its_parameters(query: CohortQuery,
                                                             name: str) -> None:
    """The query picks the file of its shape and sends every parameter it binds, typed."""
    assert query.operation == name
    operation(name).bind(query.parameters())  # raises on a missing, extra or ill-typed one


def test_the_reporting_time_zone_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    """RETENTION_REPORTING_TIMEZONE, UTC by default; anything but an IANA zone is refused."""
    assert Settings().reporting_timezone == "UTC"
    monkeypatch.setenv("RETENTION_REPORTING_TIMEZONE", "Europe/Berlin")
    assert Settings().reporting_timezone == "Europe/Berlin"
    monkeypatch.setenv("RETENTION_REPORTING_TIMEZONE", "CEST+2")
    with pytest.raises(ValidationError, match="IANA"):
        Settings()
