"""Churn-risk rules and milestones over per-customer state, in event time (signals.md).

One rule per module (`rules/`, `milestones/`), listed in `registry.RULES`; `SignalEngine`
routes events and event time to them.
"""

from streams.signals.engine import Output, PAliveModel, SignalEngine, risk_score

__all__ = ["Output", "PAliveModel", "SignalEngine", "risk_score"]
