"""Bytes in, a validated event out: the one place input is parsed."""

from __future__ import annotations

import json
from typing import Literal

from pydantic import ValidationError

from schemas.errors import InvalidEvent
from schemas.purchase import Purchase
from schemas.support import SupportEvent
from schemas.survey import SurveyResponse

EventFamily = Literal["purchase", "support", "survey"]
InputEvent = Purchase | SupportEvent | SurveyResponse

MODELS: dict[EventFamily, type[InputEvent]] = {
    "purchase": Purchase,
    "support": SupportEvent,
    "survey": SurveyResponse,
}
# What model_validate_json calls, minus its per-call Python wrapper (hot: once per event).
_VALIDATE_JSON = {family: model.__pydantic_validator__.validate_json
                  for family, model in MODELS.items()}


def parse_event(raw: bytes | str, family: EventFamily) -> InputEvent:
    """Validate one JSON message as `family`; raise InvalidEvent with a readable reason."""
    try:
        event: InputEvent = _VALIDATE_JSON[family](raw)
    except ValidationError as exc:
        if exc.error_count() == 1 and exc.errors()[0]["type"] == "json_invalid":
            raise InvalidEvent(f"not valid JSON: {exc.errors()[0]['msg']}") from exc
        raise InvalidEvent.from_validation(exc) from exc
    return event


def family_of_line(line: str) -> EventFamily:
    """The family a mixed JSON-lines record declares in its `type` field."""
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InvalidEvent(f"not valid JSON: {exc.msg} at column {exc.colno}") from exc
    if not isinstance(obj, dict):
        raise InvalidEvent("an event must be a JSON object")
    declared = obj.get("type")
    for family in MODELS:
        if declared == family:
            return family
    raise InvalidEvent(
        "no topic given and `type` is missing or not one of purchase, support, survey")
