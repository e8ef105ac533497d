"""Every churn-risk rule and milestone the engine runs, in the order that decides output order.

Within one event, rules listening to it run in this order, after the event's state update;
absence rules due at the same event time fire in this order. Both orders are part of the
output contract (replays compare them byte for byte): append new rules where their outputs
should come, and never reorder existing ones.
"""

from __future__ import annotations

from streams.signals.base import Rule
from streams.signals.milestones.anniversary import Anniversary
from streams.signals.milestones.first_purchase import FirstPurchase
from streams.signals.milestones.lifetime_spend import LifetimeSpend
from streams.signals.milestones.order_count import OrderCount
from streams.signals.milestones.promoter import Promoter
from streams.signals.milestones.repeat_customer import RepeatCustomer
from streams.signals.milestones.win_back import WinBack
from streams.signals.rules.inactive_overdue import InactiveOverdue
from streams.signals.rules.low_csat import LowCsat
from streams.signals.rules.low_p_alive import LowPAlive
from streams.signals.rules.nps_detractor import NpsDetractor
from streams.signals.rules.repeated_contacts import RepeatedContacts
from streams.signals.rules.slow_resolution import SlowResolution
from streams.signals.rules.spend_decline import SpendDecline
from streams.signals.rules.support_escalation import SupportEscalation

RULES: tuple[type[Rule], ...] = (
    # on an order: win_back first, so it closes the episodes before the others' snapshots
    WinBack, FirstPurchase, RepeatCustomer, OrderCount, LifetimeSpend,
    # on support events and surveys
    RepeatedContacts, SupportEscalation, NpsDetractor, Promoter, LowCsat,
    # on every event, after the rules above
    SpendDecline,
    # absence rules
    InactiveOverdue, SlowResolution, Anniversary, LowPAlive,
)
