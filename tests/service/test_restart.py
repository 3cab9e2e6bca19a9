"""`klaviyo-connector serve` as a real process: sign-in link, restart, interruption."""

from __future__ import annotations

import math
import os
import signal
import socket
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from tests.service.support import sandbox_config, wait_for

from klaviyo_connector.sandbox import serve_in_thread

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Served:
    """One `serve` process; its output is collected for inspection."""

    def __init__(
        self, data_dir: Path, base_url: str, log: Path, **env_vars: str
    ) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = os.environ | {"KLAVIYO_BASE_URL": base_url} | env_vars
        env.pop("KLAVIYO_CONNECTOR_SECRET", None)
        self.log = log.open("ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "klaviyo_connector",
                "serve",
                "--port",
                str(self.port),
                "--data-dir",
                str(data_dir),
            ],
            stdout=subprocess.PIPE,
            stderr=self.log,
            env=env,
        )
        self.first_line = self.proc.stdout.readline().decode()
        wait_for(self._up, timeout=30)
        token = (data_dir / "api-token").read_text().strip()
        self.api = httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {token}"}
        )

    def _up(self) -> bool:
        try:
            return httpx.get(self.url + "/signin").status_code == 200
        except httpx.TransportError:
            return False

    def sync_to_the_end(self, connection_id: int) -> dict:
        """Presses Sync now and returns the run once it has finished."""
        run = self.api.post(f"/api/connections/{connection_id}/sync").json()

        def finished() -> dict | None:
            now = self.api.get(f"/api/runs/{run['id']}").json()
            return None if now["status"] in ("queued", "running") else now

        return wait_for(finished, timeout=60)

    def kill(self, how: signal.Signals = signal.SIGKILL, wait: float = 10) -> int:
        self.api.close()
        self.proc.send_signal(how)
        code = self.proc.wait(wait)
        self.proc.stdout.close()
        self.log.close()
        return code


def test_restart_keeps_schedules_and_marks_cut_off_runs(tmp_path, own_sandbox):
    data, log = tmp_path / "data", tmp_path / "serve.log"
    first = Served(data, own_sandbox.base_url, log)
    try:
        assert first.first_line.startswith("Sign in (link works once): ")
        link = first.first_line.split(": ", 1)[1].strip()
        assert link.startswith(f"http://127.0.0.1:{first.port}/signin?token=")
        with httpx.Client(follow_redirects=True) as browser:
            home = browser.get(link)
            assert (home.status_code, home.url.path) == (200, "/")
        assert httpx.get(link).status_code == 401
        conn = first.api.post(
            "/api/connections",
            json={
                "name": "Shop",
                "api_key": own_sandbox.api_key,
                "tables": ["list"],
                "auto_sync": True,
            },
        ).json()
        own_sandbox.sandbox.faults.add("slow", delay=30, count=None, path="/api/lists*")
        run = first.api.post(f"/api/connections/{conn['id']}/sync").json()
        wait_for(
            lambda: (
                first.api.get(f"/api/runs/{run['id']}").json()["status"] == "running"
            )
        )
        queued = first.api.post(f"/api/connections/{conn['id']}/sync").json()
        assert queued["status"] == "queued"
    finally:
        first.kill()
    own_sandbox.sandbox.faults.clear()
    second = Served(data, own_sandbox.base_url, log)
    try:
        runs = second.api.get(f"/api/connections/{conn['id']}/runs").json()
        assert [(r["id"], r["status"]) for r in runs] == [
            (queued["id"], "interrupted"),
            (run["id"], "interrupted"),
        ]
        assert (runs[1]["error"], runs[1]["fix"]) == (
            "The service stopped during this run.",
            "Nothing to do: the next sync resumes where this one stopped (tables "
            "it finished are kept).",
        )
        assert runs[0]["error"] == "The service stopped before this run started."
        after = second.api.get(f"/api/connections/{conn['id']}").json()
        assert after["auto_sync"] is True
        assert after["next_sync_at"] is not None
        done = second.sync_to_the_end(conn["id"])
        assert done["status"] == "succeeded"
        assert done["tables"]["list"]["rows"] > 0
    finally:
        second.kill()
    shared = [
        f"{p.relative_to(data)} {stat.S_IMODE(p.stat().st_mode):o}"
        for p in data.rglob("*")
        if stat.S_IMODE(p.stat().st_mode) & 0o077
    ]
    assert shared == [], "every file the service wrote is owner-only"
    assert list(data.glob("warehouse/*.duckdb")), "the sync wrote its DuckDB file"
    text = log.read_text()
    assert "GET /api/runs" in text, "the access log is written"
    assert own_sandbox.api_key not in text
    assert "token=…" in text
    assert link.split("token=")[1] not in text


