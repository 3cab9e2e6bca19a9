"""Reading ahead on a thread: order kept, bounded, errors and early stops."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import closing

import pytest

from klaviyo_connector.errors import AuthenticationError
from klaviyo_connector.sync.prefetch import prefetched


def counting(produced: list[int], upto: int) -> Iterator[int]:
    for n in range(upto):
        produced.append(n)
        yield n


def wait_for(condition: object, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.01)


def test_items_arrive_in_order_and_all_of_them() -> None:
    produced: list[int] = []
    assert list(prefetched(counting(produced, 500), depth=4, name="t")) == list(
        range(500)
    )


def test_the_reader_stays_at_most_depth_items_ahead() -> None:
    produced: list[int] = []
    items = prefetched(counting(produced, 1000), depth=8, name="t")
    assert next(items) == 0
    wait_for(lambda: len(produced) >= 10)
    time.sleep(0.2)  # give a runaway reader every chance to run ahead
    # one handed over, eight queued, one produced and waiting for room
    assert len(produced) <= 10
    items.close()


def test_a_reader_error_is_raised_in_the_consumer_with_its_type() -> None:
    def failing() -> Iterator[int]:
        yield 1
        raise AuthenticationError("rejected", status=401)

    items = prefetched(failing(), depth=2, name="t")
    assert next(items) == 1
    with pytest.raises(AuthenticationError, match="rejected"):
        next(items)


def test_a_consumer_that_stops_early_stops_the_reader() -> None:
    produced: list[int] = []
    closed = threading.Event()

    def endless() -> Iterator[int]:
        try:
            n = 0
            while True:
                produced.append(n)
                yield n
                n += 1
        finally:
            closed.set()

    with closing(prefetched(endless(), depth=2, name="t")) as items:
        assert next(items) == 0
    assert closed.wait(5.0), "the reader kept its source open"
    count = len(produced)
    time.sleep(0.2)
    assert len(produced) == count
