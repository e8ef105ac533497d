"""nps_detractor: an NPS answer of 0-`nps_detractor_max` (a detractor).

The lower the score, the less likely a repurchase.
"""

from __future__ import annotations

from retention.settings import SignalSettings
from schemas import SurveyResponse
from streams.signals.base import EventRule
from streams.signals.outputs import Output, Outputs
from streams.state import CustomerState


class NpsDetractor(EventRule[SurveyResponse]):
    name = "nps_detractor"
    reads = ("nps_detractor_max",)
    on = ("survey.nps",)

    def __init__(self, settings: SignalSettings, outputs: Outputs) -> None:
        super().__init__(settings, outputs)
        self.max_score = settings.nps_detractor_max

    def on_event(self, state: CustomerState, event: SurveyResponse, ts: float,
                 out: list[Output]) -> None:
        if event.score <= self.max_score:
            self.outputs.risk(state, out, self.name, ts, event.event_id,
                              f"NPS answer {event.score} (detractor, 0-{self.max_score})")
