-- clv_predicted: per customer, BG/NBD expected purchase days over the model's horizon x
--   Gamma-Gamma expected order value (stored by `retention model fit`); aggregated as the
--   mean and the sum over the model's customers (everyone with an order up to its as_of).
-- The model used is the latest version whose calibration day as_of is before `end`, i.e.
--   fitted on data inside [.., end); the horizon is the one it was fitted with
--   (model_params.horizon_days, from settings.model.horizon_days).
-- Grain: one row.
-- Parameters: {end:Date}.
-- Both NULL when no model was fitted before `end`.
WITH
models AS (
    SELECT version, as_of
    FROM model_params FINAL
),
predictions AS (
    SELECT model_version, customer_id, predicted_clv
    FROM customer_predictions FINAL
),
latest_model AS (
    -- max() over no rows is 0, a version that never exists (versions start at 1).
    SELECT max(version) AS version
    FROM models
    WHERE as_of < {end:Date}
),
latest_predictions AS (
    SELECT predicted_clv
    FROM predictions
    WHERE model_version = (SELECT version FROM latest_model)
)
SELECT
    if(count() = 0, NULL, avg(predicted_clv)) AS clv_predicted_mean,
    if(count() = 0, NULL, sum(predicted_clv)) AS clv_predicted_sum
FROM latest_predictions
