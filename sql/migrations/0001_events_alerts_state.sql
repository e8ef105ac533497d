-- 0001: raw events, alerts, milestones, customer state, dead letters.
-- Raw event tables are ReplacingMergeTree keyed by (customer_id, event_id): a re-delivered or
-- re-sent event collapses into one row at merge time, and every KPI reads them deduplicated
-- (FINAL or the pre-aggregates of later migrations), so a duplicate never counts twice.

CREATE TABLE IF NOT EXISTS purchases
(
    event_id        String,
    customer_id     String,
    occurred_at     DateTime64(3, 'UTC'),
    order_id        String,
    amount          Float64,
    currency        LowCardinality(String),
    items           UInt32,
    channel         LowCardinality(Nullable(String)),
    kind            Enum8('order' = 1, 'refund' = 2),
    source          LowCardinality(Nullable(String)),
    schema_version  UInt8,
    kafka_partition Int32,
    kafka_offset    Int64,
    ingested_at     DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(ingested_at)
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (customer_id, event_id);

CREATE TABLE IF NOT EXISTS support_events
(
    event_id                 String,
    customer_id              String,
    occurred_at              DateTime64(3, 'UTC'),
    ticket_id                String,
    action                   Enum8('opened' = 1, 'replied' = 2, 'resolved' = 3, 'reopened' = 4,
                                   'escalated' = 5, 'closed' = 6),
    channel                  Enum8('email' = 1, 'phone' = 2, 'chat' = 3, 'web' = 4, 'app' = 5,
                                   'social' = 6),
    category                 LowCardinality(Nullable(String)),
    first_contact_resolution Nullable(Bool),
    source                   LowCardinality(Nullable(String)),
    schema_version           UInt8,
    kafka_partition          Int32,
    kafka_offset             Int64,
    ingested_at              DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(ingested_at)
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (customer_id, event_id);

CREATE TABLE IF NOT EXISTS survey_responses
(
    event_id        String,
    customer_id     String,
    occurred_at     DateTime64(3, 'UTC'),
    survey          Enum8('nps' = 1, 'csat' = 2),
    score           UInt8,
    comment         Nullable(String),
    ticket_id       Nullable(String),
    source          LowCardinality(Nullable(String)),
    schema_version  UInt8,
    kafka_partition Int32,
    kafka_offset    Int64,
    ingested_at     DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(ingested_at)
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (customer_id, event_id);

-- One row per alert_id once merged (read with FINAL): the id is deterministic, so a
-- re-delivery after a crash writes the same key again.
CREATE TABLE IF NOT EXISTS churn_risk_alerts
(
    alert_id         String,
    customer_id      String,
    rule_id          LowCardinality(String),
    decided_at       DateTime64(3, 'UTC'),
    raised_at        DateTime64(3, 'UTC'),
    score            UInt8,
    level            Enum8('low' = 1, 'medium' = 2, 'high' = 3),
    rules            Array(LowCardinality(String)),
    payload          String
)
ENGINE = ReplacingMergeTree(raised_at)
PARTITION BY toYYYYMM(decided_at)
ORDER BY (customer_id, alert_id);

CREATE TABLE IF NOT EXISTS milestones
(
    milestone_id     String,
    customer_id      String,
    kind             LowCardinality(String),
    value            Nullable(Float64),
    decided_at       DateTime64(3, 'UTC'),
    raised_at        DateTime64(3, 'UTC'),
    payload          String
)
ENGINE = ReplacingMergeTree(raised_at)
PARTITION BY toYYYYMM(decided_at)
ORDER BY (customer_id, milestone_id);

-- Latest version wins: `version` grows with every change the worker makes to a customer.
CREATE TABLE IF NOT EXISTS customer_state
(
    customer_id         String,
    version             UInt64,
    updated_at          DateTime64(3, 'UTC'),
    orders              UInt32,
    revenue             Float64,
    first_purchase_at   Nullable(DateTime64(3, 'UTC')),
    last_purchase_at    Nullable(DateTime64(3, 'UTC')),
    open_tickets        UInt32,
    latest_nps          Nullable(UInt8),
    latest_csat         Nullable(UInt8),
    risk_score          UInt8,
    open_risk_rules     Array(LowCardinality(String)),
    state               String
)
ENGINE = ReplacingMergeTree(version)
ORDER BY customer_id;

CREATE TABLE IF NOT EXISTS dead_letters
(
    topic        LowCardinality(String),
    partition    Int32,
    offset       Int64,
    key          Nullable(String),
    reason       String,
    payload      String,
    failed_at    DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(failed_at)
ORDER BY (topic, partition, offset);
