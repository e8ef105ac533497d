"""The one settings object: every knob of the pipeline, read from `RETENTION_*` variables.

Nested groups use `__` in variable names, e.g. `RETENTION_KAFKA__BOOTSTRAP_SERVERS`,
`RETENTION_CLICKHOUSE__DSN`, `RETENTION_SIGNALS__SLA_HOURS`. Switching between the embedded,
compose and cluster modes is done here and nowhere else.
"""

from __future__ import annotations

import ipaddress
import zoneinfo
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Literal, Self
from urllib.parse import urlsplit

from pydantic import (
    AwareDatetime,
    BaseModel,
    Field,
    FilePath,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict


class TopicNames(BaseModel):
    purchases: str = "purchases"
    support: str = "support-events"
    surveys: str = "survey-responses"
    churn_risk: str = "churn-risk"
    milestones: str = "milestones"
    dead_letter: str = "dead-letter"


class KafkaSettings(BaseModel):
    # Empty means: start the embedded tansu broker (or find the one `retention up` started).
    bootstrap_servers: str = ""
    # NOTE: all three input topics share this count; per-customer state relies on
    # co-partitioning (producers key by customer_id).
    partitions: int = Field(4, ge=1)
    replication_factor: int = Field(1, ge=1)
    # Prepended to every topic name and the consumer group: lets test runs share a broker.
    topic_prefix: str = ""
    topics: TopicNames = TopicNames()
    consumer_group: str = "retention-pipeline"
    # Short session timeouts make a consumer-group join take seconds, not ~30 s (runtime.md).
    session_timeout_s: float = Field(6.0, gt=0)
    heartbeat_interval_s: float = Field(1.0, gt=0)
    # How long the worker's fetch may wait for records (Faust's own: 1500 ms). Tansu holds a
    # fetch for much of this even when records arrive meanwhile, so it bounds how soon a live
    # event reaches the worker (on Apache Kafka a fetch returns as soon as records arrive).
    fetch_max_wait_ms: int = Field(100, ge=1)
    # Which broker answers: "tansu" turns on the work-arounds for the embedded broker
    # (streams/broker_compat.py); "auto" means tansu exactly when no servers are configured
    # (the embedded broker `retention up` started). Launchers of tansu set it explicitly.
    broker_kind: Literal["auto", "kafka", "tansu"] = "auto"
    # Secured clusters: every client of the project (the worker's Faust app and producer,
    # the CLI's admin, consumers and publisher) gets these through one function,
    # retention.kafka.client_security.
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    # CA bundle (PEM) that signs the brokers' certificates; None = the system's CAs.
    ssl_cafile: FilePath | None = None
    # How long a CLI client waits for the broker (connection, TLS, SASL) before it gives
    # up with exit 3: a wrong address or password is an error, never a hang.
    connect_timeout_s: float = Field(10.0, gt=0)
    # The largest input message (key + value) the worker takes; larger ones are
    # dead-lettered with an excerpt, their size and a sha256, and no dead letter is larger.
    # Keep it at or below the brokers' message.max.bytes (Apache Kafka: 1 MiB by default).
    max_message_bytes: int = Field(1_048_576, ge=16_384)
    # Pause before the worker sends a batch's outputs or state records again after a
    # transient Kafka error its producer gave up on (no leader known for a partition for a
    # whole delivery timeout, a full buffer): it retries until they are written, never stops.
    produce_retry_s: float = Field(1.0, gt=0)
    # A message not keyed by its customer_id, or not in the partition that key maps to (a
    # keyless producer, or one with another partitioner): "reroute" produces it again keyed
    # by customer_id (a repartition hop) and acknowledges the original once that is durable;
    # "dead-letter" refuses it. Never applied to the wrong partition's state either way.
    misplaced_events: Literal["reroute", "dead-letter"] = "reroute"

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}{name}"

    @property
    def input_topics(self) -> list[str]:
        t = self.topics
        return [self.topic(t.purchases), self.topic(t.support), self.topic(t.surveys)]

    @property
    def output_topics(self) -> list[str]:
        t = self.topics
        return [self.topic(t.churn_risk), self.topic(t.milestones), self.topic(t.dead_letter)]

    @property
    def uses_tansu(self) -> bool:
        return self.broker_kind == "tansu" or (
            self.broker_kind == "auto" and not self.bootstrap_servers)

    @property
    def group_id(self) -> str:
        return f"{self.topic_prefix}{self.consumer_group}"

    @property
    def uses_sasl(self) -> bool:
        return self.security_protocol.startswith("SASL_")

    @property
    def uses_ssl(self) -> bool:
        return self.security_protocol in ("SSL", "SASL_SSL")

    @model_validator(mode="after")
    def _security_is_complete(self) -> Self:
        if self.uses_sasl and not (self.sasl_mechanism and self.sasl_username
                                   and self.sasl_password):
            raise ValueError(f"security_protocol {self.security_protocol} needs "
                             "RETENTION_KAFKA__SASL_MECHANISM, __SASL_USERNAME and "
                             "__SASL_PASSWORD")
        if self.sasl_mechanism and not self.uses_sasl:
            raise ValueError(f"RETENTION_KAFKA__SASL_MECHANISM is set but security_protocol "
                             f"{self.security_protocol} does not use SASL")
        if self.ssl_cafile is not None and not self.uses_ssl:
            raise ValueError(f"RETENTION_KAFKA__SSL_CAFILE is set but security_protocol "
                             f"{self.security_protocol} does not use SSL")
        return self


