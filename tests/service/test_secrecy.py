"""The key (and destination credentials) never leave the encrypted store."""

from __future__ import annotations

import logging

from tests.service.support import NO_SEGMENTS_KEY, WRONG_KEY, wait_run

PG_PASSWORD = "Pg5ecretPassw0rd"


def _everything_shown(client) -> list[str]:
    pages = [
        "/",
        "/connect",
        "/connections/1",
        "/connections/1?tab=historical",
        "/connections/1?tab=settings",
        "/connections/2/setup/tables",
        "/connections/2/setup/finish",
        "/docs",
    ]
    api = [
        "/api/connections",
        "/api/connections/1",
        "/api/connections/1/runs",
        "/api/runs/1",
        "/openapi.json",
    ]
    return [client.get(path).text for path in pages + api]


def test_keys_never_appear_in_pages_responses_files_or_logs(
    client, sandbox, caplog, tmp_path
):
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []
    post = lambda path, **kw: seen.append(client.post(path, **kw).text)  # noqa: E731
    csrf = {"csrf_token": client.csrf}
    post("/connect", data=csrf | {"name": "Shop", "api_key": sandbox.api_key})
    post("/connect", data=csrf | {"name": "Other", "api_key": NO_SEGMENTS_KEY})
    post("/connect", data=csrf | {"name": "Bad", "api_key": WRONG_KEY})
    headers = {"X-CSRF-Token": client.csrf}
    post("/api/connections", json={"name": "X", "api_key": WRONG_KEY}, headers=headers)
    post("/api/connections/check", json={"api_key": sandbox.api_key}, headers=headers)
    post(
        "/api/connections",
        json={"name": "Y", "api_key": sandbox.api_key, "sync_period": "cron"},
        headers=headers,
    )
    post(
        "/connections/1/setup/finish",
        data=csrf
        | {"sync_period": "24h", "lookback_days": "14", "destination": "duckdb"},
    )
    post(
        "/connections/2/setup/finish",
        data=csrf
        | {
            "sync_period": "24h",
            "lookback_days": "14",
            "destination": "postgres",
            "destination_credentials": f"postgresql://postgres:{PG_PASSWORD}@127.0.0.1/x",
        },
    )
    post("/connections/1/sync", data=csrf)
    assert wait_run(client, 1)["status"] == "succeeded"
    seen += _everything_shown(client)
    secrets = (sandbox.api_key, NO_SEGMENTS_KEY, WRONG_KEY, PG_PASSWORD)
    for secret in secrets:
        assert not [text for text in seen if secret in text], secret
        assert secret not in caplog.text
    files = [p for p in (tmp_path / "data").rglob("*") if p.is_file()]
    assert any(p.name == "connector.db" for p in files)
    for path in files:
        content = path.read_bytes()
        for secret in secrets:
            assert secret.encode() not in content, (secret, path)
    assert "pk_…0000" in seen[-4], "the masked key is shown instead"
