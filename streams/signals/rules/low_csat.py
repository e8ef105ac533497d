"""low_csat: a CSAT answer of 1-`csat_low_max`, dissatisfaction after a purchase or a ticket."""

from __future__ import annotations

from retention.settings import SignalSettings
from schemas import SurveyResponse
from streams.signals.base import EventRule
from streams.signals.outputs import Output, Outputs
from streams.state import CustomerState


class LowCsat(EventRule[SurveyResponse]):
    name = "low_csat"
    reads = ("csat_low_max",)
    on = ("survey.csat",)

    def __init__(self, settings: SignalSettings, outputs: Outputs) -> None:
        super().__init__(settings, outputs)
        self.max_score = settings.csat_low_max

    def on_event(self, state: CustomerState, event: SurveyResponse, ts: float,
                 out: list[Output]) -> None:
        if event.score <= self.max_score:
            about = f" about ticket {event.ticket_id}" if event.ticket_id else ""
            self.outputs.risk(state, out, self.name, ts, event.event_id,
                              f"CSAT answer {event.score} of 5{about} (low: 1-{self.max_score})")
