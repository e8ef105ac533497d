"""What to say about an exception raised while processing one event or absence firing."""

from __future__ import annotations

from streams.signals.base import Rule
from streams.signals.state_updates import StateUpdates


def failed_in(exc: BaseException) -> str | None:
    """The rule (its rule id or milestone kind) or state update the exception came from,
    if the traceback shows one: the innermost wins."""
    where = None
    tb = exc.__traceback__
    while tb is not None:
        owner = tb.tb_frame.f_locals.get("self")
        if isinstance(owner, Rule):
            where = f"rule {owner.name}"
        elif isinstance(owner, StateUpdates):
            where = "the state update"
        tb = tb.tb_next
    return where


def describe(exc: BaseException) -> str:
    """'<type>: <message> (in rule <name>)': the reason a processing error is reported with."""
    where = failed_in(exc)
    return f"{type(exc).__name__}: {exc}" + (f" (in {where})" if where else "")
