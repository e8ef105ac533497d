"""Absence timers of one partition: one armed due time per customer, in a bounded heap."""

from __future__ import annotations

from streams.processor.timers import AbsenceTimers


def test_due_timers_pop_earliest_first_and_disarmed() -> None:
    """pop_due yields the customers due by `until`, in due order, and disarms them."""
    timers = AbsenceTimers()
    timers.arm("c3", 30.0)
    timers.arm("c1", 10.0)
    timers.arm("c2", 20.0)
    assert list(timers.pop_due(20.0)) == [(10.0, "c1"), (20.0, "c2")]
    assert timers.armed == {"c3": 30.0}
    assert list(timers.pop_due(20.0)) == []


def test_rearming_supersedes_the_earlier_due_time() -> None:
    """A customer re-armed later is not yielded at its old due time."""
    timers = AbsenceTimers()
    timers.arm("c1", 10.0)
    timers.arm("c1", 40.0)
    assert list(timers.pop_due(20.0)) == []
    assert list(timers.pop_due(40.0)) == [(40.0, "c1")]


def test_arming_none_disarms() -> None:
    """No due time means no timer: a pending entry for the customer is dropped when popped."""
    timers = AbsenceTimers()
    timers.arm("c1", 10.0)
    timers.arm("c1", None)
    assert timers.armed == {}
    assert list(timers.pop_due(100.0)) == []


def test_rearming_at_the_same_time_adds_no_heap_entry() -> None:
    """Arming the due time already armed is a no-op."""
    timers = AbsenceTimers()
    timers.arm("c1", 10.0)
    timers.arm("c1", 10.0)
    assert len(timers) == 1


def test_the_heap_grows_with_customers_not_with_rearms() -> None:
    """Superseded entries are compacted away once they outnumber live ones."""
    timers = AbsenceTimers()
    for n in range(10_000):
        timers.arm(f"c{n % 3}", float(n))
    assert len(timers) <= 2 * 3 + 64
    assert timers.armed == {"c0": 9_999.0, "c1": 9_997.0, "c2": 9_998.0}
    assert list(timers.pop_due(float("inf"))) == [
        (9_997.0, "c1"), (9_998.0, "c2"), (9_999.0, "c0")]


def test_a_timer_rearmed_while_popping_fires_again_in_the_same_pass() -> None:
    """The caller may re-arm a popped customer; a due time within `until` is yielded too."""
    timers = AbsenceTimers()
    timers.arm("c1", 10.0)
    seen = []
    for due, cid in timers.pop_due(50.0):
        seen.append((due, cid))
        if due < 30.0:
            timers.arm(cid, due + 20.0)
    assert seen == [(10.0, "c1"), (30.0, "c1")]
    assert timers.armed == {}


def test_pop_due_of_takes_one_customers_due_timer_only() -> None:
    """An event applied on arrival fires its own customer's timer, nobody else's."""
    timers = AbsenceTimers()
    timers.arm("a", 5.0)
    timers.arm("b", 3.0)
    assert list(timers.pop_due_of("a", 4.0)) == []
    assert list(timers.pop_due_of("a", 5.0)) == [(5.0, "a")]
    assert timers.armed == {"b": 3.0}
    assert list(timers.pop_due(10.0)) == [(3.0, "b")]  # a's superseded heap entry is skipped
