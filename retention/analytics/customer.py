"""One customer's story and the morning's at-risk list, from the named operations of
`sql/customer/` (run directly or through the worker's API, like every read).

Values come back JSON-safe (times and dates as ISO text) whichever way they were read, so
`--format json` is the same through the worker and directly.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sinks.reader import QueryRunner


def _iso(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_iso(v) for v in value]
    return value


def _rows(runner: QueryRunner, operation: str, parameters: dict[str, Any]
          ) -> list[dict[str, Any]]:
    result = runner.run(operation, parameters)
    return [{k: _iso(v) for k, v in row.items()} for row in result.dicts()]


@dataclass(frozen=True)
class CustomerStory:
    """What `retention customer ID` shows; ``state`` and ``profile`` are None when unknown."""

    customer_id: str
    state: dict[str, Any] | None
    episodes: list[dict[str, Any]]
    milestones: list[dict[str, Any]]
    recent_events: list[dict[str, Any]]
    profile: dict[str, Any] | None

    @property
    def known(self) -> bool:
        return self.state is not None or bool(self.recent_events)

    def as_dict(self) -> dict[str, Any]:
        return {"customer_id": self.customer_id, "state": self.state,
                "open_risk_episodes": self.episodes, "milestones": self.milestones,
                "recent_events": self.recent_events, "predictive_profile": self.profile}


def customer_story(runner: QueryRunner, customer_id: str, recent: int) -> CustomerStory:
    """State, open episodes, milestones, the ``recent`` latest events and the profile."""
    who = {"customer_id": customer_id}
    state = _rows(runner, "customer/state", who)
    profile = _rows(runner, "customer/profile", who)
    return CustomerStory(
        customer_id=customer_id,
        state=state[0] if state else None,
        episodes=_rows(runner, "customer/episodes", who),
        milestones=_rows(runner, "customer/milestones", who),
        recent_events=_rows(runner, "customer/recent_events", {**who, "limit": recent}),
        profile=profile[0] if profile else None,
    )


def at_risk(runner: QueryRunner, min_value: float, limit: int) -> list[dict[str, Any]]:
    """Customers with open episodes by value at risk, highest first, with their reasons."""
    return _rows(runner, "customer/at_risk", {"min_value": min_value, "limit": limit})
