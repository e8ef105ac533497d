-- last_purchase_day: the last UTC day with an order, and how many (customer, day) rows
--   there are; the count is 0 (and the day meaningless) when nobody has bought yet.
-- Grain: one row.
SELECT max(day), count()
FROM purchase_days
