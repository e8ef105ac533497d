"""Event contracts v1 (events.md): what producers may send and what goes to dead-letter."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from schemas import (
    InvalidEvent,
    Purchase,
    SupportEvent,
    SurveyResponse,
    family_of_line,
    parse_event,
)

ENVELOPE = {"event_id": "e-1", "customer_id": "c-1", "occurred_at": "2026-03-01T10:00:00Z"}
BASE: dict[str, dict[str, Any]] = {
    "purchase": {**ENVELOPE, "order_id": "o-1", "amount": 19.9},
    "support": {**ENVELOPE, "ticket_id": "t-1", "action": "opened", "channel": "email"},
    "survey": {**ENVELOPE, "survey": "nps", "score": 9},
}
DROP = object()


def parse(family: str, **changes: Any) -> Any:
    fields = {**BASE[family], **changes}
    fields = {k: v for k, v in fields.items() if v is not DROP}
    return parse_event(json.dumps(fields), family)  # type: ignore[arg-type]


def rejected(family: str, **changes: Any) -> str:
    with pytest.raises(InvalidEvent) as info:
        parse(family, **changes)
    return info.value.reason


# --- acceptance ---------------------------------------------------------------------------
def test_minimal_events_get_defaults() -> None:
    """Minimal valid events parse, with documented defaults filled in."""
    p = parse("purchase")
    assert isinstance(p, Purchase)
    assert (p.currency, p.items, p.kind, p.schema_version, p.channel) == ("USD", 1, "order", 1,
                                                                         None)
    assert isinstance(parse("support"), SupportEvent)
    assert isinstance(parse("survey"), SurveyResponse)


def test_full_purchase_accepted() -> None:
    """Every optional purchase field is accepted when well formed."""
    p = parse("purchase", currency="EUR", items=3, channel="store", kind="refund", amount=0,
              schema_version=1, source="shop-api", type="purchase")
    assert (p.currency, p.items, p.channel, p.kind, p.amount, p.source) == (
        "EUR", 3, "store", "refund", 0.0, "shop-api")


@pytest.mark.parametrize(("stamp", "utc"), [
    ("2026-03-01T10:00:00Z", datetime(2026, 3, 1, 10, tzinfo=UTC)),
    ("2026-03-01T15:30:00+05:30", datetime(2026, 3, 1, 10, tzinfo=UTC)),
    ("2026-03-01T05:00:00-05:00", datetime(2026, 3, 1, 10, tzinfo=UTC)),
    ("2026-03-01t10:00:00z", datetime(2026, 3, 1, 10, tzinfo=UTC)),
    ("2026-03-01 10:00:00+00:00", datetime(2026, 3, 1, 10, tzinfo=UTC)),
    ("2026-03-01T10:00:00.250Z", datetime(2026, 3, 1, 10, 0, 0, 250000, tzinfo=UTC)),
    ("2026-03-01T10:00:00.123456789Z", datetime(2026, 3, 1, 10, 0, 0, 123456, tzinfo=UTC)),
])
def test_rfc3339_offsets_are_normalised_to_utc(stamp: str, utc: datetime) -> None:
    """RFC 3339 timestamps with any offset are accepted and stored in UTC."""
    when = parse("purchase", occurred_at=stamp).occurred_at
    assert when == utc
    assert when.utcoffset() is not None and when.utcoffset().total_seconds() == 0


@pytest.mark.parametrize(("survey", "score"), [("nps", 0), ("nps", 10), ("csat", 1),
                                                ("csat", 5)])
def test_survey_score_range_ends_accepted(survey: str, score: int) -> None:
    """The ends of each survey's range are valid scores."""
    assert parse("survey", survey=survey, score=score).score == score


def test_comment_of_2000_chars_accepted() -> None:
    """A comment of exactly 2,000 characters (not bytes) is accepted."""
    assert len(parse("survey", comment="é" * 2000).comment) == 2000


@pytest.mark.parametrize("action", ["opened", "replied", "resolved", "reopened", "escalated",
                                    "closed"])
