"""Batch intake: Faust's consumer, handing the input topics to the agent a batch at a time.

Faust delivers every message on its own trip through the conductor, a channel queue and
the stream iterator (`wait_first` alone creates two futures per message): about 70 µs per
event on these machines, more than all of the worker's rules together. This consumer keeps
everything else of Faust's (group membership, assignment, flow control during rebalances,
acknowledgement bookkeeping and commits, table changelogs and recovery) and only changes
the last step for the input topics: the messages of each fetch are collected and sent, as
one list, to a channel that the agent iterates. Other topics (table changelogs, standbys)
take Faust's usual per-message path.

The app picks this consumer through its broker URL: `retention-kafka://host:port` names
`BatchingTransport` (registered as a `faust.transports` entry point in pyproject.toml),
Faust's aiokafka transport with `Consumer = BatchingConsumer`. Which topics are batched and
where batches go is configured per app with `install()`.

A message is acknowledged by its owner (`message.ack(consumer)`) once its effects are
durable; until then Faust commits no offset past it.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

import faust
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread, Consumer, Transport
from faust.types import AppT, Message

from retention.settings import Settings
from streams.broker_compat import LiveConsumerThread, TansuConsumerThread

Deliver = Callable[[list[Message]], Awaitable[None]]


@dataclass(frozen=True)
class IntakeConfig:
    topics: frozenset[str]
    deliver: Deliver
    batch_max: int
    batch_within_s: float
    settings: Settings


_configs: WeakKeyDictionary[AppT, IntakeConfig] = WeakKeyDictionary()


def install(app: AppT, topic: faust.TopicT, deliver: Deliver, settings: Settings) -> None:
    """Subscribe `app` to `topic` through batch intake: `deliver` receives lists of messages,
    at most `RETENTION_SINK__BATCH_MAX_EVENTS` long or `__FLUSH_INTERVAL_S` old.

    Call before the worker starts (the consumer reads this when it starts fetching).
    """
    _configs[app] = IntakeConfig(frozenset(topic.topics), deliver,
                                 settings.sink.batch_max_events,
                                 settings.sink.flush_interval_s, settings)
    app.topics.add(topic)


class BatchingConsumer(Consumer):
    """`Consumer` whose fetch loop batches the messages of the installed topics."""

    def _new_consumer_thread(self) -> AIOKafkaConsumerThread:
        config = _configs.get(self.app)
        if config is None:
            return super()._new_consumer_thread()
        kind = TansuConsumerThread if config.settings.kafka.uses_tansu else LiveConsumerThread
        thread = kind(self, loop=self.loop, beacon=self.beacon)
        thread.settings = config.settings
        return thread

    async def _drain_messages(self, fetcher: Any) -> None:  # pragma: no cover (Faust loop)
        # Faust's loop (Consumer._drain_messages + Consumer.getmany) with its checks made
        # once per partition per fetch instead of once per record. Stopping and error
        # handling as in Faust: a broker-stopped consumer during shutdown ends quietly.
        callback = self.callback
        consumer_should_stop = self._stopped.is_set
        fetcher_should_stop = fetcher._stopped.is_set
        read_offsets = self._read_offset
        acks_enabled_for = self.app.topics.acks_enabled_for
        config = _configs[self.app]
        batch_topics, batch_max, batch_within_s = (config.topics, config.batch_max,
                                                   config.batch_within_s)
        to_message = self._to_message
        batch: list[Message] = []
        batch_started = 0.0
        batch_generation = -1
        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                # While a batch is open, wait for more data no longer than its time bound.
                timeout = 1.0
                if batch:
                    timeout = max(0.0, batch_started + batch_within_s - time.monotonic())
                await self.sleep(0)
                if self.should_stop:
                    break
                generation = self.app.consumer_generation_id
                records, active = await self._wait_next_records(timeout)
                if self.should_stop:
                    break
                if batch and batch_generation != self.app.consumer_generation_id:
                    # Taken before a rebalance: drop it unacknowledged, whoever owns these
                    # partitions now re-reads them from the committed offsets.
                    batch = []
                if records and not self.flow_active:
                    await self.perform_seek()  # as Faust does: back to committed offsets
                    records = {}
                # Round-robin over partitions (Faust's scheduler), so that every partition's
                # watermark moves, with the partition checks done once per fetch.
                allowed: dict[Any, bool] = {}
                for tp, record in self.scheduler.iterate(records or {}):
                    ok = allowed.get(tp)
                    if ok is None:
                        ok = allowed[tp] = (active is None or tp in active
                                            or tp in self._buffered_partitions)
                        if ok:
                            self.app.monitor.track_tp_end_offset(tp, self.highwater(tp))
                    if not ok:
                        continue
                    offset = record.offset
                    r_offset = read_offsets[tp]
                    if r_offset is not None and offset < r_offset:
                        continue  # already read before a seek: Faust drops these too
                    if r_offset and offset - r_offset > 1 and acks_enabled_for(tp.topic):
                        await self._add_gap(tp, r_offset + 1, offset)
                    message = to_message(tp, record)
                    if tp.topic in batch_topics:
                        if not batch:
                            batch_started = time.monotonic()
                            batch_generation = generation
                        batch.append(message)
                        read_offsets[tp] = offset
                        if len(batch) >= batch_max:
                            batch = await self._deliver(batch)
                    else:
                        await self.wait_first(callback(message), self.suspend_flow.wait())
                        read_offsets[tp] = offset
                    if not self.flow_active or self.app.consumer_generation_id != generation:
                        break  # a rebalance meanwhile: the rest is re-read by its owner
                if batch and (time.monotonic() - batch_started >= batch_within_s
                              or self._read_to_end(records)):
                    batch = await self._deliver(batch)
        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                self.log.info("Broker stopped consumer, shutting down...")
                return
            raise

    def _read_to_end(self, records: Any) -> bool:
        """Every partition of this fetch is read up to its high watermark (as of the latest
        fetch response): nothing more is waiting, so the batch goes now instead of at its
        time bound. Live events then wait for no one; a backlog still fills whole batches."""
        if not records:
            return False
        read_offsets = self._read_offset
        for tp in records:
            end = self.highwater(tp)
            read = read_offsets[tp]
            if end is None or read is None or read + 1 < end:
                return False
        return True

    async def _deliver(self, batch: list[Message]) -> list[Message]:
        # A rebalance suspends the flow: the batch is then dropped, unacknowledged, and
        # Faust re-reads from the committed offsets of whoever owns it next.
        await self.wait_first(_configs[self.app].deliver(batch), self.suspend_flow.wait())
        return []



class BatchingTransport(Transport):
    """Faust's aiokafka transport with batch intake."""

    Consumer = BatchingConsumer
