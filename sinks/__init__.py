"""Writing to ClickHouse: client, migrations, row shapes and the batch sink."""
