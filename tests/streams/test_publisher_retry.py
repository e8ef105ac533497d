"""BatchPublisher: a transient Kafka error sends the records again; any other stops."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError, MessageSizeTooLargeError, NotLeaderForPartitionError

from streams.outputs import BatchPublisher


@dataclass
class Rec:
    topic: str
    key: bytes
    value: bytes


class FlakyBroker:
    """Fault injection: the first `failures` batches sent fail with `error` (as aiokafka
    reports a batch it gave up on); the others are appended to their partition's log."""

    def __init__(self, failures: int, error: type[KafkaError]) -> None:
        self.producer = AIOKafkaProducer(bootstrap_servers="127.0.0.1:9")  # never started
        self.failures, self.error = failures, error
        self.logs: dict[tuple[str, int], list[bytes]] = {}
        self.sends = 0

    def create_batch(self) -> Any:
        return self.producer.create_batch()

    async def send_batch(self, batch: Any, topic: str, *, partition: int) -> Any:
        self.sends += 1
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if self.sends <= self.failures:
            future.set_exception(self.error())
            return future
        log = self.logs.setdefault((topic, partition), [])
        future.set_result(type("Meta", (), {"offset": len(log)})())
        log.extend(b"x" * batch.record_count())  # one entry per record
        return future

    async def partitions_for(self, topic: str) -> set[int]:
        return {0, 1}


RECORDS = [Rec("churn-risk", f"c{i}".encode(), b"{}") for i in range(6)]


def test_a_batch_given_up_on_with_no_leader_is_sent_again_until_written(
        caplog: pytest.LogCaptureFixture) -> None:
    """NotLeaderForPartitionError (aiokafka's error for a batch whose partition had no known
    leader for its delivery timeout) does not fail the publish: every record is sent again
    and the offsets returned are where the broker finally has them."""
    async def scenario() -> tuple[FlakyBroker, dict[tuple[str, int], int]]:
        broker = FlakyBroker(failures=3, error=NotLeaderForPartitionError)
        last = await BatchPublisher(broker, retry_s=0.01).publish(
            RECORDS, partitions=[0, 0, 0, 1, 1, 1])
        return broker, last

    broker, last = asyncio.run(scenario())
    # Attempt 1: both batches fail; attempt 2: partition 0's fails, partition 1's is
    # written; attempt 3: both are written (partition 1's records twice: at least once).
    assert broker.sends == 2 + 2 + 2
    assert {tp: len(log) for tp, log in broker.logs.items()} == {
        ("churn-risk", 1): 6, ("churn-risk", 0): 3}
    assert last == {("churn-risk", 0): 2, ("churn-risk", 1): 5}
    assert caplog.text.count("sending them again") == 2


def test_an_error_that_is_not_transient_fails_the_publish_at_once() -> None:
    """A record the broker refuses (too large) is not sent again: the worker stops on it."""
    async def scenario() -> None:
        broker = FlakyBroker(failures=1, error=MessageSizeTooLargeError)
        with pytest.raises(MessageSizeTooLargeError):
            await BatchPublisher(broker, retry_s=0.01).publish(RECORDS, partitions=[0] * 6)
        assert broker.sends == 1

    asyncio.run(scenario())
