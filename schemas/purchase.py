"""`purchases` topic: orders and refunds."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from schemas.envelope import Envelope


class Purchase(Envelope):
    type: Literal["purchase"] | None = None
    order_id: Annotated[str, Field(min_length=1, max_length=128)]
    # At most 1e15: past it a float no longer holds cents exactly, and a customer's sums
    # stay finite (two 1e308 orders made revenue inf, published as null to subscribers).
    amount: Annotated[float, Field(ge=0, le=1e15, allow_inf_nan=False)]
    # Shape check only: a code list would need updating with ISO 4217 itself.
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] = "USD"
    items: Annotated[int, Field(ge=1)] = 1
    channel: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    kind: Literal["order", "refund"] = "order"
