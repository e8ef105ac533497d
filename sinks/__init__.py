"""Every ClickHouse read and write: the client, migrations, row shapes, the worker's batch
sink (with its few reads), the lifetime model's store and the CLI's read side. SQL text is
read from the `sql` package (`sql_files`), never written in Python."""
