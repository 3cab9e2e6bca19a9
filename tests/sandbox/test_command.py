"""`klaviyo-connector sandbox`: options reach the served sandbox; bad ones are
refused up front with one line and exit 2."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import httpx
import pytest
from tests.sandbox.support import headers
from typer.testing import CliRunner

from klaviyo_connector.cli import app
from klaviyo_connector.sandbox import DEFAULT_SANDBOX_KEY
from klaviyo_connector.sandbox.command import parse_now

CLI = "from klaviyo_connector.cli import main\nmain()\n"
KEY = "pk_" + "command" + "4" * 27
NOW = "2026-01-02T03:04:05Z"
PATHS = [
    "/api/accounts",
    "/api/profiles?page[size]=100&additional-fields[profile]=subscriptions",
    "/api/lists",
    "/api/segments",
    "/api/metrics",
    "/api/campaigns?filter=equals(messages.channel,'sms')&include=campaign-messages",
]


@contextmanager
def sandbox(*options: str) -> Iterator[tuple[str, list[str]]]:
    """The real command in its own process: (base URL, the lines it printed)."""
    args = [sys.executable, "-c", CLI, "sandbox", "--port", "0", "--profiles", "30"]
    process = subprocess.Popen([*args, *options], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline().strip() for _ in range(4)]
        yield lines[0].split(" on ", 1)[1].split()[0], lines
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=10)


def served_data(base_url: str, key: str = DEFAULT_SANDBOX_KEY) -> list[str]:
    """Bodies of a few collections, with the port (which differs) taken out."""
    with httpx.Client(base_url=base_url, headers=headers(key), timeout=20) as client:
        return [
            client.get(path).raise_for_status().text.replace(base_url, "http://x")
            for path in PATHS
        ]


def test_same_seed_and_now_serve_identical_data() -> None:
    pinned = ("--seed", "7", "--now", NOW, "--rate-limits", "off")
    with sandbox(*pinned) as (first_url, _):
        first = served_data(first_url)
        no_limits = httpx.get(
            first_url + "/api/accounts", headers=headers(DEFAULT_SANDBOX_KEY)
        )
    time.sleep(1.1)  # a start a second later: the real clock has moved on
    with sandbox(*pinned) as (second_url, _):
        second = served_data(second_url)
    with sandbox(*pinned, "--prebuild") as (prebuilt_url, _):
        prebuilt = served_data(prebuilt_url)
    with sandbox("--seed", "8", "--now", NOW) as (other_url, _):
        other_seed = served_data(other_url)
    assert first == second
    assert prebuilt == first
    assert first != other_seed
    updated = [p["attributes"]["updated"] for p in json.loads(first[1])["data"]]
    assert max(updated) <= "2026-01-02T03:04:05+00:00"  # dated by --now
    assert max(updated) >= "2025-12"
    assert "RateLimit-Limit" not in no_limits.headers


def test_api_key_rate_limits_and_time_scale_shape_the_sandbox() -> None:
    options = ("--api-key", KEY, "--rate-limits", "on", "--time-scale", "60")
    with sandbox(*options) as (base_url, lines):
        assert lines[1] == f"Full-scope private key: {KEY}"
        assert lines[3] == f"export KLAVIYO_API_KEY={KEY}"
        default = httpx.get(
            base_url + "/api/accounts", headers=headers(DEFAULT_SANDBOX_KEY)
        )
        answers = []
        for _ in range(3):
            # XS tier: 1 request per second, a second lasting 1/60 s here.
            answers.append(httpx.get(base_url + "/api/accounts", headers=headers(KEY)))
            time.sleep(0.1)
    assert default.status_code == 401
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert answers[0].headers["RateLimit-Limit"] == "1, 1;w=1, 15;w=60"


@pytest.mark.parametrize(
    ("options", "says"),
    [
        (["--time-scale", "0"], "--time-scale must be a number above 0"),
        (["--time-scale", "nan"], "--time-scale must be a number above 0"),
        (["--latency-ms", "-5"], "--latency-ms must be 0 or more, e.g. 300"),
        (["--profiles", "-1"], "--profiles must be between 0 and 100,000,000"),
        (["--port", "70000"], "--port must be between 0 and 65535"),
        (["--api-key", "XfPy36"], "--api-key must be a private key"),
        (["--scoped-key", "pk_x"], "--scoped-key must be KEY=scope,scope"),
        (
            ["--scoped-key", "pk_x=lists:read,lists:write"],
            "--scoped-key has unknown scope(s) lists:write (valid scopes: "
            "accounts:read, campaigns:read, lists:read, metrics:read, "
            "profiles:read, segments:read)",
        ),
        (["--quirk", "sideways"], "--quirk has unknown quirk(s) sideways"),
        (["--now", "yesterday"], "--now 'yesterday' is not an ISO datetime"),
    ],
)
def test_bad_options_are_one_line_usage_errors(options: list[str], says: str) -> None:
    result = CliRunner().invoke(app, ["sandbox", *options])
    assert result.exit_code == 2
    assert result.stdout == ""  # nothing says the sandbox is ready
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("Error: ")
    assert says in result.stderr
    assert "Traceback" not in result.output


def test_every_bad_option_is_named_at_once() -> None:
    result = CliRunner().invoke(
        app, ["sandbox", "--time-scale", "0", "--profiles", "-1", "--now", "soon"]
    )
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    for flag in ("--time-scale", "--profiles", "--now"):
        assert flag in result.stderr


def test_a_scoped_key_with_a_bad_key_and_an_unknown_scope_names_both() -> None:
    result = CliRunner().invoke(app, ["sandbox", "--scoped-key", "foo=bar:read"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == (
        "Error: --scoped-key must be a private key: pk_ followed by letters and "
        "digits; --scoped-key has unknown scope(s) bar:read (valid scopes: "
        "accounts:read, campaigns:read, lists:read, metrics:read, profiles:read, "
        "segments:read)\n"
    )


def test_a_taken_port_is_a_usage_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        done = subprocess.run(
            [sys.executable, "-c", CLI, "sandbox", "--port", port, "--profiles", "5"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.startswith(f"Error: cannot listen on 127.0.0.1:{port} (")
    assert done.stderr.count("\n") == 1


def test_now_reads_offsets_and_takes_utc_without_one() -> None:
    noon = datetime(2026, 7, 15, 12, 0, tzinfo=UTC)
    assert parse_now("2026-07-15T14:00:00+02:00") == (noon, [])
    assert parse_now("2026-07-15T12:00:00") == (noon, [])
    assert parse_now("2026-07-15") == (noon.replace(hour=0), [])
    assert parse_now(None) == (None, [])
