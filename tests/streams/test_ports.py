"""FaustConsumer.end_offset: the log end the watermark policy compares with what was taken in."""

from __future__ import annotations

from faust.types import TP

from streams.ports import FaustConsumer


class FakeFaustConsumer:
    """The two things of Faust's consumer end_offset reads: high watermarks, commits."""

    def __init__(self, highwaters: dict[TP, int | None], committed: dict[TP, int | None]
                 ) -> None:
        self.highwaters = highwaters
        self._committed_offset = committed

    def highwater(self, tp: TP) -> int | None:
        if tp not in self.highwaters:
            raise AssertionError("Partition is not assigned")  # as aiokafka does
        return self.highwaters[tp]


class FakeApp:
    def __init__(self, consumer: FakeFaustConsumer) -> None:
        self.consumer = consumer


def port(highwaters: dict[TP, int | None], committed: dict[TP, int | None]) -> FaustConsumer:
    return FaustConsumer(FakeApp(FakeFaustConsumer(highwaters, committed)))  # type: ignore[arg-type]


def test_the_log_end_is_the_high_watermark_while_messages_are_left_past_the_commit() -> None:
    """Unknown before the first fetch and for unassigned partitions; the high watermark while
    it is past the group's committed offset (or nothing was committed)."""
    a, b, c = TP("purchases", 0), TP("purchases", 1), TP("purchases", 2)
    consumer = port({a: None, b: 9, c: 9}, {b: 4})
    assert consumer.end_offset("purchases", 0) is None
    assert consumer.end_offset("purchases", 1) == 9
    assert consumer.end_offset("purchases", 2) == 9
    assert consumer.end_offset("purchases", 3) is None  # not assigned here


def test_a_partition_committed_up_to_its_end_reports_nothing_left() -> None:
    """After a restart at the committed end, nothing will be taken in from it: 0, as an
    empty partition, so it does not hold the watermark until it sends again."""
    tp = TP("survey-responses", 0)
    committed: dict[TP, int | None] = {tp: 7}
    consumer = port({tp: 7}, committed)
    assert consumer.end_offset("survey-responses", 0) == 0
    consumer.app.consumer.highwaters[tp] = 8  # type: ignore[attr-defined]  # one more sent
    assert consumer.end_offset("survey-responses", 0) == 8
    assert committed == {tp: 7}  # read, not written
