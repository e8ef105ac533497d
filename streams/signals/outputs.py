"""The one place alerts and milestones are built: ids, risk episodes, scores, snapshots.

Rules decide *whether* and *what for*; `Outputs` turns a decision into the published
model, so every output carries the same snapshot, id scheme, wall-clock `raised_at`, and
`historical` flag: decided more than the live horizon before the wall clock raised it
(history imported or caught up on). The flag is delivery, never decision: nothing else in
an output, and nothing in state, depends on the wall clock.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, ClassVar, get_args

from pydantic import TypeAdapter

from retention.settings import SignalSettings
from schemas import ChurnRiskAlert, CustomerSnapshot, Milestone, RuleHit
from schemas.alerts import RuleId
from streams.signals.ids import output_id
from streams.signals.memos import round6, utc
from streams.signals.model import PAliveModel
from streams.state import DAY, CustomerState, Episode

Output = ChurnRiskAlert | Milestone
# What a rule appends its decisions to.
Outs = list[Output]

# Outputs are built from values the engine computes, already of their fields' types, so
# validating them (the costliest step per output) proves nothing: `_trusted` assembles the
# instance as validation would. Values only validation could reject (a configured or stored
# weight outside 0-100, a rule id unknown to the schema) take the validating path, which
# raises as before.
_RULE_IDS = frozenset(get_args(RuleId))
# A wall clock answering other than a datetime (an ISO string) is read as validation reads it.
_as_datetime = TypeAdapter(datetime).validate_python
_new = object.__new__
_setattr = object.__setattr__
_validate_alert = ChurnRiskAlert.__pydantic_validator__.validate_python
_validate_milestone = Milestone.__pydantic_validator__.validate_python
# Fields a validated instance counts as set: those passed, i.e. all but schema_version.
_SNAPSHOT_SET = frozenset(CustomerSnapshot.model_fields)
_HIT_SET = frozenset(RuleHit.model_fields)
_ALERT_SET = frozenset(ChurnRiskAlert.model_fields) - {"schema_version"}
_MILESTONE_SET = frozenset(Milestone.model_fields) - {"schema_version"}


def _trusted(cls: Any, fields_set: frozenset[str], values: dict[str, Any]) -> Any:
    """What validate_python(values) yields for values validation would keep as they are
    (`values` in field order); pydantic's model_construct does the same, slowly."""
    model = _new(cls)
    _setattr(model, "__dict__", values)
    _setattr(model, "__pydantic_fields_set__", set(fields_set))
    _setattr(model, "__pydantic_extra__", None)
    _setattr(model, "__pydantic_private__", None)
    return model


