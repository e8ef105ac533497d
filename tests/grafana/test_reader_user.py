"""grafana/clickhouse-init: on its first start compose's ClickHouse applies
sql/roles/roles.sql and creates the read-only user Grafana logs in as.

No Docker here, and chDB has no access control: the script runs under bash with a stand-in
`clickhouse-client` that records what it is sent (a fake for glue only), and ClickHouse's
own parser on chDB reads what it sent.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from .dashboards import ROOT

INIT = ROOT / "grafana" / "clickhouse-init"
SCRIPT = INIT / "create-grafana-reader.sh"
ROLES = ROOT / "sql" / "roles" / "roles.sql"
# Quotes, a backslash, `&` (bash's pattern-replacement match), `$` and a space.
AWKWARD = "it's a \\ & \"$HOME\" pw"

FAKE_CLIENT = """#!/bin/bash
n=$(ls "$FAKE_OUT" | wc -l)
printf '%s\\n' "$@" > "$FAKE_OUT/$n.args"
cat > "$FAKE_OUT/$n.sql"
"""


def _run(tmp_path: Path, password: str, *, source: bool = False) -> tuple[
        subprocess.CompletedProcess[str], list[tuple[list[str], str]]]:
    """Run (or, like the image's entrypoint for a non-executable file, source) the script
    with the SQL files where compose mounts them; the calls the client received."""
    bin_dir, out, mounts = tmp_path / "bin", tmp_path / "out", tmp_path / "init"
    for d in (bin_dir, out, mounts):
        d.mkdir()
    client = bin_dir / "clickhouse-client"
    client.write_text(FAKE_CLIENT)
    client.chmod(0o755)
    (mounts / "roles.sql").write_text(ROLES.read_text())
    (mounts / "grafana_reader.sql").write_text((INIT / "grafana_reader.sql").read_text())
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "FAKE_OUT": str(out),
           "RETENTION_INIT_DIR": str(mounts), "CLICKHOUSE_USER": "retention",
           "CLICKHOUSE_PASSWORD": "admin-pw", "CLICKHOUSE_READER_PASSWORD": password}
    # As the image's entrypoint: bash with -e and pipefail, then the entrypoint goes on.
    command = (f'set -eo pipefail; . "{SCRIPT}"; echo "options after: $-"' if source
               else f'"{SCRIPT}"')
    done = subprocess.run(["bash", "-c", command], env=env, capture_output=True, text=True,
                          check=False)
    calls = [((out / f"{n}.args").read_text().split("\n")[:-1], (out / f"{n}.sql").read_text())
             for n in range(0, len(list(out.iterdir())), 2)]
    return done, calls


def _statements(sql: str) -> list[str]:
    code = re.sub(r"^\s*--.*$", "", sql, flags=re.M)
    return [s.strip() for s in code.split(";") if s.strip()]


def test_the_roles_file_then_the_user_are_sent_as_the_administrator(tmp_path: Path) -> None:
    """First sql/roles/roles.sql unchanged, then the user's statements; both to the local
    server as CLICKHOUSE_USER."""
    done, calls = _run(tmp_path, "reader")
    assert done.returncode == 0, done.stderr
    assert len(calls) == 2
    assert calls[0][1] == ROLES.read_text()
    for args, _ in calls:
        assert args == ["--host", "127.0.0.1", "--user", "retention", "--password", "admin-pw",
                        "--multiquery"]


def test_the_user_is_read_only_but_may_set_the_query_timeout(tmp_path: Path, parser: Any) -> None:
    """ClickHouse's parser reads: a user under the retention_readonly profile, holding only
    retention_reader as its default role, allowed to change max_execution_time within a
    bound (the plugin's client sends it); nothing else is granted."""
    done, calls = _run(tmp_path, "reader")
    assert done.returncode == 0, done.stderr
    statements = _statements(calls[1][1])
    kinds = [parser.command(f"EXPLAIN AST {s}").splitlines()[0] for s in statements]
    assert [k.split(" ")[0] for k in kinds] == ["CreateUserQuery", "GrantQuery", "SetRoleQuery"]
    formatted = [parser.query("SELECT formatQuery({q:String})", parameters={"q": s})
                 .result_rows[0][0] for s in statements]
    create, grant, default_role = formatted
    assert create.startswith(
        "CREATE USER OR REPLACE grafana_reader IDENTIFIED WITH sha256_password BY ")
    assert create.endswith("SETTINGS PROFILE `retention_readonly`, "
                           "max_execution_time MAX 600 CHANGEABLE_IN_READONLY")
    assert grant == "GRANT retention_reader TO grafana_reader"
    assert default_role == "SET DEFAULT ROLE retention_reader TO grafana_reader"


def test_any_password_arrives_intact(tmp_path: Path, parser: Any) -> None:
    """Quotes, backslashes, `&` and `$` in CLICKHOUSE_READER_PASSWORD: the SQL string the
    server reads is exactly the password."""
    done, calls = _run(tmp_path, AWKWARD)
    assert done.returncode == 0, done.stderr
    create = _statements(calls[1][1])[0]
    literal = re.search(r" BY ('(?:[^'\\]|\\.)*')", create)
    assert literal is not None, create
    assert parser.query(f"SELECT {literal.group(1)}").result_rows[0][0] == AWKWARD


def test_an_empty_password_creates_nothing(tmp_path: Path) -> None:
    """Without a password the script fails before any statement is sent."""
    done, calls = _run(tmp_path, "")
    assert done.returncode != 0
    assert "CLICKHOUSE_READER_PASSWORD" in done.stderr
    assert calls == []


def test_sourced_by_the_entrypoint_it_leaves_its_shell_as_it_was(tmp_path: Path) -> None:
    """The image sources a non-executable init script into its entrypoint: the script's
    `set -u` must not leak into the rest of the entrypoint."""
    done, calls = _run(tmp_path, "reader", source=True)
    assert done.returncode == 0, done.stderr
    assert len(calls) == 2
    options = done.stdout.strip().splitlines()[-1].removeprefix("options after: ")
    assert "e" in options and "u" not in options


def test_the_script_is_executable_in_the_repository() -> None:
    """Mounted with its mode, it runs as its own process (the entrypoint's first choice)."""
    mode = subprocess.run(["git", "ls-files", "-s", str(SCRIPT)], cwd=ROOT,
                          capture_output=True, text=True, check=True).stdout.split()[0]
    assert mode == "100755"


@pytest.mark.parametrize("name", ["roles.sql", "grafana_reader.sql"])
def test_the_script_reads_the_files_compose_mounts(name: str) -> None:
    """The script's default folder and file names are those docker-compose.yml mounts."""

    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    targets = [v.split(":")[1] for v in compose["services"]["clickhouse"]["volumes"]]
    default_dir = re.search(r"RETENTION_INIT_DIR:-([^}]+)\}", SCRIPT.read_text())
    assert default_dir is not None
    assert f"{default_dir.group(1)}/{name}" in targets
    assert f'"$dir/{name}"' in SCRIPT.read_text()
