"""Retention analytics: the KPIs of kpis.md (`kpis/`), the customer-lifetime model (`model/`)
and fitting that model on stored purchases (`model_fit`). ClickHouse only through `sinks`."""
