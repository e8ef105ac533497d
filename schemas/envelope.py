"""The envelope every input event carries (events.md, "Envelope")."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

# RFC 3339 demands a full date, a time and an explicit offset (or Z); ISO 8601 is looser
# and pydantic alone would accept dates, naive times and unix numbers.
_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$"
)


def _require_rfc3339(value: Any) -> Any:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _RFC3339.match(value):
        raise ValueError("must be an RFC 3339 timestamp with an offset or Z")
    # Parsed here because strict mode takes only datetime objects after a before-validator.
    return datetime.fromisoformat(value.upper().replace(" ", "T"))


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


EventTime = Annotated[datetime, BeforeValidator(_require_rfc3339), AfterValidator(_to_utc)]
Identifier = Annotated[str, Field(min_length=1, max_length=128)]


class Envelope(BaseModel):
    """Fields common to purchases, support events and survey responses."""

    # strict: a number is not a string and "3" is not an integer; producers get told.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    event_id: Identifier
    customer_id: Identifier
    occurred_at: EventTime
    schema_version: Annotated[int, Field(ge=1, le=1)] = 1
    source: Annotated[str, Field(max_length=128)] | None = None


def event_time_problem(ts: float, *, now: float, max_future_skew_s: float,
                       earliest: float) -> str | None:
    """Why an event that occurred at epoch `ts` cannot be used when the wall clock says
    `now`, or None: at most `max_future_skew_s` ahead of it, and not before `earliest`.

    Event time drives every decision: one far-future event would drag its partition's
    watermark years ahead (firing every absence rule there at once), one from year 1 would
    open a customer's history before any real one.
    """
    if ts > now + max_future_skew_s:
        return (f"occurred_at {_iso(ts)} is more than {max_future_skew_s:g} s ahead of the "
                f"wall clock ({_iso(now)}; limit RETENTION_SIGNALS__MAX_FUTURE_SKEW_S): the "
                "producer's clock or data is wrong")
    if ts < earliest:
        return (f"occurred_at {_iso(ts)} is before {_iso(earliest)}, the earliest event time "
                "accepted (RETENTION_SIGNALS__MIN_EVENT_TIME)")
    return None


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")
