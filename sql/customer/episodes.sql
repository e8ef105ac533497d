-- customer/episodes: one customer's open churn-risk episodes with their reasons: rule, its
--   weight in the risk score, when the episode opened, when it last raised an alert, and
--   the rule's readable detail. From the worker's latest state (streams/state.py
--   CustomerState.to_dict: episodes = rule -> [opened_at, last_alert_at, detail, weight],
--   times in epoch seconds). A purchase closes them all (win_back).
-- Grain: one row per open episode, oldest first.
-- Parameters: {customer_id:String}.
WITH state AS (
    SELECT JSONExtract(state, 'episodes',
                       'Map(String, Tuple(Float64, Float64, String, UInt8))') AS episodes
    FROM customer_state FINAL
    WHERE customer_id = {customer_id:String}
)
SELECT
    episode.1 AS rule,
    episode.2.4 AS weight,
    toDateTime64(episode.2.1, 3, 'UTC') AS opened_at,
    toDateTime64(episode.2.2, 3, 'UTC') AS last_alert_at,
    episode.2.3 AS detail
FROM state
ARRAY JOIN arrayZip(mapKeys(episodes), mapValues(episodes)) AS episode
ORDER BY opened_at, rule
