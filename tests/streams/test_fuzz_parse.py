"""Property-based fuzzing of the parse path (hypothesis): random bytes and random JSON near
the event schemas. Every message yields either a valid event or exactly one dead letter
with a reason (or, misplaced, one re-routed copy); never an exception, never two of them;
and a processor's offered messages equal its applied plus dead-lettered ones."""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from retention.settings import Settings
from schemas import ChurnRiskAlert, DeadLetter, Milestone
from streams.outputs import partition_for
from streams.processor import BatchResult, InMessage, StreamProcessor
from streams.processor.dead_letters import RECORD_OVERHEAD, DeadLetters
from streams.processor.parse import EventParser
from streams.signals.engine import SignalEngine

PARTITIONS = 4
LIMIT = 65_536  # small, so that oversized messages are cheap to generate
NOW = datetime(2026, 12, 1, tzinfo=UTC)
TOPICS = {"purchases": "purchase", "support-events": "support", "survey-responses": "survey"}
SETTINGS = Settings(kafka={"partitions": PARTITIONS,  # type: ignore[arg-type]
                           "max_message_bytes": LIMIT},
                    signals={"live_watermark": False})  # type: ignore[arg-type]
FUZZ = settings(max_examples=300, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

VALID: dict[str, dict[str, Any]] = {
    "purchase": {"event_id": "e1", "customer_id": "c1", "occurred_at": "2026-06-01T10:00:00Z",
                 "order_id": "o1", "amount": 25.5, "currency": "EUR", "items": 2,
                 "channel": "web", "kind": "order"},
    "support": {"event_id": "e2", "customer_id": "c1", "occurred_at": "2026-06-01T10:00:00Z",
                "ticket_id": "t1", "action": "opened", "channel": "email"},
    "survey": {"event_id": "e3", "customer_id": "c1", "occurred_at": "2026-06-01T10:00:00Z",
               "survey": "nps", "score": 7},
}
FIELDS = sorted({f for body in VALID.values() for f in body} | {"type", "source", "comment",
                                                                "schema_version"})

# --- strategies ---------------------------------------------------------------------------
def repeated(pattern: st.SearchStrategy[Any], low: int, high: int) -> st.SearchStrategy[Any]:
    """A short random pattern repeated to a length in [low, high]: large inputs, drawn fast."""
    return st.tuples(pattern, st.integers(low, high)).map(
        lambda t: (t[0] * (t[1] // len(t[0]) + 1))[:t[1]])


odd_numbers = st.sampled_from([math.nan, math.inf, -math.inf, 1e308, -1e308, -0.0, 5e-324,
                               10 ** 400, -1, 0, 2 ** 63])
scalars = st.one_of(st.none(), st.booleans(), st.integers(), odd_numbers,
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=40),
                    repeated(st.text(min_size=1, max_size=8), 5_000, 80_000))
# Nesting deeper than any JSON parser's recursion limit: drawn as a depth, written into the
# JSON text by near_schema (json.dumps itself would hit Python's recursion limit).
DEEP = "\u0000deep:"
values = st.one_of(scalars, st.lists(scalars, max_size=4),
                   st.dictionaries(st.text(max_size=8), scalars, max_size=4),
                   st.integers(1, 5000).map(lambda depth: f"{DEEP}{depth}"))
moments = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30),
                       timezones=st.just(UTC))
stamps = st.one_of(
    moments.map(lambda d: d.isoformat().replace("+00:00", "Z")),
    st.floats(-4e9, 4e9).map(lambda s: (NOW + timedelta(seconds=s)).isoformat()),
    # around the bounds: now + the one-day skew, and the 2000-01-01 floor
    st.floats(-1e9, 2e5).map(lambda s: (NOW + timedelta(seconds=s)).isoformat()),
    st.sampled_from(["9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "1970-01-01T00:00:00Z",
                     "2026-13-01T00:00:00Z", "2026-06-01", "2026-06-01T10:00:00",
                     "2026-06-01T10:00:00+25:00", ""]),
)


@st.composite
def near_schema(draw: st.DrawFn) -> tuple[str, bytes]:
    """(topic, JSON bytes): a valid event of some family (mostly on its own topic), then a
    few random mutations."""
    family = draw(st.sampled_from(sorted(VALID)))
    body: dict[str, Any] = dict(VALID[family])
    own_topic = next(t for t, f in TOPICS.items() if f == family)
    topic = draw(st.sampled_from([own_topic] * 4 + sorted(TOPICS)))
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 1, 2, 3]))):
        action = draw(st.sampled_from(["drop", "set", "extra", "time"]))
        if action == "drop" and body:
            body.pop(draw(st.sampled_from(sorted(body))))
        elif action == "set":
            body[draw(st.sampled_from(FIELDS))] = draw(values)
        elif action == "extra":
            body[draw(st.text(min_size=1, max_size=20))] = draw(values)
        else:
            body["occurred_at"] = draw(stamps)
    deep = r'"\\u0000deep:(\d+)"'  # DEEP as json.dumps writes it
    text = re.sub(deep, lambda m: "[" * int(m[1]) + "]" * int(m[1]),
                  json.dumps(body, allow_nan=True))
    raw = text.encode()
    splice = draw(st.sampled_from(["none"] * 4 + ["invalid-utf8", "truncate", "pad"]))
    if splice == "invalid-utf8":
        at = draw(st.integers(0, len(raw)))
        raw = raw[:at] + draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80"])) + raw[at:]
    elif splice == "truncate":
        raw = raw[:draw(st.integers(0, len(raw)))]
    elif splice == "pad":  # valid JSON over the size limit
        raw = raw[:-1] + b" " * LIMIT + raw[-1:]
    return topic, raw