def _serve_beside(
    data: Path, port: int, **env_vars: str
) -> subprocess.CompletedProcess[str]:
    env = os.environ | env_vars
    env.pop("KLAVIYO_CONNECTOR_SECRET", None)
    command = ["serve", "--port", str(port), "--data-dir", str(data)]
    return subprocess.run(
        [sys.executable, "-m", "klaviyo_connector", *command],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def test_a_second_service_on_the_same_data_leaves_the_first_alone(
    tmp_path, own_sandbox
):
    data, log = tmp_path / "data", tmp_path / "serve.log"
    first = Served(data, own_sandbox.base_url, log)
    try:
        body = {"name": "Shop", "api_key": own_sandbox.api_key, "tables": ["list"]}
        conn = first.api.post("/api/connections", json=body).json()
        own_sandbox.sandbox.faults.add("slow", delay=30, count=None, path="/api/lists*")
        run = first.api.post(f"/api/connections/{conn['id']}/sync").json()
        running = f"/api/runs/{run['id']}"
        wait_for(lambda: first.api.get(running).json()["status"] == "running")
        second = _serve_beside(
            data, _free_port(), KLAVIYO_BASE_URL=own_sandbox.base_url
        )
        assert (second.returncode, second.stdout) == (2, ""), "no sign-in link"
        assert second.stderr == (
            f"Error: another klaviyo-connector serve is using {data} "
            f"(pid {first.proc.pid}); stop it first, or pick another --data-dir\n"
        )
        assert first.api.get(running).json()["status"] == "running"
        assert (
            first.api.get(f"/api/connections/{conn['id']}/runs").json()[0]["id"]
            == run["id"]
        ), "the second service queued nothing"
    finally:
        first.kill()
        own_sandbox.sandbox.faults.clear()


def test_a_taken_port_is_refused_before_anything_is_built(tmp_path):
    data = tmp_path / "data"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = _serve_beside(data, port)
    assert (done.returncode, done.stdout) == (2, ""), "no sign-in link"
    assert done.stderr == (
        f"Error: cannot listen on 127.0.0.1:{port}: address already in use; "
        "pick another --port\n"
    )
    assert not (data / "connector.db").exists(), "no state was touched"


PROFILES = 1000  # ten pages
CHUNK = 200  # profiles per commit: two pages
PAGE = 100
PROFILE_PAGES = ("GET", "/api/profiles")


def _committed_chunks(data: Path) -> int:
    """Load packages dlt finished for the connection: one per profile chunk.
    dlt moves package folders while the walk runs; a vanished one means look
    again at the next poll."""
    try:
        done = data.glob("pipelines/shop/**/loaded/*/package_completed.json")
        return len(list(done))
    except FileNotFoundError:
        return 0


def _profile_ids(data: Path) -> list[str]:
    import duckdb

    with duckdb.connect(str(data / "warehouse" / "shop.duckdb"), read_only=True) as db:
        return [
            r[0] for r in db.execute("select id from klaviyo_shop.profile").fetchall()
        ]


def test_the_sync_after_a_restart_resumes_after_the_last_commit(tmp_path):
    data, log = tmp_path / "data", tmp_path / "serve.log"
    with serve_in_thread(sandbox_config(profiles=PROFILES), port=0) as sandbox:
        faults, asked = sandbox.sandbox.faults, sandbox.sandbox.requests
        env = {"KLAVIYO_PROFILE_CHUNK_ROWS": str(CHUNK)}
        first = Served(data, sandbox.base_url, log, **env)
        try:
            body = {"name": "Shop", "api_key": sandbox.api_key, "tables": ["profile"]}
            conn = first.api.post("/api/connections", json=body).json()
            # Pages 1-4 answer at once (two chunks committed); page 5 hangs.
            faults.add("slow", delay=60, count=None, path="/api/profiles*", after=4)
            before = asked[PROFILE_PAGES]
            cut = first.api.post(f"/api/connections/{conn['id']}/sync").json()
            wait_for(lambda: asked[PROFILE_PAGES] >= before + 5, timeout=60)
            wait_for(lambda: _committed_chunks(data) >= 2, timeout=60)
        finally:
            first.kill()
        faults.clear()
        second = Served(data, sandbox.base_url, log, **env)
        try:
            runs = f"/api/connections/{conn['id']}/runs"
            assert second.api.get(runs).json()[0]["status"] == "interrupted"
            done = second.sync_to_the_end(conn["id"])
        finally:
            second.kill()
    assert done["status"] == "succeeded", done
    assert done["id"] > cut["id"]
    profile = done["tables"]["profile"]
    # A full read takes ten pages; the two committed chunks (400 profiles) are
    # not asked for again. The read starts one second before the resume point
    # (filters compare whole seconds), so the few profiles sharing that second
    # come again and merge by id.
    left = PROFILES - 2 * CHUNK
    assert left <= profile["rows"] < left + 10, profile
    assert profile["requests"] == math.ceil(profile["rows"] / PAGE) < 10, profile
    ids = _profile_ids(data)
    assert len(ids) == len(set(ids)) == PROFILES


def _runs_on_record(data: Path) -> list[tuple[str, str | None, bool]]:
    """Status, error and whether it finished, read from the service's database."""
    import sqlite3

    with sqlite3.connect(data / "connector.db") as db:
        rows = db.execute(
            "SELECT status, error, finished_at IS NOT NULL FROM run ORDER BY id"
        ).fetchall()
    return [(status, error, bool(done)) for status, error, done in rows]


def test_a_stopped_service_ends_its_run_itself_and_the_next_sync_resumes(tmp_path):
    """SIGTERM (what a service manager sends): the running sync stops at its
    next page, keeps its committed chunks and is recorded interrupted by the
    stopping process itself, before it exits."""
    data, log = tmp_path / "data", tmp_path / "serve.log"
    with serve_in_thread(sandbox_config(profiles=PROFILES), port=0) as sandbox:
        faults = sandbox.sandbox.faults
        env = {"KLAVIYO_PROFILE_CHUNK_ROWS": str(CHUNK)}
        first = Served(data, sandbox.base_url, log, **env)
        try:
            body = {"name": "Shop", "api_key": sandbox.api_key, "tables": ["profile"]}
            conn = first.api.post("/api/connections", json=body).json()
            # Pages 1-4 answer at once (two chunks committed); later ones crawl.
            faults.add("slow", delay=2, count=None, path="/api/profiles*", after=4)
            first.api.post(f"/api/connections/{conn['id']}/sync")
            wait_for(lambda: _committed_chunks(data) >= 2, timeout=60)
        finally:
            code = first.kill(signal.SIGTERM, wait=60)
        faults.clear()
        # uvicorn finishes its shutdown, then ends as the signal asked.
        assert code == -signal.SIGTERM, log.read_text()[-2000:]
        assert _runs_on_record(data) == [
            ("interrupted", "The service stopped during this run.", True)
        ]
        kept = len(_profile_ids(data))
        assert 2 * CHUNK <= kept < PROFILES
        second = Served(data, sandbox.base_url, log, **env)
        try:
            done = second.sync_to_the_end(conn["id"])
        finally:
            second.kill()
    assert done["status"] == "succeeded", done
    assert done["tables"]["profile"]["requests"] < PROFILES // PAGE, done
    ids = _profile_ids(data)
    assert len(ids) == len(set(ids)) == PROFILES
