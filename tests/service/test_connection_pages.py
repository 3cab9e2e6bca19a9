"""The connection page and the dashboard home, driven through their forms."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from fastapi.testclient import TestClient
from tests.service.support import make_app, sign_in, wait_for, wait_run

from klaviyo_connector.service.app import create_app
from klaviyo_connector.service.settings import ServiceSettings
from klaviyo_connector.sync.models import RunResult, TableResult


def _setup(client, key, name="Main store", tables=None):
    csrf = {"csrf_token": client.csrf}
    client.post("/connect", data=csrf | {"name": name, "api_key": key})
    cid = max(c["id"] for c in client.get("/api/connections").json())
    if tables:
        client.post(f"/connections/{cid}/setup/tables", data=csrf | {"tables": tables})
    client.post(
        f"/connections/{cid}/setup/finish",
        data=csrf
        | {"sync_period": "24h", "lookback_days": "14", "destination": "duckdb"},
    )
    return cid


def _post(client, path, **data):
    return client.post(path, data={"csrf_token": client.csrf} | data)


def _row(page: str, run_id: int) -> str:
    match = re.search(rf'<tr id="run-{run_id}".*?</tr>', page, re.S)
    assert match, f"run {run_id} not in the history"
    return match.group(0)


def test_sync_now_then_rows_per_table_in_the_history(client, sandbox):
    cid = _setup(client, sandbox.api_key)
    page = client.get(f"/connections/{cid}").text
    assert "No runs yet" in page
    assert "Auto-sync off" in page
    done = _post(client, f"/connections/{cid}/sync")
    assert "Sync started (run #1)." in done.text
    wait_run(client, 1)
    row = _row(client.get(f"/connections/{cid}").text, 1)
    assert 'class="status succeeded"' in row
    assert "profile: <b>300</b>" in row
    assert "manual" in row
    home = client.get("/").text
    badge = re.search(r'<span class="health paused".*?</span>', home, re.S)
    assert badge, "a succeeded run with auto-sync off is paused"
    assert badge.group(0).endswith(">auto-sync off</span>")
    assert 'title="Paused: the last run succeeded and auto-sync is off' in badge[0]
    assert "Recent runs" in home
    assert "Recent campaigns: open and click rate" in home
    assert home.count("<svg") == 2


def test_historical_tab_launches_a_recovery(client, sandbox):
    cid = _setup(client, sandbox.api_key, tables=["campaign"])
    tab = client.get(f"/connections/{cid}?tab=historical").text
    assert 'From (UTC) <input type="date" name="start"' in tab
    assert 'To (UTC, included) <input type="date" name="end"' in tab
    assert 'id="launch-historical"' in tab
    launched = _post(
        client, f"/connections/{cid}/historical", start="2026-02-01", end="2026-02-28"
    )
    assert "Historical recovery 2026-02-01…2026-02-28 started" in launched.text
    run = wait_run(client, 1)
    assert (run["kind"], run["status"]) == ("historical", "succeeded")
    row = _row(client.get(f"/connections/{cid}").text, 1)
    assert _window(row) == ["2026-02-01", "→ 2026-02-28 (UTC)"]


def _window(row: str) -> list[str]:
    """The lines of a history row's window cell."""
    cell = re.search(r'data-field="window"><small>(.*?)</small>', row, re.S)
    assert cell, row
    return cell.group(1).split("<br>")


