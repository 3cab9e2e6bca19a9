"""What a sync asks Klaviyo for: campaign messages come inside the campaign
pages, with only the fields the campaign table keeps."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.conftest import engine_config
from tests.faults.support import RecordingSandbox, small

from klaviyo_connector.sandbox import serve_in_thread
from klaviyo_connector.sync.engine import run_sync
from klaviyo_connector.sync.models import RunRequest, RunStatus

pytestmark = pytest.mark.slow

CAMPAIGN_FIELDS = {
    "name", "status", "archived", "created_at", "updated_at", "scheduled_at",
    "send_time", "audiences", "send_options", "tracking_options", "send_strategy",
}  # fmt: skip
MESSAGE_FIELDS = {"definition", "send_times", "created_at", "updated_at"}


def test_campaign_messages_come_with_the_campaign_pages(tmp_path: Path) -> None:
    sandbox = RecordingSandbox(small())
    with serve_in_thread(sandbox) as running:
        result = run_sync(engine_config(running, tmp_path), RunRequest())
    assert result.status == RunStatus.SUCCEEDED, result.tables

    templates = {path for _, path in sandbox.requests.by_endpoint}
    assert "/api/campaigns" in templates
    assert not {t for t in templates if "campaign-message" in t}, templates
    pages = sandbox.sent("/api/campaigns")
    assert len(pages) >= 6  # three channels, archived and not
    for page in pages:
        query = dict(page.query)
        assert query["include"] == "campaign-messages", page.url
        assert set(query["fields[campaign]"].split(",")) == CAMPAIGN_FIELDS
        assert set(query["fields[campaign-message]"].split(",")) == MESSAGE_FIELDS
    assert any(page.answer.get("included") for page in pages)
