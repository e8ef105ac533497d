-- generate_customer_state: the worker's latest state of every buyer, as `retention customer`
--   and `retention at-risk` read it: orders and revenue from the purchase pre-aggregates,
--   and for one customer in ten one to three open churn-risk episodes (streams/state.py's
--   JSON: rule -> [opened_at, last_alert_at, detail, weight]) on hashed days.
-- Parameters: {history_end:Date}.
INSERT INTO customer_state
WITH
    cityHash64(customer_id, 21) AS h,
    toFloat64(toUnixTimestamp(toDateTime({history_end:Date}, 'UTC'))) - h % 15552000 AS opened,
    arraySlice([('inactive_overdue', 35), ('nps_detractor', 30), ('low_p_alive', 40)],
               1, if(h % 10 = 0, 1 + intDiv(h, 10) % 3, 0)) AS rules
SELECT
    customer_id,
    1 AS version,
    now64(3) AS updated_at,
    toUInt32(order_count) AS orders,
    total AS revenue,
    first_at,
    last_at,
    0 AS open_tickets,
    NULL AS latest_nps,
    NULL AS latest_csat,
    toUInt8(least(100, arraySum(r -> r.2, rules))) AS risk_score,
    arrayMap(r -> r.1, rules) AS open_risk_rules,
    concat('{"customer_id":"', customer_id, '","episodes":{',
           arrayStringConcat(arrayMap(r -> concat('"', r.1, '":[', toString(opened), ',',
                                                  toString(opened), ',"', r.1,
                                                  ' (bench)",', toString(r.2), ']'), rules),
                             ','), '}}') AS state
FROM (
    SELECT customer_id, sum(length(orders)) AS order_count,
           sum(arraySum(o -> o.2, orders)) AS total,
           toDateTime64(min(day), 3, 'UTC') AS first_at,
           toDateTime64(max(day), 3, 'UTC') AS last_at
    FROM purchase_days FINAL
    GROUP BY customer_id
)
