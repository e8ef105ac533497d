"""repeated_contacts: `repeated_contacts_tickets` tickets opened within the window (30 days)."""

from __future__ import annotations

from retention.settings import SignalSettings
from schemas import SupportEvent
from streams.signals.base import EventRule
from streams.signals.outputs import Output, Outputs
from streams.state import DAY, CustomerState


class RepeatedContacts(EventRule[SupportEvent]):
    name = "repeated_contacts"
    reads = ("repeated_contacts_tickets", "repeated_contacts_window_days")
    on = ("support.opened",)

    def __init__(self, settings: SignalSettings, outputs: Outputs) -> None:
        super().__init__(settings, outputs)
        self.tickets = settings.repeated_contacts_tickets
        self.window_days = settings.repeated_contacts_window_days
        self.window_s = self.window_days * DAY

    def on_event(self, state: CustomerState, event: SupportEvent, ts: float,
                 out: list[Output]) -> None:
        # The state update has recorded this ticket already: it counts itself.
        recent = state.tickets_opened_since(ts - self.window_s)
        if recent >= self.tickets:
            self.outputs.risk(state, out, self.name, ts, event.event_id,
                              f"{recent} tickets opened in {self.window_days} days "
                              f"(threshold {self.tickets})")
