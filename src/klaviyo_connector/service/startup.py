"""What `serve` makes sure of before it builds anything: the data folder is its
own and the port is free. A second service over the same folder would mark
the first one's running syncs interrupted and schedule them twice."""

from __future__ import annotations

import errno
import fcntl
import os
import socket
from pathlib import Path
from typing import IO

from .crypto import ensure_private_dir

LOCK_FILE = "service.lock"


class CannotStart(Exception):
    """`serve` cannot start; the message is the one line it prints."""


def lock_data_dir(data_dir: Path) -> IO[str]:
    """Holds an exclusive lock on the data folder while the returned file is
    open; the operating system lets go of it when the process ends, however
    it ends, so a killed service never leaves a stale lock behind."""
    ensure_private_dir(data_dir)
    fd = os.open(data_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    handle = os.fdopen(fd, "r+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = handle.read().strip() or "unknown"
        handle.close()
        raise CannotStart(
            f"another klaviyo-connector serve is using {data_dir} (pid {holder}); "
            "stop it first, or pick another --data-dir"
        ) from None
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle


def listen(host: str, port: int) -> socket.socket:
    """The server's listening socket, bound as uvicorn would bind it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # An explicit IPPROTO_TCP lets asyncio set TCP_NODELAY on accepted
    # connections; without it every answer waits ~40 ms on delayed ACKs.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        reason = (exc.strerror or str(exc)).lower()
        advice = (
            "pick another --port"
            if exc.errno == errno.EADDRINUSE
            else "check --host and --port"
        )
        raise CannotStart(
            f"cannot listen on {host}:{port}: {reason}; {advice}"
        ) from None
    return sock
