"""How many 100-profile pages per minute the sandbox serves (not a test).

Starts the sandbox (its own process by default, as `klaviyo-connector sandbox`
would run) with rate limits off, then walks /api/profiles with subscriptions on
1-2 client threads for a fixed time and prints pages/minute beside the target
(2,000 pages/minute, so the sandbox never limits a benchmark of the connector)
with "met" or "MISSED". It is a benchmark to read, not a test: nothing fails.

    python bench/sandbox_throughput.py --profiles 100000 --seconds 20 --threads 2
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from klaviyo_connector.sandbox import (
    DEFAULT_SANDBOX_KEY,
    SandboxConfig,
    serve_in_thread,
)

TARGET_PAGES_PER_MINUTE = 2_000
PARAMS = {"page[size]": "100", "additional-fields[profile]": "subscriptions"}
HEADERS = {
    "Authorization": f"Klaviyo-API-Key {DEFAULT_SANDBOX_KEY}",
    "revision": "2026-07-15",
    "accept": "application/json",
}
_SERVE = (
    "import typer\n"
    "from klaviyo_connector.sandbox.command import sandbox_command\n"
    "typer.run(sandbox_command)\n"
)


@contextmanager
def sandbox_process(profiles: int, prebuild: bool) -> Iterator[str]:
    args = [sys.executable, "-c", _SERVE, "--port", "0", "--profiles", str(profiles)]
    args += ["--prebuild"] if prebuild else []
    process = subprocess.Popen(
        [*args, "--rate-limits", "off"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        yield first.split(" on ", 1)[1].split()[0]
    finally:
        process.terminate()
        process.wait(timeout=10)


@contextmanager
def sandbox_thread(profiles: int, prebuild: bool) -> Iterator[str]:
    config = SandboxConfig(profiles=profiles, rate_limits=False, prebuild=prebuild)
    with serve_in_thread(config) as running:
        yield running.base_url


def walk(base_url: str, deadline: float, counts: list[int], index: int) -> None:
    with httpx.Client(headers=HEADERS, timeout=60) as client:
        url: str | None = None
        while time.monotonic() < deadline:
            if url is None:
                response = client.get(base_url + "/api/profiles", params=PARAMS)
            else:
                response = client.get(url)
            page = response.raise_for_status().json()
            assert len(page["data"]) <= 100
            counts[index] += 1
            url = page["links"]["next"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--threads", type=int, default=2, choices=(1, 2))
    parser.add_argument(
        "--in-thread", action="store_true", help="serve in this process"
    )
    parser.add_argument(
        "--prebuild", action="store_true", help="build every profile before serving"
    )
    args = parser.parse_args()
    start = sandbox_thread if args.in_thread else sandbox_process
    with start(args.profiles, args.prebuild) as base_url:
        httpx.get(base_url + "/api/accounts", headers=HEADERS, timeout=60)  # warm up
        counts = [0] * args.threads
        began = time.monotonic()
        deadline = began + args.seconds
        workers = [
            threading.Thread(target=walk, args=(base_url, deadline, counts, i))
            for i in range(args.threads)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        elapsed = time.monotonic() - began
    pages = sum(counts)
    print(
        f"{pages} pages of 100 profiles (with subscriptions) in {elapsed:.1f} s "
        f"on {args.threads} thread(s), {args.profiles} profiles"
        f"{' (prebuilt)' if args.prebuild else ''}: "
        f"{verdict(pages / elapsed * 60)}"
    )


def verdict(per_minute: float) -> str:
    """The figure beside its target, e.g. "3,400 pages/minute (target 2,000: met)"."""
    outcome = "met" if per_minute >= TARGET_PAGES_PER_MINUTE else "MISSED"
    return (
        f"{per_minute:,.0f} pages/minute "
        f"(target {TARGET_PAGES_PER_MINUTE:,}: {outcome})"
    )


if __name__ == "__main__":
    main()
