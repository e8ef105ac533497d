"""nps_detractor: an NPS answer of 0-`nps_detractor_max` (a detractor).

The lower the score, the less likely a repurchase.
"""

from __future__ import annotations

from schemas import SurveyResponse
from streams.signals.base import EventRule
from streams.signals.outputs import Outs
from streams.state import CustomerState


class NpsDetractor(EventRule[SurveyResponse]):
    name = "nps_detractor"
    reads = ("nps_detractor_max",)
    on = ("survey.nps",)

    def on_event(self, state: CustomerState, event: SurveyResponse, ts: float, out: Outs) -> None:
        detractor_max = self.settings.nps_detractor_max
        if event.score <= detractor_max:
            self.outputs.risk(state, out, self.name, ts, event.event_id,
                              f"NPS answer {event.score} (detractor, 0-{detractor_max})")
