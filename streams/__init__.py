"""The Faust side: app, topics, tables, agents and the worker's web views.

Importing `streams.app` builds the app from settings, so set the environment (or let
`retention up` / `retention worker` do it) before importing anything here.
"""
