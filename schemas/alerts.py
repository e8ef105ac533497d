"""What the stream publishes on `churn-risk` and `milestones`: the subscribers' contract.

Ids are deterministic (the same input history yields the same id), so a re-delivery after
a crash carries an id the subscriber has seen: subscribers dedupe by it. `historical` says
whether an output is news (live) or history the pipeline caught up on; historical outputs
are published only where a deployment asks for them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

RuleId = Literal[
    "nps_detractor",
    "low_csat",
    "support_escalation",
    "repeated_contacts",
    "slow_resolution",
    "inactive_overdue",
    "low_p_alive",
    "spend_decline",
]
MilestoneKind = Literal[
    "first_purchase",
    "repeat_customer",
    "order_count",
    "lifetime_spend",
    "anniversary",
    "promoter",
    "win_back",
]
RiskLevel = Literal["low", "medium", "high"]
# Delivery, not decision: the same history yields the same outputs either way.
_HISTORICAL = ("true when decided more than the live horizon (default 24 h) before it was "
               "raised: history imported or caught up on, not news to act on")


class _Output(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CustomerSnapshot(_Output):
    """The customer's state at the decision's event time."""

    orders: int = 0
    revenue: float = 0.0
    first_purchase_at: datetime | None = None
    last_purchase_at: datetime | None = None
    mean_interpurchase_days: float | None = None
    revenue_90d: float = 0.0
    revenue_prev_90d: float = 0.0
    tickets_opened_30d: int = 0
    open_tickets: int = 0
    latest_nps: int | None = None
    latest_csat: int | None = None
    p_alive: float | None = None
    open_risk_rules: list[RuleId] = []


class RuleHit(_Output):
    rule_id: RuleId
    # Points this rule adds to the alert's risk score.
    weight: Annotated[int, Field(ge=0, le=100)]
    detail: str
    decided_at: datetime


class ChurnRiskAlert(_Output):
    schema_version: Literal[1] = 1
    alert_id: str
    customer_id: str
    # The rule whose firing raised this alert; `rules` lists every rule contributing now.
    rule_id: RuleId
    decided_at: datetime = Field(description="event time of the decision")
    raised_at: datetime = Field(description="wall-clock time the worker raised it")
    historical: bool = Field(description=_HISTORICAL)
    score: Annotated[int, Field(ge=0, le=100)]
    level: RiskLevel
    rules: list[RuleHit]
    trigger_event_id: str | None = Field(
        None, description="the event that completed the evidence; null for absence rules"
    )
    state: CustomerSnapshot


class Milestone(_Output):
    schema_version: Literal[1] = 1
    milestone_id: str
    customer_id: str
    kind: MilestoneKind
    value: float | None = Field(None, description="order number, spend tier, years, score")
    detail: str
    decided_at: datetime = Field(description="event time of the decision")
    raised_at: datetime = Field(description="wall-clock time the worker raised it")
    historical: bool = Field(description=_HISTORICAL)
    trigger_event_id: str | None = None
    state: CustomerSnapshot


# Bounds of a dead letter's free-text fields: with the payload bounded by the producer's
# limit (RETENTION_KAFKA__MAX_MESSAGE_BYTES), no dead letter can exceed that limit.
DEAD_LETTER_KEY_MAX = 256
DEAD_LETTER_REASON_MAX = 2000
# Where the message was refused: over the size limit; not a valid event; an event time out
# of bounds; in the wrong partition (or not keyed by its customer_id); or its processing
# raised (the event is then in the raw tables too, but did not change the customer's state).
DeadLetterStage = Literal["size", "parse", "event_time", "placement", "processing"]


class DeadLetter(_Output):
    """An input message that could not be used: where it is, why, and its bytes (whole, or
    a bounded excerpt with the original's size and sha256)."""

    schema_version: Literal[2] = 2
    topic: str
    partition: int
    offset: int
    key: str | None = Field(description=(
        f"the message key, UTF-8 decoded with replacement; its first {DEAD_LETTER_KEY_MAX} "
        "characters"), max_length=DEAD_LETTER_KEY_MAX)
    stage: DeadLetterStage
    reason: str = Field(max_length=DEAD_LETTER_REASON_MAX)
    payload: str = Field(description=(
        "the original value: as text when it is valid UTF-8, else base64 (payload_encoding); "
        "only its first bytes when payload_truncated. The whole message stays readable at "
        "topic/partition/offset while the input topic retains it"))
    payload_encoding: Literal["utf-8", "base64"]
    payload_bytes: Annotated[int, Field(ge=0, description="size of the original value")]
    payload_sha256: str = Field(description="hex sha256 of the original value")
    payload_truncated: bool
    failed_at: datetime
