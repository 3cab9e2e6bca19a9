"""What the connector sends, recorded by the sandbox over two real syncs (a
first one and an incremental one after changes): every request is one the
spec allows, page sizes sit at each endpoint's cap, filter datetimes are UTC
with a Z, and `links.next` is followed exactly as given."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from tests.contract.spec_check import assert_request_valid
from tests.faults.support import (
    Exchange,
    RecordingSandbox,
    assert_converged,
    config,
    serve,
    small,
)

from klaviyo_connector.client.endpoints import ENDPOINTS, template_for
from klaviyo_connector.sync.engine import run_sync
from klaviyo_connector.sync.models import TABLES, RunRequest, RunResult, RunStatus

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("fault-requests")]

FILTER_TIME = re.compile(r"(?:greater|less)-than\(\w+,([^)]*)\)")
UTC_Z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


@dataclass
class Recorded:
    sandbox: RecordingSandbox
    first: list[Exchange]
    second: list[Exchange]
    results: tuple[RunResult, RunResult]


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Recorded]:
    """A first sync, then changes, then an incremental sync, all recorded. Half
    the records change, so the incremental reads of profiles, lists and
    segments span several filtered pages."""
    sandbox = RecordingSandbox(small(profiles=450, lists=35, segments=25))
    tmp_path: Path = tmp_path_factory.mktemp("recorded")
    with serve(sandbox) as running:
        cfg = config(running, tmp_path)
        first = run_sync(cfg, RunRequest(lookback_days=1))
        cut = len(sandbox.exchanges)
        sandbox.mutate(share=0.5)
        second = run_sync(cfg, RunRequest(lookback_days=1))
        assert_converged(cfg, sandbox, TABLES)
        yield Recorded(
            sandbox,
            sandbox.exchanges[:cut],
            sandbox.exchanges[cut : len(sandbox.exchanges)],
            (first, second),
        )


def test_both_syncs_succeeded_and_read_several_pages(recorded: Recorded) -> None:
    assert all(r.status == RunStatus.SUCCEEDED for r in recorded.results)
    followed = [e for e in recorded.first if "page%5Bcursor%5D" in e.url]
    assert len(followed) >= 6, "lists, segments and profiles span several pages"


def test_every_request_is_one_the_spec_allows(recorded: Recorded) -> None:
    for exchange in recorded.first + recorded.second:
        assert_request_valid(exchange.method, exchange.url, exchange.body)
        assert exchange.status == 200, (exchange.url, exchange.answer)


def test_page_sizes_sit_at_each_endpoints_cap(recorded: Recorded) -> None:
    seen: dict[str, set[int]] = {}
    for exchange in recorded.first + recorded.second:
        endpoint = ENDPOINTS.get(template_for(exchange.path))
        sizes = [int(v) for k, v in exchange.query if k == "page[size]"]
        if endpoint is None or endpoint.max_page_size is None:
            assert not sizes, exchange.url
            continue
        if exchange.method == "GET" and endpoint.path == exchange.path:
            seen.setdefault(endpoint.path, set()).update(sizes)
            assert sizes == [endpoint.max_page_size], exchange.url
    # Only the key check uses smaller pages, and it is not part of a sync.
    assert seen == {
        "/api/campaigns": {100},
        "/api/lists": {10},
        "/api/segments": {10},
        "/api/profiles": {100},
    }


def test_filter_datetimes_are_utc_with_a_z(recorded: Recorded) -> None:
    times = [
        moment
        for exchange in recorded.first + recorded.second
        for name, value in exchange.query
        if name == "filter"
        for moment in FILTER_TIME.findall(value)
    ]
    incremental = [
        value
        for exchange in recorded.second
        for name, value in exchange.query
        if name == "filter" and "greater-than(" in value
    ]
    # Every dimension endpoint of the second sync asked for changes only.
    assert {e.path for e in recorded.second if "greater-than" in e.url} == {
        "/api/campaigns",
        "/api/lists",
        "/api/segments",
        "/api/profiles",
    }
    assert incremental
    assert times
    for moment in times:
        assert UTC_Z.fullmatch(moment), moment
    for exchange in recorded.first + recorded.second:
        assert "%2B00%3A00" not in exchange.url
        assert "+00:00" not in exchange.url
        if exchange.body is not None:
            # Report bodies are JSON (no query-string `+` trouble) and carry the
            # account's wall clock, which Klaviyo reads in the account timezone.
            timeframe = exchange.body["data"]["attributes"]["timeframe"]
            for moment in (timeframe["start"], timeframe["end"]):
                sent = dt.datetime.fromisoformat(moment)
                local = sent.astimezone(ZoneInfo("America/New_York"))
                assert sent.utcoffset() == local.utcoffset(), moment


def _filter(url: str) -> list[str]:
    return [v for k, v in Exchange("GET", url, None).query if k == "filter"]


def test_links_next_is_requested_exactly_as_given(recorded: Recorded) -> None:
    exchanges = recorded.first + recorded.second
    requested = [e.url for e in exchanges]
    links = [e.next_link for e in exchanges if e.next_link]
    assert links
    for link in links:
        # Verbatim and once: the filter it carries is not added a second time.
        assert requested.count(link) == 1, link
    for exchange in exchanges:
        names = [name for name, _ in exchange.query]
        assert len(names) == len(set(names)), exchange.url
        if "page[cursor]" in names:
            assert exchange.url in links, exchange.url


def _chains(exchanges: list[Exchange]) -> list[list[Exchange]]:
    """Each filtered read, from its first request along the links it was given."""
    by_url = {e.url: e for e in exchanges}
    chains = []
    for start in exchanges:
        names = {name for name, _ in start.query}
        if "page[cursor]" in names or not _filter(start.url):
            continue
        chain = [start]
        while chain[-1].next_link in by_url:
            chain.append(by_url[chain[-1].next_link])
        chains.append(chain)
    return chains


def test_filtered_links_next_keep_their_filter_and_are_followed_verbatim(
    recorded: Recorded,
) -> None:
    """The incremental read follows links that already carry its filter."""
    incremental = [
        e for e in recorded.second if any("greater-than(" in f for f in _filter(e.url))
    ]
    chains = _chains(incremental)
    for path in ("/api/profiles", "/api/lists", "/api/segments"):
        longest = max(len(c) for c in chains if c[0].path == path)
        assert longest >= 2, f"{path}: the incremental read spans several pages"
    requested = [e.url for e in recorded.second]
    for chain in chains:
        (given,) = _filter(chain[0].url)
        for page in chain:
            assert _filter(page.url) == [given], page.url
            assert requested.count(page.url) == 1, page.url
            names = [name for name, _ in page.query]
            assert len(names) == len(set(names)), page.url
        assert chain[-1].next_link is None, "each read runs to its last page"
    # Every cursor page of the incremental sync is a link some page gave.
    followed = {id(page) for chain in chains for page in chain}
    assert all(id(e) in followed for e in incremental)
