"""low_csat: a CSAT answer of 1-`csat_low_max`, dissatisfaction after a purchase or a ticket."""

from __future__ import annotations

from schemas import SurveyResponse
from streams.signals.base import EventRule
from streams.signals.outputs import Outs
from streams.state import CustomerState


class LowCsat(EventRule[SurveyResponse]):
    name = "low_csat"
    reads = ("csat_low_max",)
    on = ("survey.csat",)

    def on_event(self, state: CustomerState, event: SurveyResponse, ts: float, out: Outs) -> None:
        low_max = self.settings.csat_low_max
        if event.score <= low_max:
            about = f" about ticket {event.ticket_id}" if event.ticket_id else ""
            self.outputs.risk(state, out, self.name, ts, event.event_id,
                              f"CSAT answer {event.score} of 5{about} (low: 1-{low_max})")
