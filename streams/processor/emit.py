"""Outputs -> ClickHouse rows and Kafka messages; a customer state -> its table row.

Every output is stored; only live ones are published (historical ones too where the
deployment asks for its backlog): subscribers act on what they receive.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from retention.settings import KafkaSettings
from schemas import ChurnRiskAlert, Milestone
from sinks.rows import alert_row, milestone_row
from streams.processor.messages import BatchResult, OutMessage
from streams.signals.engine import Output, risk_score
from streams.state import CustomerState


class Emitter:
    def __init__(self, kafka: KafkaSettings, publish_historical: bool) -> None:
        self.topic_alerts = kafka.topic(kafka.topics.churn_risk)
        self.topic_milestones = kafka.topic(kafka.topics.milestones)
        self.publish_historical = publish_historical

    def emit(self, outputs: list[Output], result: BatchResult) -> None:
        """Each output as a row, counted in `result`, and unless it is historical (and
        historical outputs are not published) as a message keyed by customer_id."""
        for out in outputs:
            # model_dump_json() with its defaults, minus a str round trip: rows take the str,
            # the topic the bytes.
            value = out.__pydantic_serializer__.to_json(out)
            payload = value.decode()
            if isinstance(out, ChurnRiskAlert):
                result.rows.add("churn_risk_alerts", alert_row(out, payload))
                topic = self.topic_alerts
                result.alerts += 1
            else:
                assert isinstance(out, Milestone)
                result.rows.add("milestones", milestone_row(out, payload))
                topic = self.topic_milestones
                result.milestones += 1
            if out.historical and not self.publish_historical:
                continue
            result.messages.append(OutMessage(topic, out.customer_id.encode(), value))


def state_row(state: CustomerState, data: str) -> tuple[Any, ...]:
    """The customer_state row of `state`, `data` being its JSON."""

    def at(ts: float | None) -> datetime | None:
        return datetime.fromtimestamp(ts, UTC) if ts is not None else None

    return (
        state.customer_id, state.version, at(state.updated_at) or datetime.fromtimestamp(0, UTC),
        state.orders, state.revenue, at(state.first_purchase_at), at(state.last_purchase_at),
        len(state.open_tickets), state.latest_nps, state.latest_csat, risk_score(state),
        sorted(state.episodes), data,
    )
