"""`survey-responses` topic: NPS and CSAT answers."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from schemas.envelope import Envelope

SCORE_RANGES = {"nps": (0, 10), "csat": (1, 5)}


class SurveyResponse(Envelope):
    type: Literal["survey"] | None = None
    survey: Literal["nps", "csat"]
    score: int
    comment: Annotated[str, Field(max_length=2000)] | None = None
    ticket_id: Annotated[str, Field(min_length=1, max_length=128)] | None = None

    @model_validator(mode="after")
    def _score_in_range(self) -> SurveyResponse:
        low, high = SCORE_RANGES[self.survey]
        if not low <= self.score <= high:
            raise ValueError(f"{self.survey} score must be {low}-{high}, got {self.score}")
        return self
