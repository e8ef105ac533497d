"""What every retention insight is asked for: a range of whole periods in the reporting time
zone, and the events that count."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass
from typing import Any, Literal, get_args

Period = Literal["day", "week", "month"]
PERIODS: tuple[Period, ...] = get_args(Period)

# The event names the SQL files accept (sql/retention/*.sql): a family, or one support action
# or one survey; `any` is every event. tests/analytics/insights/test_options.py keeps this in
# step with the schemas' actions and surveys.
SUPPORT_ACTIONS = ("opened", "replied", "resolved", "reopened", "escalated", "closed")
SURVEYS = ("nps", "csat")
EVENTS: tuple[str, ...] = (
    "purchase",
    "support", *(f"support.{action}" for action in SUPPORT_ACTIONS),
    "survey", *(f"survey.{survey}" for survey in SURVEYS),
    "any",
)


def check_timezone(name: str) -> str:
    """`name` when it is an IANA time zone (ClickHouse and Python share the tz database)."""
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"not an IANA time zone: {name!r}") from exc
    return name


def check_event(name: str) -> str:
    if name not in EVENTS:
        raise ValueError(f"unknown event {name!r}; one of {', '.join(EVENTS)}")
    return name


@dataclass(frozen=True)
class PeriodRange:
    """The whole periods (days, Monday weeks, months) of local dates in [start, end), cut
    in the time zone `tz`; events are observed before `end`."""

    start: dt.date
    end: dt.date
    period: Period
    tz: str

    def __post_init__(self) -> None:
        if self.start >= self.end:
            raise ValueError(f"the range must end after it starts: {self.start} >= {self.end}")
        if self.period not in PERIODS:
            raise ValueError(f"period is one of {', '.join(PERIODS)}, not {self.period!r}")
        check_timezone(self.tz)

    def parameters(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "period": self.period, "tz": self.tz}


def as_date(value: Any) -> dt.date:
    """A date column's value: a date from a client, ISO text through the worker."""
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(value)