class ClickHouseSettings(BaseModel):
    # `chdb:///path` = embedded chDB folder; `http(s)://user:pass@host:port/db` = a server.
    dsn: SecretStr = SecretStr("chdb:///./var/clickhouse")
    # A user with the read-only role (sql/roles/roles.sql) for `retention kpi`, `query` and
    # `model show` against a server; unset, they use `dsn`. Never used to migrate.
    readonly_dsn: SecretStr | None = None
    # Overrides the DSN's database; tests give each run its own.
    database: str | None = None
    client_name: str = "retention-pipeline"
    connect_timeout_s: float = 10.0
    # A ClickHouse cluster name turns on ON CLUSTER DDL in migrations (cluster mode).
    cluster: str | None = None

    @property
    def is_embedded(self) -> bool:
        return self.dsn.get_secret_value().startswith("chdb://")

    @property
    def database_name(self) -> str:
        if self.database:
            return self.database
        path = urlsplit(self.dsn.get_secret_value()).path.strip("/")
        return "default" if self.is_embedded or not path else path


class SinkSettings(BaseModel):
    # A worker batch is bounded by both: whichever comes first closes it.
    batch_max_events: int = Field(5000, ge=1)
    flush_interval_s: float = Field(0.5, gt=0)
    # Rows processed and waiting for the writer beyond which processing waits: bounds the
    # memory a slow or refusing ClickHouse costs (about two backlog batches of
    # `batch_max_events`, with their outputs and states). Below it, live input is processed
    # while a write is in progress, and the next write takes all of it at once.
    max_rows_queued: int = Field(25_000, ge=1)
    # Backoff while ClickHouse refuses writes; offsets stay uncommitted meanwhile.
    retry_initial_s: float = Field(0.5, gt=0)
    retry_max_s: float = Field(30.0, gt=0)
    # Fault injection (tests, `make faults`), off when unset: while this file holds an epoch
    # second still ahead, every insert fails as if the ClickHouse server did not answer.
    outage_file: Path | None = None


