"""Out-of-process use: the control routes and the `sandbox` command."""

from __future__ import annotations

import signal
import subprocess
import sys

import httpx
from tests.sandbox.support import config, headers

from klaviyo_connector.sandbox import DEFAULT_SANDBOX_KEY, serve_in_thread


def test_mutate_route_changes_what_the_api_serves() -> None:
    with (
        serve_in_thread(config()) as running,
        httpx.Client(
            base_url=running.base_url, headers=headers(running.api_key)
        ) as client,
    ):
        summary = client.post("/_sandbox/mutate", json={"share": 0.05, "seed": 3})
        assert summary.status_code == 200
        changes = summary.json()
        created = changes["created"].get("profile", [])
        updated = changes["updated"].get("profile", [])
        assert created
        assert updated
        served_ids: set[str] = set()
        page = client.get("/api/profiles", params={"page[size]": "100"}).json()
        while True:
            served_ids |= {r["id"] for r in page["data"]}
            if not page["links"]["next"]:
                break
            page = client.get(page["links"]["next"]).json()
        assert set(created) <= served_ids
        stats = client.get("/_sandbox/stats").json()
    assert stats["by_endpoint"]["GET /api/profiles"] >= 3


def test_sandbox_command_serves_until_interrupted() -> None:
    script = (
        "import typer\n"
        "from klaviyo_connector.sandbox.command import sandbox_command\n"
        "typer.run(sandbox_command)\n"
    )
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            script,
            "--port",
            "0",
            "--profiles",
            "30",
            "--scoped-key",
            "pk_lists0000000000000000000000000000=lists:read",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(4)]
        base_url = lines[0].split(" on ", 1)[1].split()[0]
        assert lines[1].strip() == f"Full-scope private key: {DEFAULT_SANDBOX_KEY}"
        assert lines[2].strip() == f"export KLAVIYO_BASE_URL={base_url}"
        assert lines[3].strip() == f"export KLAVIYO_API_KEY={DEFAULT_SANDBOX_KEY}"
        # The socket listens before the URL is printed: no need to poll.
        answer = httpx.get(
            base_url + "/api/accounts", headers=headers(DEFAULT_SANDBOX_KEY), timeout=20
        )
        assert answer.status_code == 200
        limited = httpx.get(
            base_url + "/api/segments",
            headers=headers("pk_lists0000000000000000000000000000"),
        )
        assert limited.status_code == 403
    finally:
        process.send_signal(signal.SIGINT)
        out, _ = process.communicate(timeout=10)
    assert process.returncode == 0
    assert "Sandbox stopped." in out
