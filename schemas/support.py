"""`support-events` topic: the life of a support ticket."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from schemas.envelope import Envelope

SupportAction = Literal["opened", "replied", "resolved", "reopened", "escalated", "closed"]
SupportChannel = Literal["email", "phone", "chat", "web", "app", "social"]


class SupportEvent(Envelope):
    type: Literal["support"] | None = None
    ticket_id: Annotated[str, Field(min_length=1, max_length=128)]
    action: SupportAction
    channel: SupportChannel
    category: Annotated[str, Field(max_length=128)] | None = None
    first_contact_resolution: bool | None = None

    @model_validator(mode="after")
    def _fcr_only_on_resolved(self) -> SupportEvent:
        if self.first_contact_resolution is not None and self.action != "resolved":
            raise ValueError("first_contact_resolution is only meaningful on action 'resolved'")
        return self
