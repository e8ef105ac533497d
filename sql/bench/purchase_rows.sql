-- purchase_rows: rows in the purchases table (0: the history is still to be generated).
SELECT count() FROM purchases