def test_every_support_action_accepted(action: str) -> None:
    """Each documented ticket action is accepted."""
    assert parse("support", action=action).action == action


@pytest.mark.parametrize("channel", ["email", "phone", "chat", "web", "app", "social"])
def test_every_support_channel_accepted(channel: str) -> None:
    """Each documented support channel is accepted."""
    assert parse("support", channel=channel).channel == channel


@pytest.mark.parametrize("fcr", [True, False])
def test_first_contact_resolution_on_resolved(fcr: bool) -> None:
    """first_contact_resolution is accepted on a resolved ticket."""
    event = parse("support", action="resolved", first_contact_resolution=fcr)
    assert event.first_contact_resolution is fcr


# --- rejection ----------------------------------------------------------------------------
@pytest.mark.parametrize(("family", "changes", "reason"), [
    # strictness: no coercion between JSON types
    ("purchase", {"amount": "10"}, "amount: Input should be a valid number"),
    ("purchase", {"customer_id": 1}, "customer_id: Input should be a valid string"),
    ("purchase", {"event_id": 7}, "event_id: Input should be a valid string"),
    ("purchase", {"items": 1.0}, "items: Input should be a valid integer"),
    ("purchase", {"items": True}, "items: Input should be a valid integer"),
    ("survey", {"score": "9"}, "score: Input should be a valid integer"),
    ("survey", {"score": 9.0}, "score: Input should be a valid integer"),
    ("survey", {"score": True}, "score: Input should be a valid integer"),
    ("support", {"first_contact_resolution": "yes", "action": "resolved"},
     "first_contact_resolution: Input should be a valid boolean"),
    # timestamps
    ("purchase", {"occurred_at": "2026-03-01"}, "occurred_at: Value error, must be an RFC 3339"),
    ("purchase", {"occurred_at": "2026-03-01T10:00:00"}, "must be an RFC 3339"),
    ("purchase", {"occurred_at": "2026-03-01T10:00Z"}, "must be an RFC 3339"),
    ("purchase", {"occurred_at": "2026-03-01T10:00:00+0100"}, "must be an RFC 3339"),
    ("purchase", {"occurred_at": 1772359200}, "must be an RFC 3339"),
    ("purchase", {"occurred_at": "2026-02-30T10:00:00Z"}, "day is out of range for month"),
    ("purchase", {"occurred_at": DROP}, "occurred_at: Field required"),
    # envelope
    ("purchase", {"event_id": ""}, "event_id: String should have at least 1 character"),
    ("purchase", {"customer_id": "c" * 129}, "customer_id: String should have at most 128"),
    ("purchase", {"schema_version": 2}, "schema_version: Input should be less than or equal"),
    ("purchase", {"schema_version": 0}, "schema_version: Input should be greater than or equal"),
    ("purchase", {"discount": 5}, "discount: Extra inputs are not permitted"),
    ("support", {"priority": "high"}, "priority: Extra inputs are not permitted"),
    ("survey", {"type": "purchase"}, "type: Input should be 'survey'"),
    # purchases
    ("purchase", {"amount": -0.01}, "amount: Input should be greater than or equal to 0"),
    ("purchase", {"amount": 1e400}, "amount: Input should be a finite number"),
    ("purchase", {"amount": 1e308},
     "amount: Input should be less than or equal to 1000000000000000"),
    ("purchase", {"amount": 1e15 + 0.25}, "amount: Input should be less than or equal to"),
    ("purchase", {"amount": DROP}, "amount: Field required"),
    ("purchase", {"order_id": DROP}, "order_id: Field required"),
    ("purchase", {"items": 0}, "items: Input should be greater than or equal to 1"),
    ("purchase", {"currency": "usd"}, "currency: String should match pattern"),
    ("purchase", {"currency": "EURO"}, "currency: String should match pattern"),
    ("purchase", {"currency": "US"}, "currency: String should match pattern"),
    ("purchase", {"currency": "USD\n"}, "currency: String should match pattern"),
    ("purchase", {"kind": "return"}, "kind: Input should be 'order' or 'refund'"),
    # support
    ("support", {"action": "deleted"}, "action: Input should be 'opened'"),
    ("support", {"channel": "fax"}, "channel: Input should be 'email'"),
    ("support", {"ticket_id": DROP}, "ticket_id: Field required"),
    ("support", {"first_contact_resolution": True},
     "first_contact_resolution is only meaningful on action 'resolved'"),
    ("support", {"first_contact_resolution": False, "action": "closed"},
     "first_contact_resolution is only meaningful on action 'resolved'"),
    # surveys
    ("survey", {"score": 11}, "nps score must be 0-10, got 11"),
    ("survey", {"score": -1}, "nps score must be 0-10, got -1"),
    ("survey", {"survey": "csat", "score": 0}, "csat score must be 1-5, got 0"),
    ("survey", {"survey": "csat", "score": 6}, "csat score must be 1-5, got 6"),
    ("survey", {"survey": "ces"}, "survey: Input should be 'nps' or 'csat'"),
    ("survey", {"comment": "x" * 2001}, "comment: String should have at most 2000 characters"),
    ("survey", {"ticket_id": ""}, "ticket_id: String should have at least 1 character"),
])
def test_contract_violations_rejected(family: str, changes: dict[str, Any],
                                      reason: str) -> None:
    """Each contract violation is rejected with a reason naming the field."""
    assert reason in rejected(family, **changes)


