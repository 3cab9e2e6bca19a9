"""Fewer garbage-collector passes while a sync runs.

A sync parses pages of JSON into short-lived dicts by the thousand. CPython
collects its youngest generation every 700 new containers, promoting whatever
page is half parsed at that moment; the promoted objects soon trigger full
collections that walk every object in the process, about sixteen per 100,000
profiles (a tenth of the CPU a sync spends). Collecting the youngest generation
every 100,000 containers lets each page die young instead, and the reader
collects it itself between pages (`collect_young`), when the page is gone.

The thresholds are process-wide: the first table read to start raises them
and the last one to finish puts back what it found.

Each commit ends with a full collection (dlt leaves its Arrow table in
reference cycles). Such a collection walks every object, and most of them are
the modules dlt, DuckDB and pyarrow bring: about 150,000 objects, 0.1 s a
pass. `freeze_startup` moves those, once per process, where no collection
looks, so a full pass walks only what the sync itself holds.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

YOUNG_THRESHOLD = 100_000

_lock = threading.Lock()
_running = 0
_saved: tuple[int, int, int] | None = None
_frozen = threading.Event()


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Raise the youngest generation's threshold for the duration."""
    global _running, _saved
    with _lock:
        if _running == 0:
            _saved = gc.get_threshold()
            young, middle, old = _saved
            gc.set_threshold(max(young, YOUNG_THRESHOLD), middle, old)
        _running += 1
    try:
        yield
    finally:
        with _lock:
            _running -= 1
            if _running == 0 and _saved is not None:
                gc.set_threshold(*_saved)
                _saved = None


def collect_young() -> None:
    """Free the youngest generation's cyclic garbage now. httpx keeps each
    response in a reference cycle with its body; with the raised threshold
    hundreds of 200 KB bodies would wait for a collection."""
    gc.collect(0)


def freeze_startup() -> None:
    """Once per process, when the loading libraries are imported: collect, then
    exempt every surviving object from later collections. Objects frozen still
    die as usual when their last reference goes; only a cycle among them
    would wait for the process to end, and startup's objects live that long."""
    with _lock:
        if _frozen.is_set():
            return
        _frozen.set()
    gc.collect()
    gc.freeze()
