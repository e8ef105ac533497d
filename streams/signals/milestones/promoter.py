"""promoter: an NPS answer of `nps_promoter_min`-10; ask a loyal advocate for a referral."""

from __future__ import annotations

from schemas import SurveyResponse
from streams.signals.base import EventRule
from streams.signals.outputs import Outs
from streams.state import CustomerState


class Promoter(EventRule[SurveyResponse]):
    name = "promoter"
    reads = ("nps_detractor_max", "nps_promoter_min")
    on = ("survey.nps",)

    def on_event(self, state: CustomerState, event: SurveyResponse, ts: float, out: Outs) -> None:
        settings = self.settings
        # Settings may overlap the two ranges: a detractor's answer is never a promoter's.
        if settings.nps_detractor_max < event.score and event.score >= settings.nps_promoter_min:
            # keyed by the answer: every promoter answer is a milestone of its own
            self.outputs.milestone(state, out, self.name, ts, event.event_id,
                                   value=event.score,
                                   detail=f"NPS answer {event.score} (promoter)",
                                   key=(event.event_id,))