keys = st.one_of(st.none(), st.just(b"c1"), st.binary(max_size=64),
                 repeated(st.binary(min_size=1, max_size=8), LIMIT, LIMIT + 10))


# --- the property -------------------------------------------------------------------------
def assert_subscribers_can_read(topic: str, value: bytes) -> None:
    """Whatever came in, what goes out validates against the published contract (two 1e308
    amounts once made revenue inf, serialised as null)."""
    model = {"churn-risk": ChurnRiskAlert, "milestones": Milestone,
             "dead-letter": DeadLetter}[topic]
    model.model_validate_json(value)


def parse_one(topic: str, value: bytes | None, key: bytes | None,
              partition: int) -> tuple[Any, BatchResult]:
    parser = EventParser(SETTINGS, DeadLetters(SETTINGS.kafka))
    result = BatchResult()
    msg = InMessage(topic, partition, 7, key, value, handle="h")
    return parser.parse(msg, result, NOW, NOW.timestamp()), result


def assert_one_outcome(pending: Any, result: BatchResult) -> str:
    """Exactly one of: an event (one raw row), a dead letter, a re-routed copy."""
    rows = {t: len(r) for t, r in result.rows.rows.items()}
    if pending is not None:
        assert sum(rows.values()) == 1 and not result.messages and result.done == []
        outcome = "event"
    else:
        assert result.done == ["h"] and len(result.messages) == 1
        (out,) = result.messages
        if result.rerouted:
            assert (result.rerouted, result.dead_letters, rows) == (1, 0, {})
            outcome = "rerouted"
        else:
            assert result.dead_letters == 1 and rows == {"dead_letters": 1}
            assert len(out.key) + len(out.value) <= LIMIT - RECORD_OVERHEAD
            letter = DeadLetter.model_validate_json(out.value)
            assert letter.reason.strip() and letter.offset == 7
            outcome = f"dead letter: {letter.stage}"
    event(outcome)  # --hypothesis-show-statistics shows how often each outcome was reached
    return outcome


@FUZZ
@given(topic=st.sampled_from([*TOPICS, "orders"]),
       value=st.one_of(st.none(), st.binary(max_size=2_000),
                       repeated(st.binary(min_size=1, max_size=8), LIMIT - 100, LIMIT + 100)),
       key=keys, partition=st.integers(0, PARTITIONS - 1))
def test_random_bytes_yield_one_outcome(topic: str, value: bytes | None, key: bytes | None,
                                        partition: int) -> None:
    """Any bytes, any key, any partition: one outcome, no exception."""
    assert_one_outcome(*parse_one(topic, value, key, partition))


# Mostly keyed and placed as producers do (customer "c1"), so the later checks are reached.
placements = st.one_of(st.just((b"c1", partition_for(b"c1", PARTITIONS))),
                       st.just((b"c1", partition_for(b"c1", PARTITIONS))),
                       st.tuples(keys, st.integers(0, PARTITIONS - 1)))


