"""The server's log: one line per Klaviyo request, keys and tokens masked."""

from __future__ import annotations

import logging

import pytest

from klaviyo_connector.client import KlaviyoClient
from klaviyo_connector.keys import ApiKey
from klaviyo_connector.logs import configure_logging as configure_cli_logging
from klaviyo_connector.service.command import QUIET_LIBRARIES, configure_logging


@pytest.fixture
def server_logging():
    """The service's logging set up for the test, the previous setup restored."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    levels = {n: logging.getLogger(n).level for n in QUIET_LIBRARIES}
    connector = logging.getLogger("klaviyo_connector")
    own = connector.handlers[:], connector.level, connector.propagate
    yield configure_logging
    connector.handlers[:], connector.level, connector.propagate = own
    root.handlers[:], _ = saved
    root.setLevel(saved[1])
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def test_each_klaviyo_request_is_logged_once(server_logging, capsys, sandbox):
    # A command line run earlier in the process leaves its own handler behind.
    configure_cli_logging(0)
    server_logging(False)
    with KlaviyoClient(ApiKey(sandbox.api_key), base_url=sandbox.base_url) as client:
        client.get("/api/accounts")
    lines = [
        line for line in capsys.readouterr().err.splitlines() if "/api/accounts" in line
    ]
    assert len(lines) == 1, lines
    assert "klaviyo_connector.client" in lines[0]
    assert sandbox.api_key not in lines[0]
