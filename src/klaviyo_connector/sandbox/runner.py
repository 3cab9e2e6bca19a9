"""Serve a sandbox with uvicorn on a background thread (tests, demos, benchmarks)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import uvicorn

from klaviyo_connector.sandbox.config import SandboxConfig
from klaviyo_connector.sandbox.server import Sandbox

_START_TIMEOUT = 10.0


@dataclass(frozen=True)
class RunningSandbox:
    base_url: str  # scheme + host + port, without /api
    api_key: str
    sandbox: Sandbox


def bind(host: str, port: int) -> socket.socket:
    """A listening socket; port 0 picks a free port."""
    # An explicit IPPROTO_TCP lets asyncio set TCP_NODELAY on accepted
    # connections; without it every answer waits ~40 ms on delayed ACKs.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(2048)
    return sock


def make_server(sandbox: Sandbox, host: str, port: int) -> uvicorn.Server:
    config = uvicorn.Config(
        sandbox.app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="off",
        interface="asgi3",
        proxy_headers=False,
        timeout_keep_alive=30,
    )
    return uvicorn.Server(config)


@contextmanager
def serve_in_thread(
    config_or_sandbox: SandboxConfig | Sandbox | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
) -> Iterator[RunningSandbox]:
    """Run the sandbox until the block ends; yields where to reach it."""
    sandbox = (
        config_or_sandbox
        if isinstance(config_or_sandbox, Sandbox)
        else Sandbox(config_or_sandbox)
    )
    sock = bind(host, port)
    actual_port = sock.getsockname()[1]
    server = make_server(sandbox, host, actual_port)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="sandbox", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + _START_TIMEOUT
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise RuntimeError("the sandbox server did not start")
        time.sleep(0.01)
    try:
        yield RunningSandbox(
            f"http://{host}:{actual_port}", sandbox.config.api_key, sandbox
        )
    finally:
        server.should_exit = True
        thread.join(timeout=_START_TIMEOUT)
        sock.close()
