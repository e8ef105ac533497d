"""Progress of long commands (retention/cli/progress.py): plain lines off a terminal, rich
bars on one; and `retention status --watch`, redrawn in place until Ctrl-C."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from click.testing import CliRunner
from rich.console import Console

from retention.cli import status as status_module
from retention.cli.main import cli
from retention.cli.progress import PlainProgress, RichProgress, make_progress, tracked
from retention.cli.status import watch_status
from retention.kafka import Status

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def terminal() -> tuple[Console, io.StringIO]:
    screen = io.StringIO()
    return Console(file=screen, force_terminal=True, width=120), screen


def drawn(screen: io.StringIO) -> list[str]:
    """What the screen shows line by line: redraws (\\r, cursor moves) split into parts."""
    text = ANSI.sub("", screen.getvalue())
    return [part for part in re.split(r"[\r\n]", text) if part.strip()]


def test_plain_lines_are_throttled_steps_and_ends_are_not() -> None:
    """Off a terminal: an update writes at most one line per interval, with the share of
    the total; every step and every end writes one; a task ended by the next says done."""
    lines: list[str] = []
    clock = Clock()
    plain = PlainProgress(lines.append, every_s=5, clock=clock)
    plain.task("publish a.jsonl", total=200)
    plain.update(50, "1,000 lines")        # 0 s after the start: quiet
    clock.now = 6
    plain.update(100, "2,000 lines")       # 6 s: a line
    clock.now = 8
    plain.update(150, "3,000 lines")       # 2 s after the last line: quiet
    plain.task("report", total=3)          # ends the publish task
    plain.step("KPIs")
    plain.step("cohorts")
    plain.close()
    assert lines == ["publish a.jsonl: 2,000 lines (50%)", "publish a.jsonl: done",
                     "report: KPIs (1/3)", "report: cohorts (2/3)", "report: done"]


def test_tracked_lines_pass_through_and_count() -> None:
    """Every line comes out unchanged; the task is told the weight read so far every
    thousand lines and at the end."""
    seen: list[tuple[float, str]] = []

    class Recorder(PlainProgress):
        def update(self, completed: float, detail: str = "",
                   total: float | None = None) -> None:
            seen.append((completed, detail))

    lines = [f"line {n}\n" for n in range(2500)]
    out = list(tracked(lines, Recorder(), lambda line: len(line.encode())))
    assert out == lines
    sizes = [len(line.encode()) for line in lines]
    assert seen == [(sum(sizes[:1000]), "1,000 lines"), (sum(sizes[:2000]), "2,000 lines"),
                    (sum(sizes), "2,500 lines")]


def test_bars_on_a_terminal_end_complete() -> None:
    """On a terminal: one bar per task; a step names itself and counts, a task with a
    total ends at 100%, one without (a pulse) ends complete too, all kept on screen."""
    console, screen = terminal()
    bars = make_progress(console)
    assert isinstance(bars, RichProgress)
    bars.task("publish a.jsonl", total=400)
    bars.update(100, "1,000 lines")
    bars.task("report", total=2)
    bars.step("KPIs")
    bars.step("milestones")
    bars.bars.refresh()  # draw now: the next task ends this one at once
    bars.task("model fit")
    bars.close()
    tasks = bars.bars.tasks
    assert [(t.description, t.completed, t.total) for t in tasks] == [
        ("publish a.jsonl", 400, 400), ("report", 2, 2), ("model fit", 1, 1)]
    last = drawn(screen)[-3:]
    assert "publish a.jsonl" in last[0] and "100%" in last[0] and "done" in last[0]
    assert "report" in last[1] and "100%" in last[1]
    assert any("report" in line and "milestones (2/2)" in line for line in drawn(screen))


def test_off_a_terminal_the_factory_gives_plain_lines() -> None:
    """A console that is not a terminal gets plain lines."""
    assert isinstance(make_progress(Console(file=io.StringIO())), PlainProgress)


def status_reading(n: int) -> Status:
    worker: dict[str, Any] = {"rows_pending": n, "events_buffered": 0, "rows_written": 10 * n,
                              "counters": {"events": 100 * n}, "model": "none", "seconds": {}}
    return Status(lag={"purchases": n}, worker=worker)


def test_watch_redraws_in_place_until_ctrl_c() -> None:
    """On a terminal each reading replaces the one before (one screen, redrawn); Ctrl-C
    during the wait ends the watch quietly."""
    console, screen = terminal()
    readings = iter([status_reading(1), status_reading(2), status_reading(3)])
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 3:
            raise KeyboardInterrupt

    watch_status(lambda: next(readings), 2.5, console=console, sleep=sleep)
    assert sleeps == [2.5, 2.5, 2.5]
    text = screen.getvalue()
    plain = ANSI.sub("", text)
    for n in (1, 2, 3):
        assert f"events: {100 * n}" in plain
    # In place: the cursor moves up over each drawing (9 lines) before the next one (the
    # last reading is drawn once more as Live stops).
    assert plain.count("retention status at") == 4
    assert text.count("\x1b[1A") >= 3 * 8


def test_watch_off_a_terminal_prints_every_reading() -> None:
    """Not a terminal: one timestamped block per reading, nothing redrawn."""
    screen = io.StringIO()
    readings = iter([status_reading(1), status_reading(2)])
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 2:
            raise KeyboardInterrupt

    watch_status(lambda: next(readings), 1, console=Console(file=screen), sleep=sleep)
    text = screen.getvalue()
    assert "\x1b[" not in text
    assert text.count("retention status at") == 2
    assert "lag purchases" in text and "rows waiting in the sink: 2" in text


def test_status_watch_exits_0_on_ctrl_c(monkeypatch: pytest.MonkeyPatch) -> None:
    """`retention status --watch`: Ctrl-C ends it with exit 0; --watch refuses --format json."""
    monkeypatch.setattr(status_module, "current_status", lambda settings: status_reading(0))

    def interrupted(seconds: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(status_module.time, "sleep", interrupted)
    result = CliRunner().invoke(cli, ["status", "--watch", "--interval", "0.5"])
    assert result.exit_code == 0, result.output
    assert "retention status at" in result.stdout and "idle" in result.stdout
    refused = CliRunner().invoke(cli, ["status", "--watch", "--format", "json"])
    assert refused.exit_code == 2
