"""Processes the benchmark runs: the sandbox, and commands measured from outside
(wall time, CPU seconds and peak resident memory, as /usr/bin/time reports)."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

SANDBOX_KEY = "pk_sandbox" + "0" * 27
REVISION = "2026-07-15"
HEADERS = {
    "Authorization": f"Klaviyo-API-Key {SANDBOX_KEY}",
    "revision": REVISION,
    "accept": "application/vnd.api+json",
}


@dataclass(frozen=True)
class Measured:
    """One finished command: what it cost, seen from outside."""

    wall: float  # seconds
    cpu: float  # user + system seconds of the process
    peak_rss_mb: float  # its largest resident set
    returncode: int
    log: Path

    def tail(self, lines: int = 15) -> str:
        text = self.log.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])


def connector_command() -> list[str]:
    """`klaviyo-connector` from this interpreter's environment."""
    script = Path(sys.executable).with_name("klaviyo-connector")
    if script.exists():
        return [str(script)]
    found = shutil.which("klaviyo-connector")
    if found is None:
        raise SystemExit("klaviyo-connector is not installed (pip install -e .)")
    return [found]


def run_measured(
    args: Sequence[str], *, cwd: Path, env: Mapping[str, str], log: Path
) -> Measured:
    """Runs a command to the end; its own rusage gives CPU and peak memory."""
    started = time.perf_counter()
    with log.open("w") as out:
        process = subprocess.Popen(
            list(args), cwd=cwd, env={**os.environ, **env}, stdout=out, stderr=out
        )
        _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    return Measured(
        wall=wall,
        cpu=usage.ru_utime + usage.ru_stime,
        peak_rss_mb=usage.ru_maxrss / 1024,  # kilobytes on Linux
        returncode=process.returncode,
        log=log,
    )


class Sandbox:
    """A running `klaviyo-connector sandbox` process and its control routes."""

    def __init__(self, base_url: str, process: subprocess.Popen[str]) -> None:
        self.base_url = base_url
        self.process = process
        self.http = httpx.Client(base_url=base_url, headers=HEADERS, timeout=600)

    def stats(self) -> dict[str, Any]:
        """Requests the sandbox answered, per endpoint, and the 429s it sent."""
        response = self.http.get("/_sandbox/stats")
        response.raise_for_status()
        stats: dict[str, Any] = response.json()
        return stats

    def mutate(self, share: float, seed: int = 1) -> dict[str, Any]:
        response = self.http.post(
            "/_sandbox/mutate", json={"share": share, "seed": seed}
        )
        response.raise_for_status()
        summary: dict[str, Any] = response.json()
        return summary

    def records(self, path: str, params: Mapping[str, str]) -> int:
        """How many records a listing holds, walked at the given page size."""
        count = 0
        url: str | None = path
        query: Mapping[str, str] | None = params
        while url is not None:
            response = self.http.get(url, params=query)
            response.raise_for_status()
            document = response.json()
            count += len(document["data"])
            url, query = (document.get("links") or {}).get("next"), None
        return count


def _wait_ready(sandbox: Sandbox, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the sandbox exited with {process.returncode}")
        try:
            # A control route: Klaviyo's endpoints count against the account's
            # quota (accounts: 1 a second), which the sync measured next needs.
            sandbox.http.get("/_sandbox/stats").raise_for_status()
            return
        except httpx.HTTPError:
            time.sleep(0.5)
    raise SystemExit("the sandbox did not answer within 10 minutes")


@contextmanager
def sandbox(
    profiles: int,
    *,
    seed: int,
    rate_limits: bool,
    time_scale: float,
    log: Path,
    latency_ms: float = 0.0,
    prebuild: bool = False,
) -> Iterator[Sandbox]:
    """`klaviyo-connector sandbox` on a free port, stopped on exit."""
    args = [
        *connector_command(),
        "sandbox",
        "--port",
        "0",
        "--profiles",
        str(profiles),
        "--seed",
        str(seed),
        "--rate-limits",
        "on" if rate_limits else "off",
        "--time-scale",
        str(time_scale),
        "--latency-ms",
        str(latency_ms),
        *(["--prebuild"] if prebuild else []),
    ]
    errors = log.open("w")
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=errors, text=True)
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        if " on " not in first:
            raise SystemExit(f"the sandbox did not start: {first!r}; see {log}")
        running = Sandbox(first.split(" on ", 1)[1].split()[0], process)
        _wait_ready(running, process)
        yield running
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        errors.close()


def machine() -> str:
    """nproc, RAM and CPU model: what a later run must match to compare."""
    model = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 0
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    return (
        f"{cores or os.cpu_count()} cores ({model}), {ram:.1f} GiB RAM, "
        f"Python {platform.python_version()}, load average {load} at start"
    )
