"""Every topic the worker touches, with who produces and who consumes it.

NOTE: producers key every input event by customer_id and the three input topics share one
partition count; per-customer state and event-time ordering rely on that co-partitioning.
"""

from __future__ import annotations

from streams.app import app, settings

_k = settings.kafka
_t = _k.topics

# Produced by apps (`retention publish`, schemas' publisher); consumed by the worker.
purchases = app.topic(_k.topic(_t.purchases))
support_events = app.topic(_k.topic(_t.support))
survey_responses = app.topic(_k.topic(_t.surveys))
# The worker's input: the three topics above as one co-partitioned stream.
customer_events = app.topic(*_k.input_topics)

# Produced by the worker; consumed by CRM, email flows, support tooling.
churn_risk = app.topic(_k.topic(_t.churn_risk))
milestones = app.topic(_k.topic(_t.milestones))
# Produced by the worker for input it cannot use; consumed by operators (`retention
# alerts tail --topic dead-letter`) to fix and replay. Beside its sources, as promised.
dead_letter = app.topic(_k.topic(_t.dead_letter))
