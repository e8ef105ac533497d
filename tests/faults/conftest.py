"""The fault matrix prints its table once every row has run (`make faults`)."""

from __future__ import annotations

from typing import Any

from tests.faults.harness import ROWS, table


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if ROWS:
        terminalreporter.section("fault matrix")
        terminalreporter.write_line(table(ROWS))
