"""One module per agent. Agents import the app, topics, tables and pipeline, never each other."""