def test_the_history_names_what_a_sync_read_from_the_beginning(client, sandbox):
    stats = "campaign_performance_stats"
    cid = _setup(client, sandbox.api_key, tables=["list", stats])
    _post(client, f"/connections/{cid}/sync")
    first = wait_run(client, 1)
    end = f"→ {_shown(first['window_end'])}"
    shown = _window(_row(client.get(f"/connections/{cid}").text, 1))
    assert shown == ["full history", end, "campaign stats: last 730 days"]
    _post(
        client,
        f"/connections/{cid}/settings",
        name="Main store",
        tables=["list", "segment", stats],
        sync_period="24h",
        lookback_days="14",
        destination="duckdb",
    )
    _post(client, f"/connections/{cid}/sync")
    second = wait_run(client, 2)
    shown = _window(_row(client.get(f"/connections/{cid}").text, 2))
    assert shown == [
        _shown(second["window_start"]),
        f"→ {_shown(second['window_end'])}",
        "full history: segment",
    ]


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        ("2026-05-01", "2026-04-01", "its end does not come after its start"),
        ("someday", "2026-04-01", "Give both dates as YYYY-MM-DD."),
        ("2999-01-01", "2999-02-01", "which is in the future"),
    ],
)
def test_historical_dates_are_checked(client, sandbox, start, end, message):
    cid = _setup(client, sandbox.api_key)
    page = _post(client, f"/connections/{cid}/historical", start=start, end=end)
    assert page.status_code == 400
    assert message in page.text
    assert client.get(f"/api/connections/{cid}/runs").json() == []


def test_a_sync_pressed_during_a_run_says_it_is_queued(tmp_path, own_sandbox):
    own_sandbox.sandbox.faults.add("slow", delay=1.5, count=None, path="/api/lists*")
    app = make_app(tmp_path / "data", base_url=own_sandbox.base_url)
    with TestClient(app) as client:
        client.csrf = sign_in(client)
        cid = _setup(client, own_sandbox.api_key, tables=["list"])
        _post(client, f"/connections/{cid}/sync")
        wait_for(lambda: client.get("/api/runs/1").json()["status"] == "running")
        page = _post(client, f"/connections/{cid}/sync").text
        assert "Sync (run #2) is queued behind the running sync." in page
        assert "queued behind the running sync</small>" in _row(page, 2)
        assert 'class="live"' in _row(page, 1)
        wait_run(client, 2)


@pytest.mark.slow
def test_a_table_waiting_on_klaviyo_says_why_while_the_run_runs(tmp_path, own_sandbox):
    app = make_app(tmp_path / "data", base_url=own_sandbox.base_url)
    with TestClient(app) as client:
        client.csrf = sign_in(client)
        cid = _setup(client, own_sandbox.api_key, tables=["list"])
        # Two 429s in a row: the list table waits about six seconds in all.
        own_sandbox.sandbox.faults.add(
            "throttle", retry_after=3, count=2, path="/api/lists*"
        )
        _post(client, f"/connections/{cid}/sync")
        live = wait_for(
            lambda: (
                (r := client.get("/api/runs/1").json())["tables"]
                .get("list", {})
                .get("note")
                and r
            )
        )
        note = "Klaviyo answered 429 (rate limit) on /api/lists; retrying in 3 s"
        assert (live["status"], live["tables"]["list"]["note"]) == ("running", note)
        row = _row(client.get(f"/connections/{cid}").text, 1)
        assert f'<small class="wait-note">{note}</small>' in row
        run = wait_run(client, 1)
    assert run["status"] == "succeeded"
    assert run["tables"]["list"]["note"] is None
    assert run["tables"]["list"]["rows"] > 0


def test_a_run_that_stopped_as_a_whole_says_why_once(tmp_path, own_sandbox):
    app = make_app(tmp_path / "data", base_url=own_sandbox.base_url)
    with TestClient(app) as client:
        client.csrf = sign_in(client)
        cid = _setup(client, own_sandbox.api_key, tables=["list", "segment"])
        own_sandbox.sandbox.revoke_key(own_sandbox.api_key)
        _post(client, f"/connections/{cid}/sync")
        run = wait_run(client, 1)
        assert run["status"] == "failed"
        assert [t["stopped"] for t in run["tables"].values()] == [True, True]
        row = _row(client.get(f"/connections/{cid}").text, 1)
    problems = re.search(r'data-field="problem">(.*?)</td>', row, re.S)[1]
    assert re.findall(r'<p class="error">(.*?)</p>', problems, re.S) == [
        "Klaviyo rejected the API key: check it in Klaviyo &gt; Settings &gt; API "
        "Keys (it may be mistyped, revoked or from another account)."
    ]
    assert "Not finished" not in row
    tables = re.findall(r'data-table="(\w+)">\s*(.*?)</div>', row, re.S)
    assert tables == [("list", "list: not run"), ("segment", "segment: not run")]


