"""SQL text lives in the `sql` package, never in Python: this reads one of its files.

Values reach a statement only through its `{name:Type}` parameters, never by formatting.
"""

from __future__ import annotations

from functools import cache
from importlib import resources


@cache
def read_sql(path: str) -> str:
    """The text of `sql/<path>`, e.g. "kpis/nps.sql"; each file is read once per process."""
    return resources.files("sql").joinpath(*path.split("/")).read_text()
