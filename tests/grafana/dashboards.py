"""The dashboards of grafana/dashboards as tests read them: each ClickHouse panel with its
query, the SQL file it names, and the dashboard's variables."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD_DIR = ROOT / "grafana" / "dashboards"
SQL_DIR = ROOT / "sql" / "grafana"
DATASOURCE_TYPE = "grafana-clickhouse-datasource"
SQL_PREFIX = "SQL: "


@dataclass(frozen=True)
class Panel:
    dashboard: str  # the dashboard's uid
    title: str
    type: str
    sql_file: str  # as the description names it, e.g. "sql/grafana/nps_by_month.sql"
    target: dict[str, Any]
    raw: dict[str, Any]

    @property
    def name(self) -> str:
        return Path(self.sql_file).stem

    @property
    def query(self) -> str:
        """The SQL Grafana sends (before variables and macros)."""
        return str(self.target["rawSql"])


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())  # type: ignore[no-any-return]


def dashboards() -> dict[str, dict[str, Any]]:
    """uid -> dashboard JSON."""
    boards = [load(p) for p in sorted(DASHBOARD_DIR.glob("*.json"))]
    return {str(b["uid"]): b for b in boards}


def all_panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel, those inside collapsed rows too."""
    found = []
    for panel in dashboard.get("panels", []):
        found.append(panel)
        found.extend(panel.get("panels", []))
    return found


def variables(dashboard: dict[str, Any]) -> dict[str, str]:
    """The dashboard's constant variables: name -> value."""
    return {str(v["name"]): str(v["query"])
            for v in dashboard.get("templating", {}).get("list", [])
            if v.get("type") == "constant"}


def query_panels() -> list[Panel]:
    """Every panel that queries ClickHouse, with the file its description names."""
    found = []
    for uid, board in dashboards().items():
        for raw in all_panels(board):
            targets = raw.get("targets") or []
            if not targets:
                continue
            assert len(targets) == 1, f"{raw['title']}: one query per panel, one file each"
            last = str(raw.get("description", "")).rstrip().splitlines()[-1]
            assert last.startswith(SQL_PREFIX), f"{raw['title']}: description names no SQL file"
            found.append(Panel(uid, str(raw["title"]), str(raw["type"]),
                               last.removeprefix(SQL_PREFIX).strip(), targets[0], raw))
    return found