def test_auto_sync_switch_shows_the_next_time(client, sandbox):
    cid = _setup(client, sandbox.api_key)
    page = _post(client, f"/connections/{cid}/auto-sync", enabled="on").text
    assert "Auto-sync switched on." in page
    assert re.search(r'id="next-sync">\d{4}-\d\d-\d\d \d\d:\d\d UTC<', page)
    page = _post(client, f"/connections/{cid}/auto-sync", enabled="off").text
    assert "Auto-sync off" in page
    assert "next-sync" not in page


def test_settings_tab_edits_and_explains_mistakes(client, sandbox):
    cid = _setup(client, sandbox.api_key)
    fields = {
        "name": "Store EU",
        "tables": ["list", "profile"],
        "sync_period": "12h",
        "lookback_days": "3",
        "destination": "duckdb",
        "conversion_metric": "other",
        "conversion_metric_other": "ABC123",
    }
    saved = _post(client, f"/connections/{cid}/settings", **fields)
    assert "Settings saved." in saved.text
    conn = client.get(f"/api/connections/{cid}").json()
    assert (conn["name"], conn["tables"], conn["sync_period"]) == (
        "Store EU",
        ["list", "profile"],
        "12h",
    )
    assert conn["conversion_metric"]["id"] == "ABC123"
    wrong = _post(
        client, f"/connections/{cid}/settings", **(fields | {"lookback_days": "999"})
    )
    assert wrong.status_code == 400
    assert "Lookback window: Input should be less than or equal to 365" in wrong.text
    assert 'value="999"' in wrong.text


def test_settings_with_a_destination_that_does_not_answer_change_nothing(
    client, sandbox
):
    cid = _setup(client, sandbox.api_key)
    before = client.get(f"/api/connections/{cid}").json()
    page = _post(
        client,
        f"/connections/{cid}/settings",
        name="Renamed",
        tables=["list"],
        sync_period="1h",
        lookback_days="3",
        destination="postgres",
        destination_credentials="postgresql://loader@127.0.0.1:1/db",
    )
    assert page.status_code == 400
    assert "Could not connect to the postgres destination" in page.text
    assert "Nothing was saved." in page.text
    assert client.get(f"/api/connections/{cid}").json() == before


def test_delete_forgets_the_connection(client, sandbox):
    cid = _setup(client, sandbox.api_key)
    settings = client.get(f"/connections/{cid}?tab=settings").text
    assert "The data already in the warehouse stays (dataset\n" in settings
    page = _post(client, f"/connections/{cid}/delete")
    assert (
        "Connection deleted. Its warehouse data stays in "
        f"{client.app.state.service.settings.data_dir.resolve()}"
        "/warehouse/main_store.duckdb, dataset klaviyo_main_store; a new "
        "connection gets a dataset and sync state of its own."
    ) in page.text
    assert "No Klaviyo account connected yet." in page.text
    assert client.get(f"/connections/{cid}").status_code == 404


def test_home_shows_each_connection_status(client, sandbox):
    healthy = _setup(client, sandbox.api_key, "Healthy", tables=["list"])
    never = _setup(client, sandbox.api_key, "Never", tables=["list"])
    _post(client, f"/connections/{healthy}/auto-sync", enabled="on")
    _post(client, f"/connections/{healthy}/sync")
    wait_run(client, 1)
    client.post(
        "/connect",
        data={"csrf_token": client.csrf, "name": "Draft", "api_key": sandbox.api_key},
    )
    home = client.get("/").text
    cards = dict(
        re.findall(r'data-connection="(\d+)".*?class="health ([\w-]+)"', home, re.S)
    )
    assert cards == {str(healthy): "healthy", str(never): "never-run", "3": "never-run"}
    assert "setup not finished" in home
    assert "auto-sync off" in home
    on = client.get(f"/api/connections/{healthy}").json()
    ahead = dt.datetime.fromisoformat(on["next_sync_at"]) - dt.datetime.now(dt.UTC)
    assert dt.timedelta(hours=23) < ahead <= dt.timedelta(days=1)
    assert _facts(home, healthy) == {
        "Last sync": f"{_shown(on['last_sync_at'])} (succeeded)",
        "Next sync": _shown(on["next_sync_at"]),
        "Period": "every day",
    }
    assert _facts(home, never) == {
        "Last sync": "—",
        "Next sync": "auto-sync off",
        "Period": "every day",
    }


