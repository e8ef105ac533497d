"""The `retention` command: one module per command group."""
