"""Row shapes for every table the worker writes: each column list is defined once, here.

A contract test checks these lists against the tables the migrations create.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from schemas import ChurnRiskAlert, DeadLetter, Milestone, Purchase, SupportEvent, SurveyResponse

_KAFKA_META = ["source", "schema_version", "kafka_partition", "kafka_offset", "ingested_at"]

COLUMNS: dict[str, list[str]] = {
    "purchases": [
        "event_id", "customer_id", "occurred_at", "order_id", "amount", "currency", "items",
        "channel", "kind", *_KAFKA_META,
    ],
    "support_events": [
        "event_id", "customer_id", "occurred_at", "ticket_id", "action", "channel", "category",
        "first_contact_resolution", *_KAFKA_META,
    ],
    "survey_responses": [
        "event_id", "customer_id", "occurred_at", "survey", "score", "comment", "ticket_id",
        *_KAFKA_META,
    ],
    "churn_risk_alerts": [
        "alert_id", "customer_id", "rule_id", "decided_at", "raised_at", "score", "level",
        "rules", "payload",
    ],
    "milestones": [
        "milestone_id", "customer_id", "kind", "value", "decided_at", "raised_at", "payload",
    ],
    "customer_state": [
        "customer_id", "version", "updated_at", "orders", "revenue", "first_purchase_at",
        "last_purchase_at", "open_tickets", "latest_nps", "latest_csat", "risk_score",
        "open_risk_rules", "state",
    ],
    "dead_letters": ["topic", "partition", "offset", "key", "reason", "payload", "failed_at"],
}

Row = tuple[Any, ...]
EVENT_TABLES = {Purchase: "purchases", SupportEvent: "support_events",
                SurveyResponse: "survey_responses"}


def event_row(
    event: Purchase | SupportEvent | SurveyResponse, partition: int, offset: int,
    ingested_at: datetime,
) -> tuple[str, Row]:
    """(table, row) for one valid input event."""
    meta = (event.source, event.schema_version, partition, offset, ingested_at)
    head = (event.event_id, event.customer_id, event.occurred_at)
    if isinstance(event, Purchase):
        body: Row = (event.order_id, event.amount, event.currency, event.items,
                     event.channel, event.kind)
        return "purchases", head + body + meta
    if isinstance(event, SupportEvent):
        body = (event.ticket_id, event.action, event.channel, event.category,
                event.first_contact_resolution)
        return "support_events", head + body + meta
    body = (event.survey, event.score, event.comment, event.ticket_id)
    return "survey_responses", head + body + meta


def alert_row(alert: ChurnRiskAlert, payload: str) -> Row:
    """`payload` is the alert's JSON, serialised once for the topic and the table."""
    return (alert.alert_id, alert.customer_id, alert.rule_id, alert.decided_at, alert.raised_at,
            alert.score, alert.level, [r.rule_id for r in alert.rules], payload)


def milestone_row(milestone: Milestone, payload: str) -> Row:
    return (milestone.milestone_id, milestone.customer_id, milestone.kind, milestone.value,
            milestone.decided_at, milestone.raised_at, payload)


def dead_letter_row(letter: DeadLetter) -> Row:
    return (letter.topic, letter.partition, letter.offset, letter.key, letter.reason,
            letter.payload, letter.failed_at)
