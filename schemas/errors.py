"""The project's own error for input it cannot accept."""

from __future__ import annotations

from pydantic import ValidationError


class InvalidEvent(ValueError):
    """An input message that breaks the event contract; `reason` is for humans and the DLQ."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    @classmethod
    def from_validation(cls, exc: ValidationError) -> InvalidEvent:
        parts = []
        for err in exc.errors(include_url=False):
            where = ".".join(str(p) for p in err["loc"]) or "event"
            parts.append(f"{where}: {err['msg']}")
        return cls("; ".join(parts))
