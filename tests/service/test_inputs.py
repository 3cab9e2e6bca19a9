"""Out-of-range input on the pages and the API: a plain error, never a 500."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from tests.service.support import bearer, make_app, sign_in, wait_run

LONG_NAME = "x" * 900_000
TOO_LONG = "The name is 900,000 characters long: keep it to 120 characters."
NOT_STORED = ["99999999999999999999999", str(2**63), "9" * 5000, "0", "-1", "abc"]


@pytest.fixture
def client(client):
    """The signed-in browser, also sending its form token to the API."""
    client.headers["X-CSRF-Token"] = client.csrf
    return client


def _routes(routes: list) -> list[APIRoute]:
    # An included router may be kept as one entry holding its routes.
    flat = []
    for route in routes:
        included = getattr(route, "original_router", None)
        flat += _routes(included.routes) if included is not None else [route]
    return [r for r in flat if isinstance(r, APIRoute)]


def _id_routes(app) -> list[tuple[str, str, str]]:
    """(method, path, what) for every route, page or API, that takes an id."""
    found = []
    for route in _routes(app.routes):
        what = re.search(r"\{(connection|run)_id\}", route.path)
        found += [(m, route.path, what[1]) for m in route.methods if what]
    return sorted(found)


def _post(client, path, **data):
    return client.post(path, data={"csrf_token": client.csrf} | data)


def _setup(client, key, name="Main store"):
    _post(client, "/connect", name=name, api_key=key)
    cid = max(c["id"] for c in client.get("/api/connections").json())
    _post(
        client,
        f"/connections/{cid}/setup/finish",
        sync_period="24h",
        lookback_days="14",
        destination="duckdb",
    )
    return cid


def _names(client) -> list[str]:
    return [c["name"] for c in client.get("/api/connections").json()]


def test_an_id_no_row_can_have_is_a_404_on_every_route(tmp_path):
    app = make_app(tmp_path / "data")
    routes = _id_routes(app)
    assert len(routes) >= 23, routes
    with TestClient(app) as client:
        headers = {"X-CSRF-Token": sign_in(client)}
        for method, path, what in routes:
            for value in NOT_STORED:
                url = path.replace(f"{{{what}_id}}", value)
                response = client.request(method, url, headers=headers)
                shown = f"{method} {url[:60]}"
                assert response.status_code == 404, shown
                assert f"No such {what}." in response.text, shown
                assert ("json" in response.headers["content-type"]) == (
                    path.startswith("/api/")
                ), shown


def test_the_largest_stored_id_is_still_looked_up(tmp_path):
    app = make_app(tmp_path / "data")
    with TestClient(app, headers=bearer(app)) as api:
        largest = api.get(f"/api/connections/{2**63 - 1}")
        assert largest.json() == {"detail": "No such connection."}
        schema = api.get("/openapi.json").json()["paths"]["/api/runs/{run_id}"]
        parameter = schema["get"]["parameters"][0]["schema"]
        assert (parameter["type"], parameter["maximum"]) == ("integer", 2**63 - 1)


@pytest.mark.parametrize(
    ("limit", "message"),
    [
        ("-5", "Input should be greater than or equal to 1"),
        ("0", "Input should be greater than or equal to 1"),
        ("201", "Input should be less than or equal to 200"),
        ("9" * 5000, "Unable to parse input string as an integer"),
    ],
)
def test_the_run_history_limit_is_bounded(client, sandbox, limit, message):
    cid = _setup(client, sandbox.api_key)
    response = client.get(f"/api/connections/{cid}/runs?limit={limit}")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "limit"]
    assert message in response.json()["detail"][0]["msg"]
    assert client.get(f"/api/connections/{cid}/runs?limit=200").json() == []


def test_the_connect_form_caps_and_trims_the_name_as_the_api_does(client, sandbox):
    page = _post(client, "/connect", name=LONG_NAME, api_key=sandbox.api_key)
    assert page.status_code == 400
    assert f'<p class="error" role="alert">{TOO_LONG}</p>' in page.text
    blank = _post(client, "/connect", name="   ", api_key=sandbox.api_key)
    assert "Give the connection a name." in blank.text
    assert _names(client) == []
    longest = "y" * 120
    _post(client, "/connect", name=f"  {longest}  ", api_key=sandbox.api_key)
    assert _names(client) == [longest]
    api = client.post(
        "/api/connections", json={"name": "z" * 121, "api_key": sandbox.api_key}
    )
    assert api.status_code == 422
    assert api.json()["detail"][0]["msg"] == "String should have at most 120 characters"


def test_the_settings_form_refuses_an_overlong_or_empty_name(client, sandbox):
    cid = _setup(client, sandbox.api_key)
    fields = {"tables": "list", "sync_period": "24h", "destination": "duckdb"}
    path = f"/connections/{cid}/settings"
    for name, message in [(LONG_NAME, TOO_LONG), (" ", "Give the connection a name.")]:
        page = _post(client, path, name=name, **fields)
        assert page.status_code == 400
        assert f'<p class="error" role="alert">{message}</p>' in page.text
    assert _names(client) == ["Main store"]
    _post(client, path, name=" Store EU ", **fields)
    assert _names(client) == ["Store EU"]


@pytest.mark.parametrize("name", ["   ", "x" * 121, f" {'x' * 121} "])
def test_the_api_trims_names_and_refuses_what_the_forms_refuse(client, sandbox, name):
    cid = _setup(client, sandbox.api_key)
    response = client.patch(f"/api/connections/{cid}", json={"name": name})
    assert response.status_code == 422
    assert _names(client) == ["Main store"]
    spaced = client.patch(f"/api/connections/{cid}", json={"name": f" {'x' * 120} "})
    assert spaced.json()["name"] == "x" * 120


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def _out_of_range() -> list[tuple[str, str, str]]:
    today = _today()
    after = today + dt.timedelta(days=1)
    return [
        (
            "2026-01-01",
            "9999-12-31",
            f"The recovery ends on 9999-12-31, after today ({today} UTC): Klaviyo "
            "holds nothing newer.",
        ),
        (
            today.isoformat(),
            after.isoformat(),
            f"The recovery ends on {after}, after today ({today} UTC): Klaviyo "
            "holds nothing newer.",
        ),
        (
            "0001-01-01",
            "0001-01-02",
            "The recovery starts on 0001-01-01, before Klaviyo existed: an account "
            "holds nothing older than 2012.",
        ),
        (
            "2011-12-31",
            "2012-01-31",
            "The recovery starts on 2011-12-31, before Klaviyo existed: an account "
            "holds nothing older than 2012.",
        ),
        (
            "9999-12-31",
            "9999-12-31",
            "The recovery starts on 9999-12-31 00:00 UTC, which is in the future: "
            "there is nothing to recover yet.",
        ),
        (
            "2026-03-01",
            "2026-01-01",
            "The recovery range is empty: its end does not come after its start.",
        ),
    ]


def test_a_recovery_outside_klaviyos_days_is_refused(client, sandbox):
    cid = _setup(client, sandbox.api_key)
    for start, end, message in _out_of_range():
        body = {"start": start, "end": end}
        api = client.post(f"/api/connections/{cid}/historical", json=body)
        assert (api.status_code, api.json()) == (400, {"detail": message})
        page = _post(client, f"/connections/{cid}/historical", **body)
        assert page.status_code == 400
        assert f'<p class="error" role="alert">{message}</p>' in page.text
    assert client.get(f"/api/connections/{cid}/runs").json() == []
    tab = client.get(f"/connections/{cid}?tab=historical").text
    assert tab.count(f'min="2012-01-01" max="{_today()}"') == 2


def test_a_recovery_from_klaviyos_first_day_to_today_runs(client, sandbox):
    cid = _setup(client, sandbox.api_key)
    client.put(f"/api/connections/{cid}/tables", json={"tables": ["list"]})
    body = {"start": "2012-01-01", "end": _today().isoformat()}
    run = client.post(f"/api/connections/{cid}/historical", json=body)
    assert run.status_code == 202
    assert run.json()["window_start"] == "2012-01-01T00:00:00Z"
    assert wait_run(client, run.json()["id"])["status"] == "succeeded"


def test_a_cron_expression_no_date_matches_is_refused(client, sandbox):
    cid = _setup(client, sandbox.api_key)
    never = "The cron expression never fires: none of its months has that day of "
    for cron in ("0 0 31 2 *", "0 0 30,31 2 *", "0 0 31 4,6,9,11 *"):
        body = {"sync_period": "cron", "sync_cron": cron}
        api = client.patch(f"/api/connections/{cid}", json=body)
        assert (api.status_code, api.json()) == (422, {"detail": never + "the month"})
        page = _post(
            client,
            f"/connections/{cid}/settings",
            name="Main store",
            tables="list",
            destination="duckdb",
            **body,
        )
        assert page.status_code == 400
        assert f'role="alert">{never}the month.</p>' in page.text
    assert client.get(f"/api/connections/{cid}").json()["sync_period"] == "24h"
    leap = {"sync_period": "cron", "sync_cron": "0 0 29 2 *", "auto_sync": True}
    on = client.patch(f"/api/connections/{cid}", json=leap).json()
    assert dt.datetime.fromisoformat(on["next_sync_at"]).strftime("%m-%d") == "02-29"


def test_a_cron_or_seconds_sent_without_its_period_is_refused(client, sandbox):
    cid = _setup(client, sandbox.api_key)
    for body, message in (
        (
            {"sync_cron": "0 0 31 2 *"},
            "sync_cron is used only with sync_period 'cron' (this connection's "
            "would be '24h'): send sync_period 'cron' with it.",
        ),
        (
            {"sync_period": "6h", "sync_seconds": 30},
            "sync_seconds is used only with sync_period 'seconds' (this "
            "connection's would be '6h'): send sync_period 'seconds' with it.",
        ),
    ):
        api = client.patch(f"/api/connections/{cid}", json=body)
        assert (api.status_code, api.json()) == (422, {"detail": message})
    stored = client.get(f"/api/connections/{cid}").json()
    assert (stored["sync_period"], stored["sync_cron"]) == ("24h", None)
    every = {"sync_period": "cron", "sync_cron": "0 */2 * * *"}
    assert client.patch(f"/api/connections/{cid}", json=every).status_code == 200


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("lookback_days", "-1", "Lookback window: Input should be greater than or"),
        ("lookback_days", "9" * 30, "Lookback window: Input should be less than or"),
        ("sync_seconds", "0", "Seconds: Input should be greater than or equal to 1"),
        ("sync_seconds", "9" * 30, "Seconds: Input should be less than or equal to"),
    ],
)
def test_numbers_out_of_bounds_are_plain_errors(
    tmp_path, sandbox, field, value, message
):
    app = make_app(
        tmp_path / "data", base_url=sandbox.base_url, allow_seconds_period=True
    )
    with TestClient(app) as client:
        client.csrf = sign_in(client)  # type: ignore[attr-defined]
        client.headers["X-CSRF-Token"] = client.csrf
        cid = _setup(client, sandbox.api_key)
        before = client.get(f"/api/connections/{cid}").json()
        fields = {"name": "Main store", "tables": "list", "destination": "duckdb"}
        fields |= {"sync_period": "seconds", "sync_seconds": "5", field: value}
        page = _post(client, f"/connections/{cid}/settings", **fields)
        assert page.status_code == 400
        assert message in page.text
        body = {"sync_period": "seconds", "sync_seconds": 5, field: int(value)}
        api = client.patch(f"/api/connections/{cid}", json=body)
        assert api.status_code == 422
        assert message.split(": ", 1)[1] in api.json()["detail"]
        assert client.get(f"/api/connections/{cid}").json() == before
