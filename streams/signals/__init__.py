"""Churn-risk rules and milestones over per-customer state, in event time (signals.md)."""

from streams.signals.engine import Output, SignalEngine

__all__ = ["Output", "SignalEngine"]
