"""The server roles of `sql/roles/roles.sql` (a writer for the sink, a read-only reader for
ops teams and dashboards), as statements for the configured database.

Applied by an administrator, never by the pipeline: its own users should not hold the
access-management rights that creating roles takes.
"""

from __future__ import annotations

import re

from sinks.sql_files import read_sql

# The database the file names as written (compose's); GRANT takes no query parameters.
FILE_DATABASE = "retention"
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_COMMENT_LINE = re.compile(r"^\s*--.*$", re.M)


def roles_statements(database: str = FILE_DATABASE) -> list[str]:
    """The file's statements, their grants on `database`."""
    if not _IDENTIFIER.fullmatch(database):
        raise ValueError(f"not a plain database name: {database!r}")
    sql = _COMMENT_LINE.sub("", read_sql("roles/roles.sql"))
    statements = [s.strip() for s in sql.split(";") if s.strip()]
    return [s.replace(f" ON {FILE_DATABASE}.*", f" ON {database}.*") for s in statements]
