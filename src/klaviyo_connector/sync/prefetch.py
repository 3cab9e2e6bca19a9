"""Reading ahead on a thread: Klaviyo pages keep arriving while a chunk loads.

    for rows in prefetched(read_rows(...), depth=32, name="read-profile"):
        ...  # a slow commit here no longer stalls the reads

A bounded queue between the two keeps memory flat: the reader waits once it is
`depth` items ahead. The reader's exceptions are raised in the consumer; a
consumer that stops early stops the reader too.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")

# How often a blocked reader looks whether the consumer has gone away.
_POLL_SECONDS = 0.1


@dataclass(frozen=True)
class _End:
    error: BaseException | None = None


@dataclass(frozen=True)
class _Item(Generic[T]):
    value: T


def offer(buffer: queue.Queue[Any], item: object, stop: threading.Event) -> bool:
    """Put `item` once there is room; False when the consumer has stopped."""
    while not stop.is_set():
        try:
            buffer.put(item, timeout=_POLL_SECONDS)
        except queue.Full:
            continue
        return True
    return False


def _produce(
    items: Iterator[T], buffer: queue.Queue[object], stop: threading.Event
) -> None:
    try:
        for value in items:
            if not offer(buffer, _Item(value), stop):
                return
        offer(buffer, _End(), stop)
    except BaseException as exc:  # handed to the consumer, which raises it
        offer(buffer, _End(exc), stop)
    finally:
        close = getattr(items, "close", None)
        if close is not None:
            close()


def prefetched(
    items: Iterator[T], *, depth: int, name: str
) -> Generator[T, None, None]:
    """`items`, produced on their own thread up to `depth` ahead."""
    buffer: queue.Queue[object] = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()
    reader = threading.Thread(
        target=_produce, args=(items, buffer, stop), name=name, daemon=True
    )
    reader.start()
    try:
        while True:
            item = buffer.get()
            if isinstance(item, _End):
                if item.error is not None:
                    raise item.error
                return
            assert isinstance(item, _Item)
            yield item.value
    finally:
        stop.set()