@pytest.mark.parametrize(("raw", "reason"), [
    (b"", "not valid JSON"),
    (b'{"event_id": "e-1",', "not valid JSON"),
    (b"\xff\xfe not utf-8", "not valid JSON"),
    (b"[1, 2]", "event: Input should be an object"),
    (b"null", "event: Input should be an object"),
])
def test_unparseable_bytes_rejected(raw: bytes, reason: str) -> None:
    """Bytes that are not a JSON object give a readable reason, never a crash."""
    with pytest.raises(InvalidEvent) as info:
        parse_event(raw, "purchase")
    assert reason in info.value.reason


def test_non_finite_json_literals_rejected() -> None:
    """NaN and Infinity literals are not valid amounts."""
    for literal in ("NaN", "Infinity", "-Infinity"):
        raw = json.dumps(BASE["purchase"]).replace("19.9", literal)
        with pytest.raises(InvalidEvent):
            parse_event(raw, "purchase")


def test_every_problem_reported_at_once() -> None:
    """A message with several problems lists all of them, so a producer fixes them in one go."""
    reason = rejected("purchase", amount=-1, items=0, currency="usd")
    assert all(f in reason for f in ("amount:", "items:", "currency:"))
    assert reason.count(";") == 2


def test_invalid_event_chains_the_validation_error() -> None:
    """InvalidEvent keeps pydantic's error as its cause for debugging."""
    with pytest.raises(InvalidEvent) as info:
        parse("purchase", amount="10")
    assert info.value.__cause__ is not None


# --- routing mixed JSON lines -------------------------------------------------------------
@pytest.mark.parametrize("family", ["purchase", "support", "survey"])
def test_type_field_routes_a_line(family: str) -> None:
    """A JSON line's `type` names its family, and the event parses with that field kept."""
    line = json.dumps({**BASE[family], "type": family})
    assert family_of_line(line) == family
    assert parse_event(line, family).type == family


@pytest.mark.parametrize(("line", "reason"), [
    ('{"event_id": "e-1"}', "`type` is missing"),
    ('{"type": "order"}', "`type` is missing or not one of"),
    ("[]", "an event must be a JSON object"),
    ("{", "not valid JSON"),
])
def test_unroutable_lines_rejected(line: str, reason: str) -> None:
    """Lines without a usable `type` are rejected with a reason."""
    with pytest.raises(InvalidEvent) as info:
        family_of_line(line)
    assert reason in info.value.reason
