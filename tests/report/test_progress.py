"""The report's progress on a terminal: one bar, counting steps, ending complete."""

from __future__ import annotations

import io
import re

from rich.console import Console

from retention.report.progress import RichProgress


def test_the_bar_counts_steps_and_ends_complete() -> None:
    """Each step names itself and advances the bar past the one before; close shows every
    step done."""
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=100)
    bar = RichProgress(console, steps=3)
    for what in ("KPIs", "cohort retention", "milestones"):
        bar.step(what)
        bar.bar.refresh()
    assert bar.bar.tasks[0].completed == 2  # the third step is running
    bar.close()
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen.getvalue())
    assert "report: cohort retention" in text
    # The bar redraws in place (\r): the last drawing is what stays on the screen.
    last = [part for part in re.split(r"[\r\n]", text) if part.strip()][-1]
    assert "report: done" in last and "3/3" in last
