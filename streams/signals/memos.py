"""Memoised pure conversions on the engine's hot path (outputs, next_due).

Bounded memos, cleared when full: cheaper than an LRU and exact, since each answer depends
only on its key.
"""

from __future__ import annotations

from datetime import UTC, datetime

_MEMO_SIZE = 1 << 14
_utc_memo: dict[float, datetime] = {}
_round_memo: dict[float, float] = {}
_years_memo: dict[tuple[float, int], float] = {}


def utc(ts: float) -> datetime:
    # Memoised: an output's decided_at is often its snapshot's last_purchase_at, and a
    # customer's first purchase recurs in every snapshot. Keys equal as numbers (0.0 and
    # -0.0, 5 and 5.0) are the same instant, so sharing their entry is exact.
    dt = _utc_memo.get(ts)
    if dt is None:
        if len(_utc_memo) >= _MEMO_SIZE:
            _utc_memo.clear()
        dt = _utc_memo[ts] = datetime.fromtimestamp(ts, UTC)
    return dt


def round6(x: float) -> float:
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


def add_years(ts: float, years: int) -> float:
    """`ts` moved by whole calendar years (29 February becomes 28 in a common year)."""
    # Memoised: every next_due asks again for the same customer's next anniversary.
    key = (ts, years)
    moved = _years_memo.get(key)
    if moved is None:
        if len(_years_memo) >= _MEMO_SIZE:
            _years_memo.clear()
        moved = _years_memo[key] = _shift_years(ts, years)
    return moved


def _shift_years(ts: float, years: int) -> float:
    start = utc(ts)
    try:
        moved = start.replace(year=start.year + years)
    except ValueError:  # 29 February in a common year
        moved = start.replace(year=start.year + years, day=28)
    return moved.timestamp()
