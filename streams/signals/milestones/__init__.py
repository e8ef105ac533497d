"""Milestones (topic `milestones`), one kind per module; `registry.RULES` orders them."""
