"""Pydantic models at the boundary: input events, output alerts, dead letters."""

from schemas.alerts import ChurnRiskAlert, CustomerSnapshot, DeadLetter, Milestone, RuleHit
from schemas.errors import InvalidEvent
from schemas.parse import MODELS, EventFamily, InputEvent, family_of_line, parse_event
from schemas.purchase import Purchase
from schemas.support import SupportEvent
from schemas.survey import SurveyResponse

__all__ = [
    "MODELS",
    "ChurnRiskAlert",
    "CustomerSnapshot",
    "DeadLetter",
    "EventFamily",
    "InputEvent",
    "InvalidEvent",
    "Milestone",
    "Purchase",
    "RuleHit",
    "SupportEvent",
    "SurveyResponse",
    "family_of_line",
    "parse_event",
]
