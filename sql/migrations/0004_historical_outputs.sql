-- 0004: alerts and milestones say whether they are live or historical (issue #10).
-- An output decided more than RETENTION_SIGNALS__LIVE_HORIZON_S before the worker raised it
-- (an imported history, or catching up after downtime) is stored flagged and not published.
-- Rows written before this migration were all published: false is what they were.
ALTER TABLE churn_risk_alerts
    ADD COLUMN IF NOT EXISTS historical Bool DEFAULT false AFTER raised_at;
ALTER TABLE milestones
    ADD COLUMN IF NOT EXISTS historical Bool DEFAULT false AFTER raised_at;
