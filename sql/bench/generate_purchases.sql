-- generate_purchases: the benchmark's purchase history (bench/kpis.py), reproducible from
--   numbers() and hashes. Each customer joins on a hashed day, buys at a Gamma-distributed
--   rate and drops out after each repeat purchase with a Beta-distributed probability;
--   order values are Gamma-Gamma. 1% refunds. Gamma(k, rate) draws are
--   chi-squared(2k) / 2 rate because ClickHouse's rand* functions take constants only.
-- Parameters: {history_start:Date}, {history_days:UInt32}, {customers:UInt64};
--   BG/NBD {r:Float64}, {alpha:Float64}, {a:Float64}, {b:Float64} (time unit days);
--   Gamma-Gamma {p:Float64}, {q:Float64}, {v:Float64}.
INSERT INTO purchases
SELECT
    concat('e', toString(cust), '-', toString(k)), concat('c', toString(cust)),
    toDateTime64({history_start:Date}, 3, 'UTC')
        + toIntervalMillisecond(toUInt64((joined + offset) * 86400000)),
    concat('o', toString(cust), '-', toString(k)),
    round(randChiSquared(2 * {p:Float64}, k) / (2 * nu), 2), 'USD', 1, 'web',
    if(cityHash64(cust, k) % 100 = 0, 'refund', 'order'), NULL, 1, 0, 0, now64(3)
FROM (
    SELECT
        number AS cust,
        cityHash64(number, 1) % {history_days:UInt32} + cityHash64(number, 2) % 1000 / 1000
            AS joined,
        {history_days:UInt32} - joined AS window,
        randChiSquared(2 * {r:Float64}, number) / (2 * {alpha:Float64}) AS lambda,
        randChiSquared(2 * {a:Float64}, number + 1) AS beta_a,
        randChiSquared(2 * {b:Float64}, number + 2) AS beta_b,
        beta_a / (beta_a + beta_b) AS dropout,
        -- Repeat purchases before dropping out: geometric, capped for array size.
        least(300, toUInt64(1 + floor(log(randCanonical(number + 3))
                                      / log(1 - dropout)))) AS lifetime_purchases,
        randChiSquared(2 * {q:Float64}, number + 4) / (2 * {v:Float64}) AS nu,
        arrayConcat([0.], arrayFilter(t -> t < window, arrayCumSum(
            arrayMap(i -> randExponential(1, i) / lambda, range(lifetime_purchases)))))
            AS offsets
    FROM numbers({customers:UInt64})
)
ARRAY JOIN offsets AS offset, arrayEnumerate(offsets) AS k
SETTINGS max_partitions_per_insert_block = 0
