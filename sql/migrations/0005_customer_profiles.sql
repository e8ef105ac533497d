-- 0005: the predictive profile of each customer (issue #11, item 3), stored by
-- `retention model fit` beside customer_predictions, and readable with plain SQL by the
-- read-only role (SELECT on the database): the `customer_profile` view is the latest one.
--
-- Write order (sinks/model_store.py save_model): customer_predictions, customer_profiles,
-- model_profile_params, then model_params. A version visible in model_params therefore
-- has its complete profile, and the view never shows a half-written fit.

-- One row per fitted model: how its profile was computed and the readiness rule it
-- passed (the thresholds of RETENTION_MODEL__*, and what the data had).
CREATE TABLE IF NOT EXISTS model_profile_params
(
    version              UInt32,
    fitted_at            DateTime64(3, 'UTC'),
    annual_discount_rate Float64,
    discount_period_days UInt32,
    -- Readiness: buyers (customers with an order up to as_of), the oldest customer's age
    -- in days, customers with 3+ purchase days; each against its threshold.
    buyers               UInt64,
    min_buyers           UInt32,
    history_days         UInt32,
    min_history_days     UInt32,
    customers_3plus      UInt64,
    min_customers_3plus  UInt32
)
ENGINE = ReplacingMergeTree(fitted_at)
ORDER BY version;

-- Per-customer profile of one model version (Klaviyo's predictive fields), time unit days.
CREATE TABLE IF NOT EXISTS customer_profiles
(
    model_version               UInt32,
    customer_id                 String,
    -- Calibration end day D (inclusive): "now" for every field below.
    as_of                       Date,
    -- Orders up to as_of, each event once (refunds are not orders, kpis.md).
    orders                      UInt32,
    -- Revenue of those orders.
    historic_clv                Float64,
    -- Expected revenue over horizon_days after as_of, discounted (model_profile_params).
    predicted_clv               Float64,
    total_clv                   Float64,
    -- 1 - BG/NBD P(alive at as_of).
    churn_probability           Float64,
    expected_purchases          Float64,
    horizon_days                UInt32,
    -- t_x / x: mean days between purchase days; NULL with one purchase day.
    average_days_between_orders Nullable(Float64),
    -- The day by which the next order is more likely than not; NULL when the customer has
    -- one purchase day (no rhythm to go by), P(alive) <= 1/2 (more likely gone), or that
    -- day is beyond the horizon.
    expected_next_order_date    Nullable(Date)
)
ENGINE = ReplacingMergeTree
PARTITION BY model_version
ORDER BY (model_version, customer_id);

-- The latest fitted model's profiles, with the value a retention team stands to lose:
-- value_at_risk = predicted CLV x churn probability.
CREATE VIEW IF NOT EXISTS customer_profile AS
SELECT
    customer_id,
    model_version,
    as_of,
    orders,
    historic_clv,
    predicted_clv,
    total_clv,
    churn_probability,
    predicted_clv * churn_probability AS value_at_risk,
    expected_purchases,
    horizon_days,
    average_days_between_orders,
    expected_next_order_date
-- FINAL: a fit retried under the same version (it failed before model_params) wrote its
-- rows twice.
FROM customer_profiles FINAL
WHERE model_version = (SELECT max(version) FROM model_params);
