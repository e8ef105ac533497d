"""slow_resolution: a ticket unresolved `sla_hours` after it was opened (or reopened)."""

from __future__ import annotations

from streams.signals.base import AbsenceRule
from streams.signals.outputs import Output
from streams.state import CustomerState


class SlowResolution(AbsenceRule):
    name = "slow_resolution"
    reads = ("sla_hours",)

    def due(self, state: CustomerState) -> float | None:
        if not state.open_tickets:
            return None
        due: float | None = None
        alerted = state.sla_alerted_tickets
        sla_s = self.settings.sla_hours * 3600
        for ticket_id, opened in state.open_tickets.items():
            if ticket_id not in alerted:
                d = opened + sla_s
                if due is None or d < due:
                    due = d
        return due

    def fire(self, state: CustomerState, due: float, out: list[Output]) -> None:
        # The ticket `due` came from: among equal due times, the first opened.
        alerted = state.sla_alerted_tickets
        sla_hours = self.settings.sla_hours
        ticket_id = next(t for t, opened in state.open_tickets.items()
                         if t not in alerted and opened + sla_hours * 3600 == due)
        alerted.append(ticket_id)
        self.outputs.risk(state, out, self.name, due, None,
                          f"ticket {ticket_id} unresolved after {sla_hours:g} h (SLA)")