class SignalSettings(BaseModel):
    nps_detractor_max: int = Field(6, ge=0, le=10)
    nps_promoter_min: int = Field(9, ge=0, le=10)
    csat_low_max: int = Field(2, ge=1, le=5)
    repeated_contacts_tickets: int = Field(3, ge=1)
    repeated_contacts_window_days: int = Field(30, ge=1)
    sla_hours: float = Field(72.0, gt=0)
    overdue_factor: float = Field(2.0, gt=0)
    overdue_floor_days: float = Field(30.0, ge=0)
    overdue_min_orders: int = Field(2, ge=2)
    p_alive_threshold: float = Field(0.3, gt=0, lt=1)
    spend_decline_ratio: float = Field(0.5, gt=0, lt=1)
    spend_decline_window_days: int = Field(90, ge=1)
    spend_decline_min_orders: int = Field(3, ge=1)
    cooldown_days: float = Field(7.0, ge=0)
    # Points each rule adds to an alert's 0-100 risk score while its episode is open.
    rule_weights: dict[str, int] = {
        "nps_detractor": 30,
        "low_csat": 25,
        "support_escalation": 25,
        "repeated_contacts": 20,
        "slow_resolution": 25,
        "inactive_overdue": 35,
        "low_p_alive": 40,
        "spend_decline": 30,
    }
    # Score at or above which an alert is `medium` / `high`.
    medium_level_min: int = Field(40, ge=0, le=100)
    high_level_min: int = Field(70, ge=0, le=100)
    order_count_milestones: list[int] = [5, 10, 25, 50, 100]
    lifetime_spend_milestones: list[float] = [100, 500, 1000, 5000]
    # Events may arrive out of event-time order by up to this much and still be
    # processed in order (replays and live runs then raise the same alerts).
    allowed_lateness_s: float = Field(5.0, ge=0)
    # Event-time sanity: an event more than this far ahead of the worker's wall clock, or
    # before min_event_time, is dead-lettered; so no event moves a watermark past the wall
    # clock plus this skew (a year-9999 event would fire every absence rule at once).
    max_future_skew_s: float = Field(86_400.0, ge=0)
    min_event_time: AwareDatetime = datetime(2000, 1, 1, tzinfo=UTC)
    # A topic taken in up to its known log end, whose events are history (not live), stops
    # holding the watermark after this long without messages; a live one holds nothing
    # back at once. One with messages possibly left (log end unknown, or past what was
    # taken in) holds it until they are read, however long that takes.
    idle_watermark_after_s: float = Field(10.0, gt=0)
    # News is decided on arrival: an event that occurred at most this long before the wall
    # clock, later than everything applied to its customer (none of whose events wait in
    # the reorder buffer), is applied and raises its alerts at once, not after the allowed
    # lateness. Decisions are unchanged while each customer's events arrive in event-time
    # order (a customer's outputs depend on its own events only); one arriving behind a
    # later event of its customer is applied after it. Older events (replays, imports, a
    # worker catching up) are reordered by the buffer. 0 turns this off.
    apply_on_arrival_within_s: float = Field(60.0, ge=0)
    # Off: watermarks follow event time only (pure replays, tests); on: idle partitions
    # follow the wall clock so absence rules fire when customers send nothing at all.
    live_watermark: bool = True
    # Deserialised customer states kept in memory (LRU) in front of the Faust table.
    state_cache_size: int = Field(200_000, ge=1)
    # After a start or rebalance, stored states re-armed (absence timers) per batch or
    # clock tick, so that the first event waits for no full read of the table. A state
    # costs ~40 us here: 2,500 hold a batch or tick up ~0.1 s (10,000 made the 0.5 s clock
    # overrun for a minute after a start at 1M customers, delaying live alerts with it).
    rearm_per_batch: int = Field(2_500, ge=1)
    # Recent event ids kept per customer to drop re-deliveries before they touch state.
    recent_event_ids: int = Field(64, ge=1)
    # An output decided more than this long before the wall clock that raises it is
    # historical (an import, or catching up after downtime): stored in ClickHouse, flagged,
    # and not published, since subscribers act on what they receive. `inf` makes every
    # output live.
    live_horizon_s: float = Field(86_400.0, gt=0)
    # Publish historical outputs too (flagged), for a team that wants to see its backlog.
    publish_historical: bool = False
    # `anniversary` needs a purchase in [anniversary - this, anniversary): Settings sets it
    # from RETENTION_ACTIVITY_WINDOW_DAYS, the KPIs' "active" window, unless it is set here.
    activity_window_days: int = Field(365, ge=1)


class ModelSettings(BaseModel):
    min_buyers: int = 300
    min_history_days: int = 90
    min_customers_3plus: int = 20
    horizon_days: int = 365
    # The predictive profile's predicted CLV discounts each period's expected revenue at
    # this annual rate (0: undiscounted, like the clv_predicted KPI), one discount step per
    # `discount_period_days` (30: monthly, as the CLV literature and `lifetimes` do).
    annual_discount_rate: float = Field(0.0, ge=0)
    discount_period_days: int = Field(30, ge=1)
    # How often the worker looks for a newly fitted model (it drives `low_p_alive`).
    reload_interval_s: float = Field(60.0, gt=0)


# A bearer token shorter than this is refused: guessable tokens are no protection.
MIN_API_TOKEN_CHARS = 16


