"""The SQL ClickHouse receives for a Grafana panel, built as Grafana and
grafana-clickhouse-datasource build it, so tests run that SQL and not the file as written.

1. Grafana's template service replaces the dashboard's variables (`${name}` and `$name`).
2. The plugin (4.20.0, pkg/macros/macros.go over grafana/macropro) blanks `--` and `/* */`
   comments outside string literals, then expands each `$__name` or `$__name(args)` token,
   longest name first, with the ClickHouse SQL of macros.go.

Only the macros this project's panels may use are implemented; any other `$` left in the
SQL fails here, before ClickHouse, so a panel cannot rely on something the test skips.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

# The plugin version whose expansion this mirrors; compose installs the same one.
PLUGIN_VERSION = "4.20.0"


@dataclass(frozen=True)
class QueryContext:
    """What Grafana sends with a panel's query: the time range and the interval."""

    time_from: dt.datetime
    time_to: dt.datetime
    interval: dt.timedelta = dt.timedelta(minutes=1)

    def __post_init__(self) -> None:
        if self.time_from.tzinfo is None or self.time_to.tzinfo is None:
            raise ValueError("Grafana's time range is absolute: give aware datetimes")


def _date_time(at: dt.datetime) -> str:
    return f"toDateTime({int(at.timestamp())})"


def _date_time64(at: dt.datetime) -> str:
    return f"fromUnixTimestamp64Milli({int(at.timestamp() * 1000)})"


def _date(at: dt.datetime) -> str:
    # Go formats the time in its own location; Grafana's range arrives in UTC.
    return f"toDate('{at.astimezone(dt.UTC):%Y-%m-%d}')"


def _seconds(ctx: QueryContext) -> int:
    return int(max(ctx.interval.total_seconds(), 1))


def _one(name: str, args: list[str]) -> str:
    if len(args) != 1:
        raise ValueError(f"${name} expected 1 argument(s), received {len(args)}")
    return args[0]


Macro = Callable[[QueryContext, list[str]], str]

MACROS: dict[str, Macro] = {
    "fromTime": lambda c, a: _date_time(c.time_from),
    "toTime": lambda c, a: _date_time(c.time_to),
    "fromTime_ms": lambda c, a: _date_time64(c.time_from),
    "toTime_ms": lambda c, a: _date_time64(c.time_to),
    "timeFilter": lambda c, a: (
        f"{_one('__timeFilter', a)} >= {_date_time(c.time_from)} AND "
        f"{a[0]} <= {_date_time(c.time_to)}"),
    "timeFilter_ms": lambda c, a: (
        f"{_one('__timeFilter_ms', a)} >= {_date_time64(c.time_from)} AND "
        f"{a[0]} <= {_date_time64(c.time_to)}"),
    "dateFilter": lambda c, a: (
        f"{_one('__dateFilter', a)} >= {_date(c.time_from)} AND "
        f"{a[0]} <= {_date(c.time_to)}"),
    "timeInterval": lambda c, a: (
        f"toStartOfInterval(toDateTime({_one('__timeInterval', a)}), "
        f"INTERVAL {_seconds(c)} second)"),
    "interval_s": lambda c, a: str(_seconds(c)),
}
_TOKEN = re.compile(r"\$__([A-Za-z0-9_]+)")
_VARIABLE = re.compile(r"\$\{(\w+)\}|\$(\w+)")


def substitute_variables(sql: str, variables: Mapping[str, str]) -> str:
    """Grafana's template service: `${name}` / `$name` of a dashboard variable replaced
    everywhere (comments too); unknown names, such as the `$__` macros, left alone."""
    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        return variables.get(name, match.group(0))

    return _VARIABLE.sub(replace, sql)


def strip_comments(sql: str) -> str:
    """macropro.StripComments with LineComment | BlockComment | BackslashEscape: comment
    characters become spaces (so positions in error messages stay right); quoted strings
    ('...' and "...", with '' and backslash escapes) are kept whole."""
    out: list[str] = []
    i = 0
    while i < len(sql):
        c = sql[i]
        if c in "'\"":
            j = i + 1
            while j < len(sql):
                if sql[j] == "\\":
                    j += 2
                    continue
                if sql[j] == c:
                    if j + 1 < len(sql) and sql[j + 1] == c:
                        j += 2
                        continue
                    j += 1
                    break
                j += 1
            out.append(sql[i:j])
            i = j
        elif sql.startswith("--", i):
            j = i
            while j < len(sql) and sql[j] not in "\r\n":
                j += 1
            out.append(" " * (j - i))
            i = j
        elif sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            j = len(sql) if end < 0 else end + 2
            out.append(" " * (j - i))
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _arguments(raw: str) -> list[str]:
    """Comma-separated at depth 0, each trimmed (macropro's parseArgs)."""
    raw = raw.strip()
    if not raw:
        return []
    args, depth, start = [], 0, 0
    for i, c in enumerate(raw):
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == "," and depth == 0:
            args.append(raw[start:i].strip())
            start = i + 1
    args.append(raw[start:].strip())
    return args


def _closing_paren(sql: str, open_at: int) -> int:
    depth = 0
    for i in range(open_at, len(sql)):
        if sql[i] == "(":
            depth += 1
        elif sql[i] == ")":
            depth -= 1
            if depth == 0:
                return i
    raise ValueError(f"unbalanced parentheses after position {open_at}")


def expand_macros(sql: str, ctx: QueryContext) -> str:
    """The plugin's Interpolate: comments blanked, then every known macro expanded, longest
    name first (so `$__timeFilter_ms` is never read as `$__timeFilter`)."""
    sql = strip_comments(sql)
    for name in sorted(MACROS, key=lambda n: (-len(n), n)):
        token = f"$__{name}"
        pieces: list[str] = []
        rest = sql
        while (at := rest.find(token)) >= 0:
            after = at + len(token)
            if after < len(rest) and (rest[after].isalnum() or rest[after] == "_"):
                pieces.append(rest[:after])  # a longer macro's name
                rest = rest[after:]
                continue
            pieces.append(rest[:at])
            rest = rest[after:]
            raw = ""
            if rest.startswith("("):
                close = _closing_paren(rest, 0)
                raw, rest = rest[1:close], rest[close + 1:]
            pieces.append(MACROS[name](ctx, _arguments(raw)))
        sql = "".join(pieces) + rest
    return sql


def panel_sql(sql: str, ctx: QueryContext, variables: Mapping[str, str]) -> str:
    """What ClickHouse runs for a panel whose query is `sql`."""
    expanded = expand_macros(substitute_variables(sql, variables), ctx)
    left = _TOKEN.search(expanded) or re.search(r"\$\{?\w+", expanded)
    if left:
        raise ValueError(f"{left.group(0)} is neither a dashboard variable nor a macro "
                         "these tests expand as the plugin does")
    return expanded
