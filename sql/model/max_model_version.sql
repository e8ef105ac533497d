-- max_model_version: the highest model version stored; 0 before the first fit.
-- Grain: one row.
SELECT max(version)
FROM model_params
