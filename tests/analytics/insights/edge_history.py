"""A hand-made history whose every customer is one edge case of the retention insights, with
the facts a hand count gives (tests/analytics/insights/test_edge_cases.py checks them)."""

from __future__ import annotations

import datetime as dt

from ..histories import History

UTC = dt.UTC


def at(text: str) -> dt.datetime:
    """A UTC instant written as text, e.g. "2024-01-31 23:30"."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


def edge_history() -> History:
    h = History()
    # 23:30 UTC on 31 January is 1 February in Tokyo (+9) and still 31 January in Los
    # Angeles (-8); the return at 00:30 UTC on 1 March is 29 February in Los Angeles.
    h.order("tz_edge", at("2024-01-31 23:30"), 20.0)
    h.order("tz_edge", at("2024-03-01 00:30"), 20.0)
    # Recurring retention: in the January, March and April cohorts; first-time: January,
    # back in months 2 and 3, month 1 empty.
    h.order("two_cohorts", at("2024-01-10 12:00"), 10.0)
    h.order("two_cohorts", at("2024-03-05 12:00"), 10.0)
    h.order("two_cohorts", at("2024-04-20 12:00"), 10.0)
    # Bracket edges from day 0 = 5 February: back on day 7, on day 8, and on day 7 in UTC
    # but day 8 in Tokyo (20:00 UTC on the 12th is 05:00 on the 13th there).
    h.order("day_7", at("2024-02-05 10:00"), 30.0)
    h.order("day_7", at("2024-02-12 09:00"), 30.0)
    h.order("day_8", at("2024-02-05 10:00"), 30.0)
    h.order("day_8", at("2024-02-13 09:00"), 30.0)
    h.order("day_7_utc_8_tokyo", at("2024-02-05 10:00"), 30.0)
    h.order("day_7_utc_8_tokyo", at("2024-02-12 20:00"), 30.0)
    # The last millisecond of Sunday 7 January and the first of Monday 8 January: two weeks.
    h.order("week_edge", at("2024-01-07 23:59:59.999"), 5.0)
    h.order("week_edge", at("2024-01-08 00:00"), 5.0)
    # A refund is not a purchase: never in a purchase cohort.
    h.order("refund_only", at("2024-01-20 10:00"), 15.0, kind="refund")
    # A re-delivered first order counts once.
    first = h.order("redelivered", at("2024-01-15 10:00"), 50.0)
    h.redeliver("purchases", first)
    h.order("redelivered", at("2024-02-15 10:00"), 50.0)
    # A ticket first, a purchase the next month: a support.opened cohort returning by buying.
    h.ticket("support_first", "T1", "opened", at("2024-01-15 10:00"))
    h.ticket("support_first", "T1", "resolved", at("2024-01-16 10:00"), True)
    h.order("support_first", at("2024-02-20 10:00"), 12.0)
    # Away for two months: new in January, dormant in February, resurrecting in April,
    # dormant in May.
    h.order("dormant_back", at("2024-01-03 10:00"), 40.0)
    h.order("dormant_back", at("2024-04-03 10:00"), 40.0)
    # 22:30 UTC on 31 March 2024 is 00:30 on 1 April in Berlin, the night summer time began.
    h.order("dst", at("2024-03-31 22:30"), 8.0)
    h.answer("dst", "nps", 9, at("2024-05-02 10:00"))
    return h
