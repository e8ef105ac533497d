"""promoter: an NPS answer of `nps_promoter_min`-10; ask a loyal advocate for a referral."""

from __future__ import annotations

from retention.settings import SignalSettings
from schemas import SurveyResponse
from streams.signals.base import EventRule
from streams.signals.outputs import Output, Outputs
from streams.state import CustomerState


class Promoter(EventRule[SurveyResponse]):
    name = "promoter"
    reads = ("nps_detractor_max", "nps_promoter_min")
    on = ("survey.nps",)

    def __init__(self, settings: SignalSettings, outputs: Outputs) -> None:
        super().__init__(settings, outputs)
        self.min_score = settings.nps_promoter_min
        # Settings may overlap the two ranges: a detractor's answer is never a promoter's.
        self.detractor_max = settings.nps_detractor_max

    def on_event(self, state: CustomerState, event: SurveyResponse, ts: float,
                 out: list[Output]) -> None:
        if self.detractor_max < event.score and event.score >= self.min_score:
            # keyed by the answer: every promoter answer is a milestone of its own
            self.outputs.milestone(state, out, self.name, ts, event.event_id,
                                   value=event.score,
                                   detail=f"NPS answer {event.score} (promoter)",
                                   key=(event.event_id,))
