"""The collector's thresholds: raised while any sync runs, then restored."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from klaviyo_connector.sync.collector import YOUNG_THRESHOLD, fewer_collections


@pytest.fixture
def thresholds() -> Iterator[tuple[int, int, int]]:
    saved = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield gc.get_threshold()
    gc.set_threshold(*saved)


def test_raised_inside_and_restored_after(thresholds: tuple[int, int, int]) -> None:
    with fewer_collections():
        assert gc.get_threshold() == (YOUNG_THRESHOLD, 10, 10)
    assert gc.get_threshold() == thresholds


def test_overlapping_runs_restore_only_when_the_last_ends(
    thresholds: tuple[int, int, int],
) -> None:
    first, second = fewer_collections(), fewer_collections()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    assert gc.get_threshold()[0] == YOUNG_THRESHOLD
    second.__exit__(None, None, None)
    assert gc.get_threshold() == thresholds


def test_restored_when_the_run_fails(thresholds: tuple[int, int, int]) -> None:
    with pytest.raises(RuntimeError), fewer_collections():
        raise RuntimeError("boom")
    assert gc.get_threshold() == thresholds


FREEZE_PROBE = """
import gc
from klaviyo_connector.sync.collector import freeze_startup
import dlt, duckdb, pyarrow
freeze_startup()
frozen = gc.get_freeze_count()
freeze_startup()  # a second run in the same process freezes nothing more
again = gc.get_freeze_count()

class Node:
    pass

import weakref
a, b = Node(), Node()
a.other, b.other = b, a  # a cycle made after the freeze is still collected
gone = weakref.ref(a)
del a, b
gc.collect()
print(frozen, again, gone() is None, len(gc.get_objects()))
"""


def test_startup_objects_are_frozen_once_and_later_cycles_still_collected() -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", FREEZE_PROBE], capture_output=True, text=True, check=True
    )
    frozen, again, collected, walked = done.stdout.split()
    assert int(frozen) > 50_000, "the loading libraries' objects were not frozen"
    assert again == frozen
    assert collected == "True"
    assert int(walked) < int(frozen) // 10, "a full collection still walks them"
