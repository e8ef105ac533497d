"""Retention insights as PostHog, Amplitude and Mixpanel offer them, one SQL file per shape
(sql/retention/): the cohort matrix, lifecycle and stickiness."""

from retention.analytics.insights.cohorts import (
    BASES,
    COHORT_TYPES,
    MODES,
    Basis,
    Bracket,
    CohortQuery,
    CohortRow,
    CohortType,
    Mode,
    RetentionTable,
    parse_brackets,
    run_cohorts,
)
from retention.analytics.insights.lifecycle import LifecyclePeriod, run_lifecycle
from retention.analytics.insights.options import (
    EVENTS,
    PERIODS,
    Period,
    PeriodRange,
    check_timezone,
)
from retention.analytics.insights.stickiness import StickinessRow, run_stickiness

__all__ = [
    "BASES",
    "COHORT_TYPES",
    "EVENTS",
    "MODES",
    "PERIODS",
    "Basis",
    "Bracket",
    "CohortQuery",
    "CohortRow",
    "CohortType",
    "LifecyclePeriod",
    "Mode",
    "Period",
    "PeriodRange",
    "RetentionTable",
    "StickinessRow",
    "check_timezone",
    "parse_brackets",
    "run_cohorts",
    "run_lifecycle",
    "run_stickiness",
]
