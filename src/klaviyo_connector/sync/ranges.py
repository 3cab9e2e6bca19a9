"""Reading one table sorted by `updated` in several ranges at once.

Klaviyo answers a page of profiles in a few hundred milliseconds and its next
cursor is known only from that answer, so one chain of pages makes a few
requests a second while the endpoint allows 75. The window to read is
therefore cut into `updated` ranges, each read by its own chain on its own
thread:

- it starts as the ranges to read (one for a new window, several when an
  interrupted sync left some unfinished);
- a reader with nothing to do takes the range that has the most pages left
  (estimated from how much time its pages covered so far) and cuts it in two
  at a whole second: the running chain stops at the cut, a new chain reads
  from it;
- the cut always lies after every record the running chain has handed on, so
  the ranges never overlap and no record is read into two of them;
- ranges are cut only while fewer chains run than keep the endpoint's burst
  rate busy (the rate times a page's wait): a server that answers at once
  is read by two or three chains, Klaviyo by up to `readers`.

Each page goes on with a `Mark`: which range it belongs to, the `updated` of
its last record, and whether the range is finished. The loader keeps the
marks of what it committed and asks `remaining` for what an interrupted sync
must still read; the next sync reads exactly those ranges.
"""

from __future__ import annotations

import datetime as dt
import math
import queue
import threading
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from klaviyo_connector.load.state import Range
from klaviyo_connector.reports.base import (
    DimensionReport,
    Row,
    format_filter_time,
    index_included,
)
from klaviyo_connector.sync.prefetch import offer
from klaviyo_connector.sync.windows import BOUNDARY, all_of

if TYPE_CHECKING:
    from klaviyo_connector.client.jsonapi import Page
    from klaviyo_connector.sync.context import RunContext, TableRun

SECOND = dt.timedelta(seconds=1)
# A range is cut only when it has about this many pages left: each cut leaves
# one page that is not full, so small reads stay one chain.
MIN_SPLIT_PAGES = 16
_WAIT_SECONDS = 0.05


@dataclass(frozen=True)
class Mark:
    """Where one range stood once this page was read."""

    range_id: int
    position: dt.datetime | None  # `updated` of the page's last record
    finished: bool


@dataclass
class SlicePage:
    """One page's rows within its range, with what was left out."""

    rows: list[Row]
    mark: Mark
    read: int  # records Klaviyo returned
    repeated: int  # records from before the range (a boundary returned again)


@dataclass
class _Slice:
    id: int
    lower: dt.datetime | None  # records updated at or after this
    upper: dt.datetime | None  # the filter's upper end (None: none)
    stop: dt.datetime | None  # rows from here on belong to another range
    # The first range of an incremental window takes the boundary second too,
    # as a greater-than filter one second early asks for it.
    lenient: bool = False
    first: dt.datetime | None = None
    position: dt.datetime | None = None
    pages: int = 0
    started: bool = False
    done: bool = False

    def accepts(self, moment: dt.datetime | None) -> bool | None:
        """True inside the range, False before it, None from its stop on."""
        if moment is None:
            return self.lower is None
        if self.stop is not None and moment >= self.stop:
            return None
        if self.lower is None:
            return True
        return moment > self.lower - SECOND if self.lenient else moment >= self.lower

    def pages_left(self, horizon: dt.datetime) -> float:
        """How many pages from `position` to the stop, at the density so far."""
        if self.done or self.position is None or self.first is None:
            return 0.0
        end = self.stop or horizon
        if end <= self.position:
            return 0.0
        per_page = (self.position - self.first + SECOND) / self.pages
        return (end - self.position) / per_page

    def cut(self, horizon: dt.datetime) -> dt.datetime | None:
        """A whole second between position and stop, or None if there is none."""
        assert self.position is not None
        end = self.stop or horizon
        middle = self.position + (end - self.position) / 2
        whole = middle.replace(microsecond=0)
        if whole <= self.position:
            whole += SECOND
        return whole if whole < end else None


