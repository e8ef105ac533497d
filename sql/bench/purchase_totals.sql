-- purchase_totals: distinct orders and all purchase rows (re-deliveries included).
SELECT uniqExactIf(event_id, kind = 'order'), count() FROM purchases
