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


class DeadLetter(_Output):
    """An input message that could not be used, with everything needed to replay it."""

    schema_version: Literal[1] = 1
    topic: str
    partition: int
    offset: int
    key: str | None
    reason: str
    payload: str = Field(description="the original bytes, UTF-8 decoded with replacement")
    payload_b64: str = Field(description="the original bytes, base64")
    failed_at: datetime
