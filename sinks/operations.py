"""The named read operations: every query a caller outside the database process may run.

An operation is one of the project's own SQL files, named by its path under `sql/` without
`.sql`: every KPI (`kpis/nps`), every ops cookbook question (`cookbook/at_risk_customers`),
every query of the HTML report (`report/at_risk_episodes`), every retention insight
(`retention/first_occurrence`, `retention/lifecycle`, ...), every customer question of
`retention customer` and `retention at-risk` (`customer/profile`, `customer/at_risk`, ...),
the dead-letter workflow's reads (`dlq/letters`, `dlq/reasons`, `dlq/letter`,
`dlq/stored_events`) and the latest lifetime model (`model/latest_model`). Its parameters
are the file's `{name:Type}` placeholders. A caller sends a name and values, never SQL:
each value is parsed as its declared type before ClickHouse binds it, unknown names and
extra parameters are refused, and every operation runs with `readonly=1`, under which
ClickHouse also refuses settings changes and table functions (`file()`, `url()`,
`remote()`).

The worker's HTTP API (streams/web.py) serves these and nothing else; the CLI runs the same
ones on a database it opens itself (sinks/reader.py), so both paths answer alike.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.query import QueryResult as ClientQueryResult

from sinks.sql_files import read_sql

# Folders whose every file is an operation, and single files that are one.
OPERATION_FOLDERS = ("kpis", "cookbook", "report", "retention", "customer", "dlq")
SINGLE_OPERATIONS = ("model/latest_model",)

# Per-query settings of every operation. NOTE: only SELECTs run with it: on chDB a statement
# refused under readonly leaves the session read-only (tests/sinks/test_operations.py).
READ_ONLY = {"readonly": 1}

# The longest String parameter accepted (customer ids and the like are far shorter).
MAX_STRING_CHARS = 256
# The most values an Array(String) parameter takes (a list of event ids, say).
MAX_ARRAY_ITEMS = 1000

_PLACEHOLDER = re.compile(r"\{(\w+):\s*([\w()]+)\s*\}")
_COMMENT_LINE = re.compile(r"^\s*--.*$", re.M)
_UNSIGNED = re.compile(r"UInt(8|16|32|64)")


class OperationRefused(ValueError):
    """A request naming no operation, or with missing, extra or ill-typed parameters."""


def _date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        raise OperationRefused("expected a date (YYYY-MM-DD), got a date and time")
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError as exc:
            raise OperationRefused(f"not a date: {value!r}") from exc
    raise OperationRefused(f"expected a date (YYYY-MM-DD), got {value!r}")


def _unsigned(bits: int) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        if isinstance(value, str) and re.fullmatch(r"\d{1,20}", value):
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            raise OperationRefused(f"expected a whole number, got {value!r}")
        if not 0 <= value < 2 ** bits:
            raise OperationRefused(f"{value} is outside UInt{bits}")
        return value
    return parse


def _float(value: Any) -> float:
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError as exc:
            raise OperationRefused(f"expected a number, got {value!r}") from exc
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        raise OperationRefused(f"expected a finite number, got {value!r}")
    return float(value)


def _string(value: Any) -> str:
    if not isinstance(value, str) or len(value) > MAX_STRING_CHARS:
        raise OperationRefused(f"expected text of at most {MAX_STRING_CHARS} characters")
    return value


def _strings(value: Any) -> list[str]:
    if not isinstance(value, list | tuple) or len(value) > MAX_ARRAY_ITEMS:
        raise OperationRefused(f"expected a list of at most {MAX_ARRAY_ITEMS} texts")
    return [_string(v) for v in value]


def _parser(clickhouse_type: str) -> Callable[[Any], Any]:
    unsigned = _UNSIGNED.fullmatch(clickhouse_type)
    if unsigned:
        return _unsigned(int(unsigned.group(1)))
    parsers: dict[str, Callable[[Any], Any]] = {
        "Date": _date, "Float64": _float, "String": _string, "Array(String)": _strings}
    if clickhouse_type not in parsers:
        raise ValueError(f"no parser for parameter type {clickhouse_type}")
    return parsers[clickhouse_type]


@dataclass(frozen=True)
class Operation:
    name: str
    sql: str
    # Parameter name -> ClickHouse type, as the file's placeholders declare them.
    parameters: Mapping[str, str]

    def bind(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Exactly this operation's parameters, each parsed as its type."""
        missing = sorted(set(self.parameters) - set(values))
        extra = sorted(set(values) - set(self.parameters))
        if missing or extra:
            raise OperationRefused(
                f"{self.name} takes {_describe(self.parameters)}"
                + (f"; missing {', '.join(missing)}" if missing else "")
                + (f"; unknown {', '.join(extra)}" if extra else ""))
        bound = {}
        for name, clickhouse_type in self.parameters.items():
            try:
                bound[name] = _parser(clickhouse_type)(values[name])
            except OperationRefused as exc:
                raise OperationRefused(f"{self.name}: parameter {name}: {exc}") from exc
        return bound


def _describe(parameters: Mapping[str, str]) -> str:
    return ", ".join(f"{n} ({t})" for n, t in parameters.items()) or "no parameters"


def _placeholders(sql: str) -> dict[str, str]:
    """The `{name:Type}` placeholders of the statement, comments left out."""
    found: dict[str, str] = {}
    for name, clickhouse_type in _PLACEHOLDER.findall(_COMMENT_LINE.sub("", sql)):
        if found.setdefault(name, clickhouse_type) != clickhouse_type:
            raise ValueError(f"parameter {name} is declared as two types")
        _parser(clickhouse_type)  # every declared type has a parser
    return found


def _load(name: str) -> Operation:
    sql = read_sql(f"{name}.sql")
    statement = _COMMENT_LINE.sub("", sql).strip().rstrip(";")
    # A read, and one statement: refused writes are what could leave chDB read-only.
    if not re.match(r"(SELECT|WITH)\b", statement, re.I) or ";" in statement:
        raise ValueError(f"sql/{name}.sql is not a single SELECT")
    return Operation(name, sql, _placeholders(sql))


@cache
def operations() -> dict[str, Operation]:
    """Every named operation, by name."""
    names = [f"{folder}/{entry.name.removesuffix('.sql')}"
             for folder in OPERATION_FOLDERS
             for entry in resources.files("sql").joinpath(folder).iterdir()
             if entry.name.endswith(".sql")]
    return {name: _load(name) for name in sorted([*names, *SINGLE_OPERATIONS])}


def operation(name: Any) -> Operation:
    if not isinstance(name, str) or name not in operations():
        raise OperationRefused(f"no operation named {name!r}")
    return operations()[name]


def run_operation(client: Client, name: Any, values: Mapping[str, Any]) -> ClientQueryResult:
    """Run a named operation read-only on `client`; OperationRefused before any query."""
    op = operation(name)
    return client.query(op.sql, parameters=op.bind(values), settings=READ_ONLY)