class Outputs:
    """Builds alerts and milestones for the rules, appending them to the caller's list.

    `model` and `wall_clock` are swapped at run time (the pipeline loads a newly fitted
    model; tests freeze the clock): read them on each use, never copy them.
    """

    reads: ClassVar[tuple[str, ...]] = (
        "rule_weights", "cooldown_days", "medium_level_min", "high_level_min",
        "repeated_contacts_window_days", "spend_decline_window_days", "live_horizon_s",
    )

    def __init__(self, settings: SignalSettings, model: PAliveModel | None,
                 wall_clock: Callable[[], datetime]) -> None:
        self.model = model
        self.wall_clock = wall_clock
        self.rule_weights = settings.rule_weights
        self.cooldown_s = settings.cooldown_days * DAY
        self.medium_level_min = settings.medium_level_min
        self.high_level_min = settings.high_level_min
        self.contacts_window_s = settings.repeated_contacts_window_days * DAY
        self.window_days = settings.spend_decline_window_days
        self.live_horizon_s = settings.live_horizon_s
        # (state, ts, state.orders, windows): revenue_windows within one apply/fire_due call,
        # where only record_order changes `daily` (and it counts an order each time).
        self._windows_memo: tuple[CustomerState, float, int, tuple[float, float]] | None = None

    def forget_windows(self) -> None:
        """Called as each apply/fire_due/snapshot starts: the state may have changed since."""
        self._windows_memo = None

    def revenue_windows(self, state: CustomerState, ts: float) -> tuple[float, float]:
        """Revenue in the `spend_decline_window_days` ending at `ts`, and in those before."""
        memo = self._windows_memo
        if memo is not None and memo[0] is state and memo[1] == ts and memo[2] == state.orders:
            return memo[3]
        windows = state.revenue_windows(ts, self.window_days)
        self._windows_memo = (state, ts, state.orders, windows)
        return windows

    def refresh_p_alive(self, state: CustomerState, now: float) -> None:
        inputs = state.bgnbd_inputs(now)
        if self.model is not None and inputs is not None:
            state.p_alive = self.model.p_alive(*inputs)

    def risk(self, state: CustomerState, out: list[Output], rule: str, ts: float,
             trigger: str | None, detail: str) -> None:
        """Open or extend `rule`'s risk episode; alert unless inside the episode's cooldown."""
        weight = self.rule_weights.get(rule, 0)
        episode = state.episodes.get(rule)
        if episode is not None and ts - episode.last_alert_at < self.cooldown_s:
            episode.detail = detail  # same episode, inside the cooldown: no new alert
            return
        if episode is None:
            state.episodes[rule] = Episode(ts, ts, detail, weight)
        else:
            episode.last_alert_at, episode.detail = ts, detail
        self.refresh_p_alive(state, ts)
        episodes = sorted(state.episodes.items())
        hits = [
            {"rule_id": r, "weight": e.weight, "detail": e.detail,
             "decided_at": utc(e.last_alert_at)}
            for r, e in episodes
        ]
        score = min(100, sum(e.weight for _, e in episodes))
        level = ("high" if score >= self.high_level_min
                 else "medium" if score >= self.medium_level_min else "low")
        raised_at, historical = self._raised(ts)
        values: dict[str, Any] = {
            "schema_version": 1,
            "alert_id": output_id(state.customer_id, rule, round(ts * 1000), trigger),
            "customer_id": state.customer_id, "rule_id": rule, "decided_at": utc(ts),
            "raised_at": raised_at, "historical": historical, "score": score, "level": level,
            "rules": hits, "trigger_event_id": trigger,
            "state": self.snapshot_fields(state, ts),
        }
        if (rule in _RULE_IDS and _RULE_IDS.issuperset(state.episodes)
                and all(type(h["weight"]) is int and 0 <= h["weight"] <= 100 for h in hits)):
            values["rules"] = [_trusted(RuleHit, _HIT_SET, h) for h in hits]
            values["state"] = _trusted(CustomerSnapshot, _SNAPSHOT_SET, values["state"])
            out.append(_trusted(ChurnRiskAlert, _ALERT_SET, values))
        else:
            del values["schema_version"]
            out.append(_validate_alert(values))

    def milestone(self, state: CustomerState, out: list[Output], kind: str, ts: float,
                  trigger: str | None, value: float | None, detail: str,
                  key: tuple[object, ...] = ()) -> None:
        """A milestone; its id is (customer, kind, value, *key), so `key` must tell apart
        two milestones of one kind and value (win_back, promoter)."""
        raised_at, historical = self._raised(ts)
        values: dict[str, Any] = {
            "schema_version": 1,
            "milestone_id": output_id(state.customer_id, kind, value, *key),
            "customer_id": state.customer_id, "kind": kind,
            # a float field: validation would turn an int into a float (JSON 1.0, not 1)
            "value": None if value is None else float(value), "detail": detail,
            "decided_at": utc(ts), "raised_at": raised_at, "historical": historical,
            "trigger_event_id": trigger,
            "state": self.snapshot_fields(state, ts),
        }
        if _RULE_IDS.issuperset(state.episodes):
            values["state"] = _trusted(CustomerSnapshot, _SNAPSHOT_SET, values["state"])
            out.append(_trusted(Milestone, _MILESTONE_SET, values))
        else:
            del values["schema_version"]
            out.append(_validate_milestone(values))

    def _raised(self, ts: float) -> tuple[datetime, bool]:
        """The wall-clock time an output decided at event time `ts` is raised, and whether
        it is historical: decided more than the live horizon before that."""
        raised_at = self.wall_clock()
        if type(raised_at) is not datetime:
            raised_at = _as_datetime(raised_at)
        return raised_at, raised_at.timestamp() - ts > self.live_horizon_s

    def snapshot_fields(self, state: CustomerState, ts: float) -> dict[str, Any]:
        """CustomerSnapshot's fields at `ts`, in field order, as validation would leave them."""
        gap = state.mean_interpurchase_s
        recent, previous = self.revenue_windows(state, ts)
        # round6 gives floats, as validation would (round() keeps an int an int)
        return {
            "orders": state.orders,
            "revenue": round6(state.revenue),
            "first_purchase_at": (utc(state.first_purchase_at) if state.first_purchase_at
                                  else None),
            "last_purchase_at": utc(state.last_purchase_at) if state.last_purchase_at else None,
            "mean_interpurchase_days": round6(gap / DAY) if gap is not None else None,
            "revenue_90d": round6(recent),
            "revenue_prev_90d": round6(previous),
            "tickets_opened_30d": state.tickets_opened_since(ts - self.contacts_window_s),
            "open_tickets": len(state.open_tickets),
            "latest_nps": state.latest_nps,
            "latest_csat": state.latest_csat,
            "p_alive": round6(state.p_alive) if state.p_alive is not None else None,
            "open_risk_rules": sorted(state.episodes),
        }
