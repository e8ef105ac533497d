-- latest_model: the newest stored model version, every column of model_params.
-- Grain: one row, or none before the first `retention model fit`.
SELECT
    version, fitted_at, as_of, horizon_days, r, alpha, a, b, p, q, v,
    customers, repeat_customers, bgnbd_log_likelihood, gg_log_likelihood
FROM model_params FINAL
ORDER BY version DESC
LIMIT 1
