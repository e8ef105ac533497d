"""Progress of `retention import` on stderr: a rich bar on a terminal, plain lines otherwise
(logs and CI keep a readable record instead of a screenful of control codes)."""

from __future__ import annotations

import time
from collections.abc import Callable
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

from retention.kafka import Status


def _lag(status: Status) -> int:
    return sum(status.lag.values())


def _pending(status: Status) -> int:
    return int(status.worker.get("rows_pending", 0)) if status.worker else 0


class ImportProgress(Protocol):
    def file_started(self, name: str, size: int | None) -> None: ...

    def file_advanced(self, lines: int, position: int | None) -> None: ...

    def file_done(self, lines: int) -> None: ...

    def worker_waiting(self, sent: int, status: Status) -> None: ...

    def close(self) -> None: ...


class RichProgress:
    """One bar per file (bytes read; a pulse for stdin), then one for the worker's lag."""

    def __init__(self, console: Console) -> None:
        self.bars = Progress(TextColumn("{task.description}"), BarColumn(),
                             TaskProgressColumn(), TextColumn("{task.fields[detail]}"),
                             TimeElapsedColumn(), console=console)
        self.bars.start()
        self.file: TaskID | None = None
        self.worker: TaskID | None = None

    def file_started(self, name: str, size: int | None) -> None:
        self.file = self.bars.add_task(f"publish {name}", total=size, detail="")

    def file_advanced(self, lines: int, position: int | None) -> None:
        if self.file is not None:
            self.bars.update(self.file, completed=position or 0, detail=f"{lines:,} lines")

    def file_done(self, lines: int) -> None:
        if self.file is not None:
            task = self.bars.tasks[self.file]
            self.bars.update(self.file, total=task.total or 1, completed=task.total or 1,
                             detail=f"{lines:,} lines")

    def worker_waiting(self, sent: int, status: Status) -> None:
        if self.worker is None:
            self.worker = self.bars.add_task("worker", total=max(sent, 1), detail="")
        detail = ("not answering" if status.worker is None
                  else f"lag {_lag(status):,}, rows waiting {_pending(status):,}")
        # Lag counts messages not yet committed, so sent - lag is what the worker has done.
        self.bars.update(self.worker, completed=max(sent - _lag(status), 0), detail=detail)

    def close(self) -> None:
        self.bars.stop()


class PlainProgress:
    """A line every `every_s` seconds at most, and one per finished file."""

    def __init__(self, every_s: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.every_s = every_s
        self.clock = clock
        self.name = ""
        self.size: int | None = None
        self.last = clock()

    def _due(self) -> bool:
        now = self.clock()
        if now - self.last < self.every_s:
            return False
        self.last = now
        return True

    def file_started(self, name: str, size: int | None) -> None:
        self.name, self.size = name, size
        self.last = self.clock()
        click.echo(f"publishing {name}", err=True)

    def file_advanced(self, lines: int, position: int | None) -> None:
        if self._due():
            share = (f" ({position / self.size:.0%})"
                     if self.size and position is not None else "")
            click.echo(f"publishing {self.name}: {lines:,} lines{share}", err=True)

    def file_done(self, lines: int) -> None:
        click.echo(f"published {self.name}: {lines:,} lines", err=True)

    def worker_waiting(self, sent: int, status: Status) -> None:
        if self._due():
            what = ("not answering" if status.worker is None
                    else f"lag {_lag(status):,} messages, rows waiting {_pending(status):,}")
            click.echo(f"waiting for the worker: {what}", err=True)

    def close(self) -> None:
        pass


def make_progress() -> ImportProgress:
    console = Console(stderr=True)
    return RichProgress(console) if console.is_terminal else PlainProgress()
