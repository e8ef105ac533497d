"""Row shapes for every table the pipeline writes (the worker; `retention model fit` the
model tables): each column list is defined once, here.

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
        "alert_id", "customer_id", "rule_id", "decided_at", "raised_at", "historical", "score",
        "level", "rules", "payload",
    ],
    "milestones": [
        "milestone_id", "customer_id", "kind", "value", "decided_at", "raised_at", "historical",
        "payload",
    ],
    "customer_state": [
        "customer_id", "version", "updated_at", "orders", "revenue", "first_purchase_at",
        "last_purchase_at", "open_tickets", "latest_nps", "latest_csat", "risk_score",
        "open_risk_rules", "state",
    ],
    "dead_letters": [
        "topic", "partition", "offset", "key", "stage", "reason", "payload", "payload_encoding",
        "payload_bytes", "payload_sha256", "payload_truncated", "failed_at",
    ],
    "model_params": [
        "version", "fitted_at", "as_of", "horizon_days", "r", "alpha", "a", "b", "p", "q", "v",
        "customers", "repeat_customers", "bgnbd_log_likelihood", "gg_log_likelihood",
    ],
    "customer_predictions": [
        "model_version", "customer_id", "x", "t_x", "T", "m_x", "p_alive", "expected_purchases",
        "predicted_clv",
    ],
    "customer_profiles": [
        "model_version", "customer_id", "as_of", "orders", "historic_clv", "predicted_clv",
        "total_clv", "churn_probability", "expected_purchases", "horizon_days",
        "average_days_between_orders", "expected_next_order_date",
    ],
    "model_profile_params": [
        "version", "fitted_at", "annual_discount_rate", "discount_period_days", "buyers",
        "min_buyers", "history_days", "min_history_days", "customers_3plus",
        "min_customers_3plus",
    ],
}

Row = tuple[Any, ...]
EVENT_TABLES = {Purchase: "purchases", SupportEvent: "support_events",
                SurveyResponse: "survey_responses"}


def event_row(
    event: Purchase | SupportEvent | SurveyResponse, partition: int, offset: int,
    ingested_at: datetime,
) -> tuple[str, Row]:
    """(table, row) for one valid input event: envelope, body, then Kafka metadata."""
    # Runs once per event: one tuple (not head + body + meta), fields read from the model's
    # __dict__ (where pydantic keeps them) rather than through BaseModel's __getattr__ hook.
    f = event.__dict__
    if isinstance(event, Purchase):
        return "purchases", (
            f["event_id"], f["customer_id"], f["occurred_at"], f["order_id"], f["amount"],
            f["currency"], f["items"], f["channel"], f["kind"],
            f["source"], f["schema_version"], partition, offset, ingested_at)
    if isinstance(event, SupportEvent):
        return "support_events", (
            f["event_id"], f["customer_id"], f["occurred_at"], f["ticket_id"], f["action"],
            f["channel"], f["category"], f["first_contact_resolution"],
            f["source"], f["schema_version"], partition, offset, ingested_at)
    return "survey_responses", (
        f["event_id"], f["customer_id"], f["occurred_at"], f["survey"], f["score"],
        f["comment"], f["ticket_id"],
        f["source"], f["schema_version"], partition, offset, ingested_at)


def alert_row(alert: ChurnRiskAlert, payload: str) -> Row:
    """`payload` is the alert's JSON, serialised once for the topic and the table."""
    f = alert.__dict__  # as in event_row: once per output, skip BaseModel's __getattr__ hook
    return (f["alert_id"], f["customer_id"], f["rule_id"], f["decided_at"], f["raised_at"],
            f["historical"], f["score"], f["level"], [r.__dict__["rule_id"] for r in f["rules"]],
            payload)


def milestone_row(milestone: Milestone, payload: str) -> Row:
    f = milestone.__dict__
    return (f["milestone_id"], f["customer_id"], f["kind"], f["value"], f["decided_at"],
            f["raised_at"], f["historical"], payload)


def dead_letter_row(letter: DeadLetter) -> Row:
    return (letter.topic, letter.partition, letter.offset, letter.key, letter.stage,
            letter.reason, letter.payload, letter.payload_encoding, letter.payload_bytes,
            letter.payload_sha256, letter.payload_truncated, letter.failed_at)
