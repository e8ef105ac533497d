"""Exit codes every `retention` command shares, so scripts can branch on them."""

OK = 0
# Some input was rejected (e.g. invalid lines not published); the rest succeeded.
PARTIAL = 1
# Click's own code for a bad command line.
USAGE = 2
# Kafka or ClickHouse unreachable, or a query refused.
BACKEND = 3
# Timed out waiting, or not enough data for the request (e.g. model fit).
NOT_READY = 4
