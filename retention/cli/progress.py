"""Progress of long commands on stderr (`publish`, `import`, `model fit`, `report`, `demo`,
`dlq replay`): rich bars on a terminal, plain lines otherwise (logs and CI keep a readable
record instead of a screenful of control codes).

A command runs tasks one after another: `task` begins one (finishing the one before), with
a total when it is known (bytes of a file, events, steps) or none (a pulse); `update` moves
it (plain lines: at most one per `every_s`), `step` moves it one discrete step (plain lines:
always one), `done` completes it. stdout stays for the command's result.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import Protocol

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)

# Plain mode: the most often an `update` writes a line.
PLAIN_EVERY_S = 5.0
# `tracked` reports once per this many lines (a progress update costs ~100 lines' work).
LINES_PER_UPDATE = 1000


class CommandProgress(Protocol):
    def task(self, label: str, total: float | None = None) -> None:
        """Begin a task; the one before it is done."""

    def update(self, completed: float, detail: str = "", total: float | None = None) -> None:
        """The running task has `completed` of its total (and a new total, if given)."""

    def step(self, detail: str) -> None:
        """The running task moves on by one step, `detail` naming the step begun."""

    def done(self, detail: str = "") -> None:
        """The running task is complete."""

    def close(self) -> None: ...


class RichProgress:
    """One bar per task, kept on screen once done."""

    def __init__(self, console: Console) -> None:
        self.bars = Progress(TextColumn("{task.description}"), BarColumn(),
                             TaskProgressColumn(), TextColumn("{task.fields[detail]}"),
                             TimeElapsedColumn(), console=console)
        self.bars.start()
        self.current: TaskID | None = None
        self.steps = 0

    def task(self, label: str, total: float | None = None) -> None:
        self._finish()
        self.current = self.bars.add_task(label, total=total, detail="")
        self.steps = 0

    def update(self, completed: float, detail: str = "", total: float | None = None) -> None:
        if self.current is not None:
            if total is not None:
                self.bars.update(self.current, total=total)
            self.bars.update(self.current, completed=completed, detail=detail)

    def step(self, detail: str) -> None:
        if self.current is not None:
            task = self.bars.tasks[self.current]
            total = f"/{task.total:g}" if task.total is not None else ""
            self.bars.update(self.current, completed=self.steps,
                             detail=f"{detail} ({self.steps + 1}{total})")
            self.steps += 1

    def done(self, detail: str = "") -> None:
        if self.current is not None:
            task = self.bars.tasks[self.current]
            whole = task.total if task.total else max(task.completed, 1)
            self.bars.update(self.current, total=whole, completed=whole,
                             detail=detail or "done")
            self.bars.stop_task(self.current)
            self.current = None

    def _finish(self) -> None:
        if self.current is not None and not self.bars.tasks[self.current].finished:
            self.done()

    def close(self) -> None:
        self._finish()
        self.bars.stop()


class PlainProgress:
    """`label: detail` lines: one per step, one when a task ends, and at most one per
    `every_s` while it moves (a task that ends quickly writes its end alone)."""

    def __init__(self, write: Callable[[str], None] | None = None,
                 every_s: float = PLAIN_EVERY_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.write = write or (lambda line: click.echo(line, err=True))
        self.every_s = every_s
        self.clock = clock
        self.label: str | None = None
        self.total: float | None = None
        self.steps = 0
        self.last = clock()

    def task(self, label: str, total: float | None = None) -> None:
        self._finish()
        self.label, self.total, self.steps = label, total, 0
        self.last = self.clock()

    def update(self, completed: float, detail: str = "", total: float | None = None) -> None:
        if total is not None:
            self.total = total
        now = self.clock()
        if self.label is None or now - self.last < self.every_s:
            return
        self.last = now
        share = f" ({completed / self.total:.0%})" if self.total else ""
        self.write(f"{self.label}: {detail}{share}".rstrip())

    def step(self, detail: str) -> None:
        if self.label is not None:
            self.steps += 1
            total = f"/{self.total:g}" if self.total is not None else ""
            self.write(f"{self.label}: {detail} ({self.steps}{total})")

    def done(self, detail: str = "") -> None:
        if self.label is not None:
            self.write(f"{self.label}: done" + (f", {detail}" if detail else ""))
            self.label = None

    def _finish(self) -> None:
        self.done()

    def close(self) -> None:
        self._finish()


def tracked(lines: Iterable[str], progress: CommandProgress,
            weigh: Callable[[str], int] = lambda _line: 1) -> Iterator[str]:
    """`lines` as they are, the running task advanced by each line's weight (1: lines;
    its encoded size: bytes of a file) every LINES_PER_UPDATE lines and at the end."""
    count = completed = 0
    for line in lines:
        count += 1
        completed += weigh(line)
        if count % LINES_PER_UPDATE == 0:
            progress.update(completed, f"{count:,} lines")
        yield line
    progress.update(completed, f"{count:,} lines")


def make_progress(console: Console | None = None) -> CommandProgress:
    """Bars when stderr (or `console`) is a terminal, plain lines otherwise."""
    console = console or Console(stderr=True)
    return RichProgress(console) if console.is_terminal else PlainProgress()
