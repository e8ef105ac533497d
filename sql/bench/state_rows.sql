-- state_rows: rows in customer_state (0 in a folder generated before the customer questions).
-- Grain: one row.
SELECT count() FROM customer_state