@settings(FUZZ, max_examples=600)
@given(message=near_schema(), placement=placements)
def test_json_near_the_schema_yields_one_outcome(message: tuple[str, bytes],
                                                 placement: tuple[bytes | None, int]) -> None:
    """Missing and extra fields, wrong types, NaN, 1e308, huge strings, deep nesting,
    invalid UTF-8, far times: one outcome, no exception; an event only when the bytes are
    a valid event of the topic, keyed and placed right, within the event-time bounds."""
    topic, raw = message
    key, partition = placement
    pending, result = parse_one(topic, raw, key, partition)
    if assert_one_outcome(pending, result) == "event":
        event = pending.event
        assert key == event.customer_id.encode()
        assert partition == partition_for(key, PARTITIONS)
        assert SETTINGS.signals.min_event_time <= event.occurred_at
        assert event.occurred_at <= NOW + timedelta(seconds=SETTINGS.signals.max_future_skew_s)
        assert len(raw) + len(key) <= LIMIT


@FUZZ
@given(st.data())
def test_a_valid_event_placed_right_is_always_accepted(data: st.DataObject) -> None:
    """The oracle's other side: an unmutated event, at any time within the bounds, keyed
    by its customer_id in its partition, is an event, never a dead letter."""
    family = data.draw(st.sampled_from(sorted(VALID)))
    topic = next(t for t, f in TOPICS.items() if f == family)
    when = data.draw(st.datetimes(min_value=datetime(2000, 1, 1),
                                  max_value=datetime(2026, 12, 1, 23, 59), timezones=st.just(UTC)))
    cid = data.draw(st.text(min_size=1, max_size=128))
    body = {**VALID[family], "customer_id": cid, "occurred_at": when.isoformat()}
    key = cid.encode()
    pending, result = parse_one(topic, json.dumps(body).encode(), key,
                                partition_for(key, PARTITIONS))
    assert assert_one_outcome(pending, result) == "event"


@settings(FUZZ, max_examples=80)
@given(st.lists(st.tuples(near_schema(), st.booleans()), min_size=1, max_size=40),
       st.integers(1, 10))
def test_offered_equals_applied_plus_dead_lettered(
        messages: list[tuple[tuple[str, bytes], bool]], batch: int) -> None:
    """A processor fed fuzzed messages, some keyless or misplaced, with every re-routed copy
    delivered back as the broker would place it: each message is acknowledged exactly once,
    and every one offered ends up applied or dead-lettered (offered = applied +
    dead-lettered), none lost in a hop."""
    proc = StreamProcessor(SETTINGS, SignalEngine(SETTINGS.signals), lambda *_: None,
                           wall_time=NOW.timestamp)
    queue = []
    for n, ((topic, raw), keyed) in enumerate(messages):
        try:
            cid = json.loads(raw)["customer_id"]
            key: bytes | None = cid.encode() if keyed and isinstance(cid, str) else None
        except Exception:
            key = None
        # Keyed ones where the key maps; keyless ones anywhere, as such producers do.
        partition = partition_for(key, PARTITIONS) if key is not None else n % PARTITIONS
        queue.append(InMessage(topic, partition, n, key, raw, handle=n))
    offered = len(queue)
    done: Counter[Any] = Counter()
    copies = 0
    while queue:
        taken, queue = queue[:batch], queue[batch:]
        result = proc.process(taken)
        done.update(result.done)
        for out in result.messages:
            if out.topic in TOPICS:  # a re-routed copy: back in as the broker places it
                queue.append(InMessage(out.topic, partition_for(out.key, PARTITIONS),
                                       offered + copies, out.key, out.value,
                                       handle=offered + copies))
                copies += 1
            else:
                assert_subscribers_can_read(out.topic, out.value)
    final = proc.drain(NOW.timestamp() + 86_400)
    for out in final.messages:
        assert_subscribers_can_read(out.topic, out.value)
    done.update(final.done)
    assert done == Counter(range(offered + copies))
    c = proc.counters
    assert c["rerouted"] == copies and c["processing_errors"] == 0
    assert c["events"] + c["dead_letters"] == offered
