"""repeated_contacts: `repeated_contacts_tickets` tickets opened within the window (30 days)."""

from __future__ import annotations

from schemas import SupportEvent
from streams.signals.base import EventRule
from streams.signals.outputs import Outs
from streams.state import DAY, CustomerState


class RepeatedContacts(EventRule[SupportEvent]):
    name = "repeated_contacts"
    reads = ("repeated_contacts_tickets", "repeated_contacts_window_days")
    on = ("support.opened",)

    def on_event(self, state: CustomerState, event: SupportEvent, ts: float, out: Outs) -> None:
        # The state update has recorded this ticket already: it counts itself.
        window_days = self.settings.repeated_contacts_window_days
        threshold = self.settings.repeated_contacts_tickets
        recent = state.tickets_opened_since(ts - window_days * DAY)
        if recent >= threshold:
            self.outputs.risk(state, out, self.name, ts, event.event_id,
                              f"{recent} tickets opened in {window_days} days "
                              f"(threshold {threshold})")