def _facts(home: str, connection_id: int) -> dict[str, str]:
    """The last sync, next sync and period a dashboard card states."""
    card = re.search(rf'data-connection="{connection_id}".*?</section>', home, re.S)
    assert card, f"no card for connection {connection_id}"
    pairs = re.findall(r"<dt>(.*?)</dt><dd>(.*?)</dd>", card[0], re.S)
    return {term: value.strip() for term, value in pairs}


def _shown(stamp: str) -> str:
    """An API timestamp as the pages write it."""
    when = dt.datetime.fromisoformat(stamp)
    assert when.utcoffset() == dt.timedelta(0)
    return when.strftime("%Y-%m-%d %H:%M UTC")


def _warning_engine(conn, request, progress):
    """Stands in for the engine: every table loads, the profile table warns."""
    now = dt.datetime.now(dt.UTC)
    tables = {t: TableResult(t, rows=1000, requests=2) for t in request.tables}
    tables["profile"].warnings = ["3 record(s) are dated in the future."]
    return RunResult(request, now, now + dt.timedelta(seconds=2), tables)


def test_table_warnings_show_in_the_history_and_the_api(tmp_path, sandbox):
    settings = ServiceSettings(
        data_dir=tmp_path / "data", klaviyo_base_url=sandbox.base_url, secret=None
    )
    app = create_app(settings, execute=_warning_engine)
    with TestClient(app, base_url="http://127.0.0.1:8000") as client:
        client.csrf = sign_in(client)
        cid = _setup(client, sandbox.api_key, tables=["list", "profile"])
        _post(client, f"/connections/{cid}/auto-sync", enabled="on")
        _post(client, f"/connections/{cid}/sync")
        run = wait_run(client, 1)
        assert run["status"] == "succeeded"
        assert run["warnings"] == ["profile: 3 record(s) are dated in the future."]
        assert run["tables"]["profile"]["warnings"] == [
            "3 record(s) are dated in the future."
        ]
        assert run["tables"]["list"]["warnings"] == []
        assert client.get(f"/api/connections/{cid}").json()["health"] == "healthy"
        row = _row(client.get(f"/connections/{cid}").text, 1)
        profile = re.search(r'data-table="profile">.*?</div>', row, re.S)[0]
        assert "profile: <b>1,000</b>" in profile
        assert 'class="warning-mark"' in profile
        assert 'title="3 record(s) are dated in the future."' in profile
        assert (
            "warning-mark"
            not in re.search(r'data-table="list">.*?</div>', row, re.S)[0]
        )
        warning = '<p class="warning"><b>profile</b>: 3 record(s) are dated in the'
        assert warning in row
        assert 'class="health healthy"' in client.get("/").text


def test_the_duckdb_file_is_shown_from_the_service_folder(
    client, sandbox, tmp_path, monkeypatch
):
    cid = _setup(client, sandbox.api_key)
    monkeypatch.chdir(tmp_path)
    page = client.get(f"/connections/{cid}").text
    absolute = tmp_path.resolve() / "data" / "warehouse" / "main_store.duckdb"
    assert f'<code title="{absolute}">data/warehouse/main_store.duckdb</code>' in page
    assert client.get(f"/api/connections/{cid}").json()["duckdb_file"] == str(absolute)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert f">{absolute}</code>" in client.get(f"/connections/{cid}").text
