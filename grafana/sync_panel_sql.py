"""Copy each panel's SQL file into the dashboards' JSON, or check that they agree.

Every ClickHouse panel names its query file on the last line of its description
("SQL: sql/grafana/<name>.sql"); the file is the source of the query, the JSON carries a copy
because Grafana reads only the JSON. Edit the file, then run from the repository root:

    python grafana/sync_panel_sql.py            # rewrite the JSON from the files
    python grafana/sync_panel_sql.py --check    # exit 1 when a JSON and a file differ

(tests/grafana/test_dashboards.py fails on any difference, so `make test` catches a file
changed without this step.)
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DASHBOARDS = ROOT / "grafana" / "dashboards"
SQL_PREFIX = "SQL: "


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, those inside collapsed rows too."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def sql_file(panel: dict[str, Any]) -> str | None:
    """The repository path the panel's description names, or None for a panel without
    a query (a text panel)."""
    if not panel.get("targets"):
        return None
    last = str(panel.get("description", "")).rstrip().splitlines()[-1:]
    if not last or not last[0].startswith(SQL_PREFIX):
        raise ValueError(f"panel {panel.get('title')!r} has a query but its description "
                         f"does not end with '{SQL_PREFIX}sql/grafana/<name>.sql'")
    return last[0].removeprefix(SQL_PREFIX).strip()


def sync(path: Path, *, root: Path = ROOT, check: bool = False) -> list[str]:
    """The titles of the panels whose query differs from their file; unless `check`, the
    JSON is rewritten with every query copied from its file."""
    dashboard = json.loads(path.read_text())
    drifted = []
    for panel in panels(dashboard):
        name = sql_file(panel)
        if name is None:
            continue
        sql = (root / name).read_text()
        for target in panel["targets"]:
            if target.get("rawSql") != sql:
                drifted.append(str(panel["title"]))
                target["rawSql"] = sql
    if drifted and not check:
        path.write_text(json.dumps(dashboard, indent=2) + "\n")
    return drifted


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="change nothing; exit 1 when a dashboard differs from its files")
    parser.add_argument("--dashboards", type=Path, default=DASHBOARDS,
                        help="the folder of dashboard JSON files (default: grafana/dashboards)")
    args = parser.parse_args(argv)
    differs = False
    for path in sorted(args.dashboards.glob("*.json")):
        for title in sync(path, check=args.check):
            differs = True
            verb = "differs from" if args.check else "copied from"
            print(f"{path.name}: panel {title!r}: query {verb} its SQL file")
    return 1 if differs and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
