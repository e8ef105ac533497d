"""Progress of `retention report` on stderr: a rich bar on a terminal, plain lines otherwise
(logs and CI keep a readable record instead of a screenful of control codes)."""

from __future__ import annotations

from typing import Protocol

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


class ReportProgress(Protocol):
    def step(self, what: str) -> None:
        """`what` starts; the step before it is done."""

    def close(self) -> None: ...


class RichProgress:
    """One bar over the report's steps, naming the one running."""

    def __init__(self, console: Console, steps: int) -> None:
        self.bar = Progress(TextColumn("report: {task.description:<18}"), BarColumn(),
                            MofNCompleteColumn(), TimeElapsedColumn(), console=console,
                            transient=False)
        self.task = self.bar.add_task("starting", total=steps)
        self.started = False
        self.bar.start()

    def step(self, what: str) -> None:
        self.bar.update(self.task, description=what, advance=1 if self.started else 0)
        self.started = True

    def close(self) -> None:
        task = self.bar.tasks[0]
        self.bar.update(self.task, description="done", completed=task.total)
        self.bar.stop()


class PlainProgress:
    """A line per step, counted: `report: cohort retention (2/11)`."""

    def __init__(self, steps: int) -> None:
        self.steps = steps
        self.done = 0

    def step(self, what: str) -> None:
        self.done += 1
        click.echo(f"report: {what} ({self.done}/{self.steps})", err=True)

    def close(self) -> None:
        pass


def make_progress(steps: int) -> ReportProgress:
    console = Console(stderr=True)
    return RichProgress(console, steps) if console.is_terminal else PlainProgress(steps)
