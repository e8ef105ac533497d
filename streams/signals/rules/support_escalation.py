"""support_escalation: a ticket reopened or escalated; made to explain again, customers leave."""

from __future__ import annotations

from schemas import SupportEvent
from streams.signals.base import EventRule
from streams.signals.outputs import Outs
from streams.state import CustomerState


class SupportEscalation(EventRule[SupportEvent]):
    name = "support_escalation"
    on = ("support.reopened", "support.escalated")

    def on_event(self, state: CustomerState, event: SupportEvent, ts: float, out: Outs) -> None:
        self.outputs.risk(state, out, self.name, ts, event.event_id,
                          f"ticket {event.ticket_id} {event.action} via {event.channel}")
