"""Every topic the worker touches, with who produces and who consumes it.

NOTE: producers key every input event by customer_id and the three input topics share one
partition count; per-customer state and event-time ordering rely on that co-partitioning.
"""

from __future__ import annotations

from dataclasses import dataclass

import faust

from retention.settings import KafkaSettings


@dataclass(frozen=True)
class Topics:
    # Produced by apps (`retention publish`); consumed by the worker.
    purchases: faust.TopicT
    support_events: faust.TopicT
    survey_responses: faust.TopicT
    # The worker's input: the three topics above as one co-partitioned stream.
    customer_events: faust.TopicT
    # Produced by the worker; consumed by CRM, email flows, support tooling.
    churn_risk: faust.TopicT
    milestones: faust.TopicT
    # Produced by the worker for input it cannot use; consumed by operators (`retention
    # alerts tail --topic dead-letter`) to fix and replay. Beside its sources, as promised.
    dead_letter: faust.TopicT

    @classmethod
    def declare(cls, app: faust.App, kafka: KafkaSettings) -> Topics:
        t = kafka.topics
        return cls(
            purchases=app.topic(kafka.topic(t.purchases)),
            support_events=app.topic(kafka.topic(t.support)),
            survey_responses=app.topic(kafka.topic(t.surveys)),
            customer_events=app.topic(*kafka.input_topics),
            churn_risk=app.topic(kafka.topic(t.churn_risk)),
            milestones=app.topic(kafka.topic(t.milestones)),
            dead_letter=app.topic(kafka.topic(t.dead_letter)),
        )