def _filter(
    report: DimensionReport, lower: dt.datetime | None, upper: dt.datetime | None
) -> str | None:
    """Klaviyo's filter for [lower, upper), `upper` a whole second; the lower
    end one second early, as the connector always asks, so none is missed."""
    field_name = report.cursor_field
    conditions = list(report.variants[0].conditions)
    if lower is not None:
        since = format_filter_time(lower - BOUNDARY)
        conditions.append(f"greater-than({field_name},{since})")
    if upper is not None:
        conditions.append(f"less-than({field_name},{format_filter_time(upper)})")
    return all_of(conditions)


@dataclass
class RangeReader:
    """Reads `ranges` of `report` on up to `readers` chains at once."""

    ctx: RunContext
    report: DimensionReport
    run: TableRun
    ranges: list[Range]
    readers: int
    # The latest `updated` the read expects: cuts are placed before it.
    horizon: dt.datetime
    # The window's own lower end takes its boundary second (incremental reads).
    lenient_lower: dt.datetime | None = None
    # Rows at or after this are left out (a historical range's end).
    stop: dt.datetime | None = None
    # The upper end a filter may carry: None once it would lie after the run's
    # start (what Klaviyo holds then is read, and checked against `stop`).
    latest: dt.datetime | None = None
    # Requests a second the endpoint allows in a burst.
    rate: float = 75.0
    _page_seconds: float | None = None  # a page's wait, smoothed
    _slices: dict[int, _Slice] = field(default_factory=dict)
    _pending: list[int] = field(default_factory=list)
    _lock: threading.Condition = field(default_factory=threading.Condition)
    _closing: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        assert len(self.report.variants) == 1, "ranges read one variant"
        for lower, upper in sorted(self.ranges, key=_lower_key):
            stop = (
                upper if self.stop is None or upper is None else min(upper, self.stop)
            )
            stop = stop if stop is not None else self.stop
            lenient = lower is not None and lower == self.lenient_lower
            self._add(lower, self._filter_upper(stop), stop, lenient=lenient)

    def _filter_upper(self, stop: dt.datetime | None) -> dt.datetime | None:
        """The filter's upper end for rows before `stop`: a whole second, and
        none where that would lie after the run's start (the rows are checked
        against `stop` anyway)."""
        if stop is None:
            return None
        until = stop if stop.microsecond == 0 else stop.replace(microsecond=0) + SECOND
        return None if self.latest is not None and until > self.latest else until

    def _add(
        self,
        lower: dt.datetime | None,
        upper: dt.datetime | None,
        stop: dt.datetime | None,
        *,
        lenient: bool = False,
    ) -> _Slice:
        piece = _Slice(len(self._slices), lower, upper, stop, lenient)
        self._slices[piece.id] = piece
        self._pending.append(piece.id)
        return piece

    # -- what the loader asks --------------------------------------------------

    def remaining(self, committed: dict[int, Mark]) -> tuple[Range, ...]:
        """The ranges still to read once the pages behind `committed` are in:
        each unfinished range from its last committed record on."""
        left = []
        with self._lock:
            for piece in self._slices.values():
                mark = committed.get(piece.id)
                if mark is not None and mark.finished:
                    continue
                lower = piece.lower
                if mark is not None and mark.position is not None:
                    # A page of only repeated boundary records ends before
                    # the range begins: never resume into the range before.
                    lower = (
                        mark.position if lower is None else max(mark.position, lower)
                    )
                left.append((lower, piece.stop))
        return tuple(sorted(left, key=_lower_key))

    # -- reading ---------------------------------------------------------------

    def pages(self) -> Generator[SlicePage, None, None]:
        """Every range's pages as they arrive, interleaved; a reader's error is
        raised here, and closing this stops every reader."""
        out: queue.Queue[SlicePage | BaseException | None] = queue.Queue(
            maxsize=self.readers + 4
        )
        threads = [
            threading.Thread(
                target=self._reader,
                args=(out,),
                name=f"read-{self.report.table}-{n}",
                daemon=True,
            )
            for n in range(max(1, self.readers))
        ]
        for thread in threads:
            thread.start()
        running = len(threads)
        try:
            while running:
                item = out.get()
                if item is None:
                    running -= 1
                elif isinstance(item, BaseException):
                    raise item
                else:
                    yield item
        finally:
            self._closing.set()
            with self._lock:
                self._lock.notify_all()

    def _offer(
        self,
        out: queue.Queue[SlicePage | BaseException | None],
        item: SlicePage | BaseException | None,
    ) -> bool:
        return offer(out, item, self._closing)

    def _reader(self, out: queue.Queue[SlicePage | BaseException | None]) -> None:
        try:
            while (piece := self._next()) is not None:
                if not self._read(piece, out):
                    return
        except BaseException as exc:  # handed to the consumer, which raises it
            self._offer(out, exc)
            return
        self._offer(out, None)

    def _next(self) -> _Slice | None:
        """A range to read: one waiting, else a cut of the longest running one;
        None once every range is done or the read stops."""
        with self._lock:
            while not self._closing.is_set():
                running = [p for p in self._slices.values() if p.started and not p.done]
                if not self._pending and not running:
                    return None
                if not self._pending:
                    self._split(running)
                if self._pending:
                    piece = self._slices[self._pending.pop(0)]
                    piece.started = True
                    return piece
                self._lock.wait(_WAIT_SECONDS)
        return None

    def _split(self, running: list[_Slice]) -> _Slice | None:
        if len(running) >= self._chains_wanted():
            return None
        longest = max(running, key=lambda p: p.pages_left(self.horizon))
        if longest.pages_left(self.horizon) < MIN_SPLIT_PAGES:
            return None
        at = longest.cut(self.horizon)
        if at is None:
            return None
        upper = self._filter_upper(longest.stop)
        piece = self._add(at, upper, longest.stop)
        longest.stop = at
        return piece

    def _read(
        self, piece: _Slice, out: queue.Queue[SlicePage | BaseException | None]
    ) -> bool:
        report, client = self.report, self.ctx.client
        params = {**report.params, "page[size]": str(report.page_size)}
        condition = _filter(report, piece.lower, piece.upper)
        if condition:
            params["filter"] = condition
        pages = client.paginate(report.endpoint, params, shape=report.page_shape)
        try:
            return self._follow(piece, pages, out)
        finally:  # a chain that stops early lets go of its connection
            close = getattr(pages, "close", None)
            if close is not None:
                close()

    def _follow(
        self,
        piece: _Slice,
        pages: Iterator[Page],
        out: queue.Queue[SlicePage | BaseException | None],
    ) -> bool:
        report, variant = self.report, self.report.variants[0]
        while True:
            began = time.monotonic()
            page = next(pages, None)
            if page is None:
                return True
            self._timed(time.monotonic() - began)
            included = index_included(page.included)
            rows = [report.to_row(resource, included) for resource in page.data]
            for row in rows:
                row.update(variant.extra)
            moments = [row[report.cursor_field] for row in rows]
            with self._lock:
                kept, repeated = [], 0
                for row, moment in zip(rows, moments, strict=True):
                    inside = piece.accepts(moment)
                    if inside:
                        kept.append(row)
                    elif inside is False:
                        repeated += 1
                last = moments[-1] if moments else None
                if last is not None:
                    piece.first = piece.first or moments[0]
                    piece.position = max(piece.position or last, last)
                piece.pages += 1
                reached = (
                    piece.stop is not None and last is not None and last >= piece.stop
                )
                piece.done = page.next_url is None or not page.data or reached
                mark = Mark(piece.id, piece.position, piece.done)
                if piece.done:  # idle readers look for a cut on their own
                    self._lock.notify_all()
            if not self._offer(out, SlicePage(kept, mark, len(rows), repeated)):
                return False
            self.run.step()
            if mark.finished:
                return True

    def _timed(self, seconds: float) -> None:
        with self._lock:
            last = self._page_seconds
            self._page_seconds = seconds if last is None else 0.8 * last + 0.2 * seconds

    def _chains_wanted(self) -> int:
        """Chains that keep the endpoint's burst rate busy: as many as pages
        arrive during one page's wait (Little's law), with a margin. A server
        that answers at once needs two or three, not `readers` threads
        contending for the interpreter."""
        if self._page_seconds is None:
            return 2
        return math.ceil(self.rate * self._page_seconds * 1.25) + 1


def _lower_key(each: Range) -> dt.datetime:
    return each[0] or dt.datetime.min.replace(tzinfo=dt.UTC)
