"""The dead letter's contract (schema_version 2) and the event-time bounds every producer
and the worker apply."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from schemas import DeadLetter
from schemas.alerts import DEAD_LETTER_KEY_MAX, DEAD_LETTER_REASON_MAX
from schemas.envelope import event_time_problem

NOW = datetime(2026, 12, 1, tzinfo=UTC).timestamp()
FLOOR = datetime(2000, 1, 1, tzinfo=UTC).timestamp()
LETTER: dict[str, Any] = {
    "topic": "purchases", "partition": 1, "offset": 2, "key": "c1", "stage": "size",
    "reason": "too large", "payload": "{", "payload_encoding": "utf-8", "payload_bytes": 3_000_000,
    "payload_sha256": "ab" * 32, "payload_truncated": True, "failed_at": "2026-12-01T00:00:00Z",
}


def bounds(ts: float) -> str | None:
    return event_time_problem(ts, now=NOW, max_future_skew_s=86_400, earliest=FLOOR)


def test_event_time_bounds_are_inclusive() -> None:
    """The wall clock plus the skew and the floor themselves are accepted; a microsecond
    past either is refused, with both times in the reason."""
    assert bounds(NOW + 86_400) is None and bounds(FLOOR) is None
    ahead = bounds(NOW + 86_400.000001)
    assert ahead is not None and "2026-12-02T00:00:00.000001Z" in ahead
    assert "86400 s ahead of the wall clock (2026-12-01T00:00:00Z" in ahead
    before = bounds(FLOOR - 0.000001)
    assert before is not None and "before 2000-01-01T00:00:00Z" in before


def test_a_dead_letter_names_its_stage_and_describes_the_whole_original() -> None:
    """Version 2: where it was refused, the payload once with its encoding, the original's
    size and sha256, and whether the payload is only a prefix."""
    letter = DeadLetter.model_validate(LETTER)
    assert letter.schema_version == 2
    schema = DeadLetter.model_json_schema()
    assert "payload_b64" not in schema["properties"]
    assert set(schema["required"]) >= {"stage", "payload", "payload_encoding", "payload_bytes",
                                       "payload_sha256", "payload_truncated"}
    assert schema["properties"]["stage"]["enum"] == [
        "size", "parse", "event_time", "placement", "processing"]


@pytest.mark.parametrize(("field", "value"), [
    ("key", "k" * (DEAD_LETTER_KEY_MAX + 1)),
    ("reason", "r" * (DEAD_LETTER_REASON_MAX + 1)),
    ("stage", "unknown"),
    ("payload_encoding", "latin-1"),
    ("payload_bytes", -1),
])
def test_a_dead_letter_outside_its_bounds_is_invalid(field: str, value: Any) -> None:
    """Key and reason are bounded (so a letter fits the size limit), stage and encoding
    are closed sets."""
    with pytest.raises(ValidationError, match=field):
        DeadLetter.model_validate({**LETTER, field: value})
