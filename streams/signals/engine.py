"""The signal engine: one event (or the passing of event time) in, alerts and milestones out.

Pure and deterministic: decisions depend only on state, the event and event time, never on
the wall clock (only `raised_at` does). The stream processor decides *when* to call it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol, get_args

from retention.settings import SignalSettings
from schemas import (
    ChurnRiskAlert,
    CustomerSnapshot,
    InputEvent,
    Milestone,
    Purchase,
    RuleHit,
    SupportEvent,
    SurveyResponse,
)
from schemas.alerts import RuleId
from streams.signals.ids import output_id
from streams.state import DAY, CustomerState, Episode, day_of

Output = ChurnRiskAlert | Milestone

# Absence signals, in the order fire_due breaks ties between equal due times.
_OVERDUE, _SLA, _ANNIVERSARY, _P_ALIVE = range(4)
# (due, kind, ticket_id for _SLA)
_Absence = tuple[float, int, str | None]

# Outputs are built from values the engine computes, already of their fields' types, so
# validating them (the costliest step per output) proves nothing: `_trusted` assembles the
# instance as validation would. Values only validation could reject (a configured or stored
# weight outside 0-100, a rule id unknown to the schema, a non-datetime wall clock) take the
# validating path, which raises as before.
_RULE_IDS = frozenset(get_args(RuleId))
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


class PAliveModel(Protocol):
    """What the engine needs from a fitted BG/NBD model (retention.model)."""

    def p_alive(self, x: int, t_x: float, T: float) -> float: ...

    def day_p_alive_drops_below(self, x: int, t_x: float, threshold: float) -> float | None: ...


# Bounded memos for the hot pure helpers below (cleared when full: cheaper than an LRU).
_MEMO_SIZE = 1 << 14
_utc_memo: dict[float, datetime] = {}
_round_memo: dict[float, float] = {}
_years_memo: dict[tuple[float, int], float] = {}


def _utc(ts: float) -> datetime:
    # Memoised: an output's decided_at is often its snapshot's last_purchase_at, and a
    # customer's first purchase recurs in every snapshot. Keys equal as numbers (0.0 and
    # -0.0, 5 and 5.0) are the same instant, so sharing their entry is exact.
    dt = _utc_memo.get(ts)
    if dt is None:
        if len(_utc_memo) >= _MEMO_SIZE:
            _utc_memo.clear()
        dt = _utc_memo[ts] = datetime.fromtimestamp(ts, UTC)
    return dt


def _round6(x: float) -> float:
    """float(round(x, 6)), memoised: CPython rounds through a decimal string conversion."""
    if type(x) is not float:
        return float(round(x, 6))
    if not x:
        return x  # 0.0 or -0.0, as round() returns them (they would share a memo entry)
    r = _round_memo.get(x)
    if r is None:
        if len(_round_memo) >= _MEMO_SIZE:
            _round_memo.clear()
        r = _round_memo[x] = round(x, 6)
    return r


def _add_years(ts: float, years: int) -> float:
    # Memoised: every next_due asks again for the same customer's next anniversary.
    key = (ts, years)
    moved = _years_memo.get(key)
    if moved is None:
        if len(_years_memo) >= _MEMO_SIZE:
            _years_memo.clear()
        moved = _years_memo[key] = _shift_years(ts, years)
    return moved


def _shift_years(ts: float, years: int) -> float:
    start = _utc(ts)
    try:
        moved = start.replace(year=start.year + years)
    except ValueError:  # 29 February in a common year
        moved = start.replace(year=start.year + years, day=28)
    return moved.timestamp()


class SignalEngine:
    def __init__(
        self,
        settings: SignalSettings,
        model: PAliveModel | None = None,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.s = settings
        self.model = model
        self.wall_clock = wall_clock
        self.cooldown_s = settings.cooldown_days * DAY
        self.sla_s = settings.sla_hours * 3600
        self.contacts_window_s = settings.repeated_contacts_window_days * DAY
        self.spend_tiers = sorted(settings.lifetime_spend_milestones)
        self.window_days = settings.spend_decline_window_days
        # (state, ts, state.orders, windows): revenue_windows within one apply/fire_due call,
        # where only record_order changes `daily` (and it counts an order each time).
        self._windows_memo: tuple[CustomerState, float, int, tuple[float, float]] | None = None

    # --- entry points -------------------------------------------------------------
    def apply(self, state: CustomerState, event: InputEvent,
              ts: float | None = None) -> list[Output]:
        """Fold one event (already deduplicated, in event-time order) into state.

        `ts`: event.occurred_at as epoch seconds, if the caller has it already.
        """
        if ts is None:
            ts = event.occurred_at.timestamp()
        self._windows_memo = None
        out: list[Output] = []
        if isinstance(event, Purchase):
            self._on_purchase(state, event, ts, out)
        elif isinstance(event, SupportEvent):
            self._on_support(state, event, ts, out)
        elif isinstance(event, SurveyResponse):
            self._on_survey(state, event, ts, out)
        self._check_spend_decline(state, ts, event.event_id, out)
        state.updated_at = max(state.updated_at, ts)
        state.version += 1
        return out

    def next_due(self, state: CustomerState) -> float | None:
        """Event time of this customer's next absence signal, if one is pending."""
        # The earliest due time of _pending_absence, without building its list: this runs
        # for every event applied.
        episodes = state.episodes
        due = self._overdue_due(state) if "inactive_overdue" not in episodes else None
        if state.open_tickets:
            alerted = state.sla_alerted_tickets
            for ticket_id, opened in state.open_tickets.items():
                if ticket_id not in alerted:
                    d = opened + self.sla_s
                    if due is None or d < due:
                        due = d
        if state.first_purchase_at is not None:
            d = _add_years(state.first_purchase_at, state.anniversaries_done + 1)
            if due is None or d < due:
                due = d
        if self.model is not None and "low_p_alive" not in episodes:
            p_alive_due = self._p_alive_due(state)
            if p_alive_due is not None and (due is None or p_alive_due < due):
                due = p_alive_due
        return due

    def fire_due(self, state: CustomerState, until: float) -> list[Output]:
        """Raise every absence signal due at or before `until`, earliest first."""
        out: list[Output] = []
        self._windows_memo = None
        while True:
            first: _Absence | None = None
            for pending in self._pending_absence(state):
                # strict <: the first of equal due times wins
                if pending[0] <= until and (first is None or pending[0] < first[0]):
                    first = pending
            if first is None:
                break
            due, kind, ticket_id = first
            if kind == _OVERDUE:
                self._fire_overdue(state, due, out)
            elif kind == _SLA:
                assert ticket_id is not None
                self._fire_sla(state, ticket_id, due, out)
            elif kind == _ANNIVERSARY:
                self._fire_anniversary(state, due, out)
            else:
                self._fire_p_alive(state, due, out)
            state.updated_at = max(state.updated_at, due)
            state.version += 1
        return out

    # --- event-driven logic ---------------------------------------------------------
    def _on_purchase(self, state: CustomerState, e: Purchase, ts: float,
                     out: list[Output]) -> None:
        if e.kind == "refund":
            state.refunds += e.amount
            return
        had_episodes = sorted(state.episodes) if state.episodes else None
        state.record_order(ts, e.amount)
        if had_episodes:
            state.episodes.clear()
            self._milestone(state, out, "win_back", ts, e.event_id, value=None,
                            detail="purchase after open risk episodes: " + ", ".join(had_episodes),
                            key=(ts, e.event_id))
        if state.orders == 1:
            self._milestone(state, out, "first_purchase", ts, e.event_id, value=1,
                            detail=f"first order {e.order_id} ({e.amount:.2f} {e.currency})")
        elif state.orders == 2:
            self._milestone(state, out, "repeat_customer", ts, e.event_id, value=2,
                            detail=f"second order {e.order_id}: the customer came back")
        if state.orders in self.s.order_count_milestones:
            self._milestone(state, out, "order_count", ts, e.event_id, value=state.orders,
                            detail=f"order number {state.orders}")
        tiers = self.spend_tiers
        while (state.lifetime_spend_tier < len(tiers)
               and state.revenue >= tiers[state.lifetime_spend_tier]):
            tier = tiers[state.lifetime_spend_tier]
            state.lifetime_spend_tier += 1
            self._milestone(state, out, "lifetime_spend", ts, e.event_id, value=tier,
                            detail=f"lifetime spend {state.revenue:.2f} crossed {tier:g}")

    def _on_support(self, state: CustomerState, e: SupportEvent, ts: float,
                    out: list[Output]) -> None:
        if e.action == "opened":
            state.record_ticket_opened(e.ticket_id, ts, self.contacts_window_s)
            recent = state.tickets_opened_since(ts - self.contacts_window_s)
            if recent >= self.s.repeated_contacts_tickets:
                self._risk(state, out, "repeated_contacts", ts, e.event_id,
                           f"{recent} tickets opened in {self.s.repeated_contacts_window_days} "
                           f"days (threshold {self.s.repeated_contacts_tickets})")
        elif e.action in ("reopened", "escalated"):
            state.reopen_ticket(e.ticket_id, ts)
            self._risk(state, out, "support_escalation", ts, e.event_id,
                       f"ticket {e.ticket_id} {e.action} via {e.channel}")
        elif e.action in ("resolved", "closed"):
            state.close_ticket(e.ticket_id)

    def _on_survey(self, state: CustomerState, e: SurveyResponse, ts: float,
                   out: list[Output]) -> None:
        if e.survey == "nps":
            if state.latest_nps_at is None or ts >= state.latest_nps_at:
                state.latest_nps, state.latest_nps_at = e.score, ts
            if e.score <= self.s.nps_detractor_max:
                self._risk(state, out, "nps_detractor", ts, e.event_id,
                           f"NPS answer {e.score} (detractor, 0-{self.s.nps_detractor_max})")
            elif e.score >= self.s.nps_promoter_min:
                self._milestone(state, out, "promoter", ts, e.event_id, value=e.score,
                                detail=f"NPS answer {e.score} (promoter)", key=(e.event_id,))
        else:
            if state.latest_csat_at is None or ts >= state.latest_csat_at:
                state.latest_csat, state.latest_csat_at = e.score, ts
            if e.score <= self.s.csat_low_max:
                about = f" about ticket {e.ticket_id}" if e.ticket_id else ""
                self._risk(state, out, "low_csat", ts, e.event_id,
                           f"CSAT answer {e.score} of 5{about} (low: 1-{self.s.csat_low_max})")

    def _check_spend_decline(self, state: CustomerState, ts: float, trigger: str | None,
                             out: list[Output]) -> None:
        if state.orders < self.s.spend_decline_min_orders:
            return
        window = self.window_days
        recent, previous = self._revenue_windows(state, ts)
        if previous > 0 and recent < self.s.spend_decline_ratio * previous:
            self._risk(state, out, "spend_decline", ts, trigger,
                       f"revenue in the last {window} days {recent:.2f} is below "
                       f"{self.s.spend_decline_ratio:.0%} of the {window} days before "
                       f"({previous:.2f})")

    def _revenue_windows(self, state: CustomerState, ts: float) -> tuple[float, float]:
        memo = self._windows_memo
        if memo is not None and memo[0] is state and memo[1] == ts and memo[2] == state.orders:
            return memo[3]
        windows = state.revenue_windows(ts, self.window_days)
        self._windows_memo = (state, ts, state.orders, windows)
        return windows

    # --- absence logic ------------------------------------------------------------------
    def _pending_absence(self, state: CustomerState) -> list[_Absence]:
        pending: list[_Absence] = []
        episodes = state.episodes
        if "inactive_overdue" not in episodes:
            overdue = self._overdue_due(state)
            if overdue is not None:
                pending.append((overdue, _OVERDUE, None))
        if state.open_tickets:
            alerted = state.sla_alerted_tickets
            for ticket_id, opened in state.open_tickets.items():
                if ticket_id not in alerted:
                    pending.append((opened + self.sla_s, _SLA, ticket_id))
        if state.first_purchase_at is not None:
            years = state.anniversaries_done + 1
            pending.append((_add_years(state.first_purchase_at, years), _ANNIVERSARY, None))
        if self.model is not None and "low_p_alive" not in episodes:
            p_alive_due = self._p_alive_due(state)
            if p_alive_due is not None:
                pending.append((p_alive_due, _P_ALIVE, None))
        return pending

    def _overdue_due(self, state: CustomerState) -> float | None:
        if state.orders < 2:
            return None  # the common case, cheaply: no mean gap yet, nothing is overdue
        gap = state.mean_interpurchase_s
        if state.orders < self.s.overdue_min_orders or gap is None or not state.last_purchase_at:
            return None
        return state.last_purchase_at + max(self.s.overdue_factor * gap,
                                            self.s.overdue_floor_days * DAY)

    def _fire_overdue(self, state: CustomerState, due: float, out: list[Output]) -> None:
        gap_days = (state.mean_interpurchase_s or 0) / DAY
        silent_days = (due - (state.last_purchase_at or due)) / DAY
        self._risk(state, out, "inactive_overdue", due, None,
                   f"no purchase for {silent_days:.1f} days; this customer usually buys every "
                   f"{gap_days:.1f} days (factor {self.s.overdue_factor:g}, floor "
                   f"{self.s.overdue_floor_days:g} days)")

    def _fire_sla(self, state: CustomerState, ticket_id: str, due: float,
                  out: list[Output]) -> None:
        state.sla_alerted_tickets.append(ticket_id)
        self._risk(state, out, "slow_resolution", due, None,
                   f"ticket {ticket_id} unresolved after {self.s.sla_hours:g} h (SLA)")

    def _fire_anniversary(self, state: CustomerState, due: float, out: list[Output]) -> None:
        state.anniversaries_done += 1
        years = state.anniversaries_done
        self._milestone(state, out, "anniversary", due, None, value=years,
                        detail=f"{years} year{'s' if years > 1 else ''} since the first purchase")

    def _p_alive_due(self, state: CustomerState) -> float | None:
        if self.model is None or state.last_purchase_day is None:
            return None
        inputs = state.bgnbd_inputs(state.last_purchase_at or 0)
        if inputs is None or inputs[0] < 1:
            return None  # BG/NBD: a customer with no repeat purchase is alive by definition
        x, t_x, _ = inputs
        day = self.model.day_p_alive_drops_below(x, t_x, self.s.p_alive_threshold)
        if day is None or state.first_purchase_day is None:
            return None
        # Already below the threshold on the purchase day itself: decide at the purchase,
        # never at a time before the evidence that armed it.
        return max((state.first_purchase_day + math.ceil(day)) * DAY,
                   state.last_purchase_at or 0.0)

    def _fire_p_alive(self, state: CustomerState, due: float, out: list[Output]) -> None:
        self._refresh_p_alive(state, due)
        self._risk(state, out, "low_p_alive", due, None,
                   f"BG/NBD probability alive {state.p_alive:.2f} fell below "
                   f"{self.s.p_alive_threshold:g}")

    # --- output builders ----------------------------------------------------------------
    def _refresh_p_alive(self, state: CustomerState, now: float) -> None:
        inputs = state.bgnbd_inputs(now)
        if self.model is not None and inputs is not None:
            state.p_alive = self.model.p_alive(*inputs)

    def _risk(self, state: CustomerState, out: list[Output], rule: str, ts: float,
              trigger: str | None, detail: str) -> None:
        weight = self.s.rule_weights.get(rule, 0)
        episode = state.episodes.get(rule)
        if episode is not None and ts - episode.last_alert_at < self.cooldown_s:
            episode.detail = detail  # same episode, inside the cooldown: no new alert
            return
        if episode is None:
            state.episodes[rule] = Episode(ts, ts, detail, weight)
        else:
            episode.last_alert_at, episode.detail = ts, detail
        self._refresh_p_alive(state, ts)
        episodes = sorted(state.episodes.items())
        hits = [
            {"rule_id": r, "weight": e.weight, "detail": e.detail,
             "decided_at": _utc(e.last_alert_at)}
            for r, e in episodes
        ]
        score = min(100, sum(e.weight for _, e in episodes))
        level = ("high" if score >= self.s.high_level_min
                 else "medium" if score >= self.s.medium_level_min else "low")
        raised_at = self.wall_clock()
        values = {
            "schema_version": 1,
            "alert_id": output_id(state.customer_id, rule, round(ts * 1000), trigger),
            "customer_id": state.customer_id, "rule_id": rule, "decided_at": _utc(ts),
            "raised_at": raised_at, "score": score, "level": level, "rules": hits,
            "trigger_event_id": trigger, "state": self._snapshot_fields(state, ts),
        }
        if (type(raised_at) is datetime and rule in _RULE_IDS
                and _RULE_IDS.issuperset(state.episodes)
                and all(type(h["weight"]) is int and 0 <= h["weight"] <= 100 for h in hits)):
            values["rules"] = [_trusted(RuleHit, _HIT_SET, h) for h in hits]
            values["state"] = _trusted(CustomerSnapshot, _SNAPSHOT_SET, values["state"])
            out.append(_trusted(ChurnRiskAlert, _ALERT_SET, values))
        else:
            del values["schema_version"]
            out.append(_validate_alert(values))

    def _milestone(self, state: CustomerState, out: list[Output], kind: str, ts: float,
                   trigger: str | None, value: float | None, detail: str,
                   key: tuple[object, ...] = ()) -> None:
        raised_at = self.wall_clock()
        values = {
            "schema_version": 1,
            "milestone_id": output_id(state.customer_id, kind, value, *key),
            "customer_id": state.customer_id, "kind": kind,
            # a float field: validation would turn an int into a float (JSON 1.0, not 1)
            "value": None if value is None else float(value), "detail": detail,
            "decided_at": _utc(ts), "raised_at": raised_at, "trigger_event_id": trigger,
            "state": self._snapshot_fields(state, ts),
        }
        if type(raised_at) is datetime and _RULE_IDS.issuperset(state.episodes):
            values["state"] = _trusted(CustomerSnapshot, _SNAPSHOT_SET, values["state"])
            out.append(_trusted(Milestone, _MILESTONE_SET, values))
        else:
            del values["schema_version"]
            out.append(_validate_milestone(values))

    def snapshot(self, state: CustomerState, ts: float) -> CustomerSnapshot:
        self._windows_memo = None  # the state may have changed since the last call
        return CustomerSnapshot(**self._snapshot_fields(state, ts))

    def _snapshot_fields(self, state: CustomerState, ts: float) -> dict[str, Any]:
        gap = state.mean_interpurchase_s
        recent, previous = self._revenue_windows(state, ts)
        # _round6 gives floats, as validation would (round() keeps an int an int)
        return {
            "orders": state.orders,
            "revenue": _round6(state.revenue),
            "first_purchase_at": (_utc(state.first_purchase_at) if state.first_purchase_at
                                  else None),
            "last_purchase_at": _utc(state.last_purchase_at) if state.last_purchase_at else None,
            "mean_interpurchase_days": _round6(gap / DAY) if gap is not None else None,
            "revenue_90d": _round6(recent),
            "revenue_prev_90d": _round6(previous),
            "tickets_opened_30d": state.tickets_opened_since(ts - self.contacts_window_s),
            "open_tickets": len(state.open_tickets),
            "latest_nps": state.latest_nps,
            "latest_csat": state.latest_csat,
            "p_alive": _round6(state.p_alive) if state.p_alive is not None else None,
            "open_risk_rules": sorted(state.episodes),
        }


def risk_score(state: CustomerState) -> int:
    return min(100, sum(e.weight for e in state.episodes.values()))


__all__ = ["Output", "PAliveModel", "SignalEngine", "day_of", "risk_score"]
