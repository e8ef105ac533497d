"""anniversary: the k-th yearly anniversary of the first purchase, for customers still buying.

It fires only when the customer has a purchase in [anniversary - activity window,
anniversary) (signals.md): a customer who left years ago is not celebrated once a year for
ever. Since the latest purchase before an anniversary decides, the only anniversaries that
can still fire are those within one activity window after the last purchase: a silent
customer has no timer at all, and a watermark jumping years ahead skips the passed ones
arithmetically, not one year at a time.
"""

from __future__ import annotations

from retention.settings import SignalSettings
from streams.signals.base import AbsenceRule
from streams.signals.memos import add_years, utc
from streams.signals.outputs import Output, Outputs
from streams.state import DAY, CustomerState


class Anniversary(AbsenceRule):
    name = "anniversary"
    reads = ("activity_window_days",)

    def __init__(self, settings: SignalSettings, outputs: Outputs) -> None:
        super().__init__(settings, outputs)
        self.window_s = settings.activity_window_days * DAY

    def due(self, state: CustomerState) -> float | None:
        first, last = state.first_purchase_at, state.last_purchase_at
        if first is None or last is None:
            return None
        # state.anniversaries_done: the number of the latest anniversary celebrated.
        due = add_years(first, state.anniversaries_done + 1)
        if due <= last:
            # Passed while the customer was away (in event-time order, one the customer
            # was active for fired before the purchase that followed it): the next one
            # that may fire is the first after the last purchase.
            due = add_years(first, _years_until_after(first, last))
        # `last` is the latest purchase before `due`: the window holds a purchase iff it does.
        return due if due - self.window_s <= last else None

    def fire(self, state: CustomerState, due: float, out: list[Output]) -> None:
        first = state.first_purchase_at
        assert first is not None  # due() returned `due`
        years = state.anniversaries_done = utc(due).year - utc(first).year
        self.outputs.milestone(
            state, out, self.name, due, None, value=years,
            detail=f"{years} year{'s' if years > 1 else ''} since the first purchase")


def _years_until_after(first: float, ts: float) -> int:
    """The smallest k >= 1 whose k-th anniversary of `first` is after `ts`."""
    years = max(utc(ts).year - utc(first).year, 1)
    return years if add_years(first, years) > ts else years + 1
