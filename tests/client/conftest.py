from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from tests.client.client_support import BASE, KEY, FakeTime

from klaviyo_connector.client import KlaviyoClient
from klaviyo_connector.keys import ApiKey


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def make_client(fake_time: FakeTime) -> Iterator[Callable[..., KlaviyoClient]]:
    clients: list[KlaviyoClient] = []

    def make(
        handler: Callable[[httpx.Request], httpx.Response], **kw: Any
    ) -> KlaviyoClient:
        kw.setdefault("clock", fake_time.clock)
        kw.setdefault("sleep", fake_time.sleep)
        client = KlaviyoClient(
            ApiKey(KEY), base_url=BASE, transport=httpx.MockTransport(handler), **kw
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()
