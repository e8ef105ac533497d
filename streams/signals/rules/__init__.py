"""Churn-risk rules (topic `churn-risk`), one per module; `registry.RULES` orders them."""