class WorkerSettings(BaseModel):
    # The HTTP API (status and named read operations) listens on loopback by default; any
    # other address needs api_token, which every request then carries as a bearer token.
    web_host: str = "127.0.0.1"
    web_port: int = 6066
    api_token: SecretStr | None = None
    # Faust commits acknowledged offsets this often; customer states are flushed to the
    # table (and ClickHouse) at the same pace, latest version per customer.
    commit_interval_s: float = Field(1.0, gt=0)
    loglevel: str = "WARNING"
    # Python's cyclic garbage collector runs a young-generation pass every this many
    # allocations (CPython's default is 700). The worker allocates a few objects per event
    # and frees them by reference counting; at 700 the collector took 15-30% of processing.
    gc_young_threshold: int = Field(50_000, ge=700)
    # A rebalance waits this long at most for the batches being written; a write still
    # running then (ClickHouse hangs) is given up, its messages unacknowledged. Shorter than
    # the session timeout, so that the group never waits on a ClickHouse outage.
    hand_over_timeout_s: float = Field(3.0, gt=0)
    # `retention up` restarts a crashed worker after this long, doubling per crash up to
    # the maximum; a worker that ran for longer than the maximum starts the count afresh.
    restart_initial_s: float = Field(1.0, gt=0)
    restart_max_s: float = Field(30.0, gt=0)

    @property
    def web_is_loopback(self) -> bool:
        if self.web_host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.web_host).is_loopback
        except ValueError:  # a host name: it may resolve to any interface
            return False

    def auth_headers(self) -> dict[str, str]:
        """What a client sends the worker's HTTP API: the token as a bearer, if one is set."""
        token = self.api_token.get_secret_value() if self.api_token else ""
        return {"Authorization": f"Bearer {token}"} if token else {}

    @model_validator(mode="after")
    def _remote_api_needs_a_token(self) -> Self:
        token = self.api_token.get_secret_value() if self.api_token else ""
        if self.api_token is not None and len(token) < MIN_API_TOKEN_CHARS:
            raise ValueError(f"RETENTION_WORKER__API_TOKEN must have at least "
                             f"{MIN_API_TOKEN_CHARS} characters")
        if not self.web_is_loopback and not token:
            raise ValueError(f"RETENTION_WORKER__WEB_HOST={self.web_host} is not a loopback "
                             "address: set RETENTION_WORKER__API_TOKEN (a long random secret) "
                             "so the worker's HTTP API answers only callers that have it")
        return self


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="RETENTION_", env_nested_delimiter="__", extra="ignore"
    )

    data_dir: Path = Path("./var")
    activity_window_days: int = Field(365, ge=1)
    lifespan_cap_years: float = Field(20.0, gt=0)
    # The IANA time zone retention insights (`retention cohorts`, `lifecycle`, `stickiness`)
    # cut days, weeks and months in; their --tz option overrides it.
    reporting_timezone: str = "UTC"
    kafka: KafkaSettings = KafkaSettings()
    clickhouse: ClickHouseSettings = ClickHouseSettings()
    sink: SinkSettings = SinkSettings()
    signals: SignalSettings = SignalSettings()
    model: ModelSettings = ModelSettings()
    worker: WorkerSettings = WorkerSettings()

    @model_validator(mode="after")
    def _hand_over_within_session(self) -> Settings:
        if self.worker.hand_over_timeout_s >= self.kafka.session_timeout_s:
            raise ValueError("worker.hand_over_timeout_s must be shorter than "
                             "kafka.session_timeout_s: a rebalance must not wait it out")
        return self

    @model_validator(mode="after")
    def _signals_share_the_activity_window(self) -> Settings:
        if "activity_window_days" not in self.signals.model_fields_set:
            self.signals = self.signals.model_copy(
                update={"activity_window_days": self.activity_window_days})
        return self

    @field_validator("reporting_timezone")
    @classmethod
    def _known_timezone(cls, name: str) -> str:
        try:
            zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"not an IANA time zone: {name!r}") from exc
        return name

    @property
    def run_file(self) -> Path:
        """Where `retention up` records the embedded broker and worker addresses."""
        return self.data_dir / "run.json"

    @property
    def table_dir(self) -> Path:
        return self.data_dir / "worker"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
