"""campaign rows: attributes, timestamps, messages from `included`."""

from __future__ import annotations

import datetime as dt

from klaviyo_connector.reports import campaign
from klaviyo_connector.reports.base import index_included

CAMPAIGN = {
    "type": "campaign",
    "id": "01KD4AD84042DNJRJDH3TRM4B1",
    "attributes": {
        "name": "Boxing Day",
        "status": "Sent",
        "archived": False,
        "audiences": {"included": ["U7Chiu"], "excluded": []},
        "send_options": {"use_smart_sending": True},
        "tracking_options": {"is_tracking_clicks": True},
        "send_strategy": {"method": "static", "datetime": "2025-12-26T08:00:00+00:00"},
        "created_at": "2025-12-23T00:40:38.276417+00:00",
        "scheduled_at": None,
        "updated_at": "2025-12-23T00:48:08.272428+00:00",
        "send_time": "2025-12-26T08:00:00+00:00",
    },
    "relationships": {
        "campaign-messages": {
            "data": [
                {"type": "campaign-message", "id": "M1"},
                {"type": "campaign-message", "id": "M2"},
            ]
        }
    },
}
MESSAGE = {
    "type": "campaign-message",
    "id": "M1",
    "attributes": {
        "definition": {
            "channel": "email",
            "label": "Boxing Day",
            "content": {
                "subject": "50% off",
                "preview_text": "Today only",
                "from_email": "store@shop.com",
                "from_label": "Shop",
            },
        },
        "send_times": [{"datetime": "2025-12-26T08:00:00+00:00", "is_local": False}],
        "created_at": "2025-12-23T00:40:38+00:00",
        "updated_at": "2025-12-23T00:48:08+00:00",
    },
}


def test_campaign_row_maps_every_column() -> None:
    row = campaign.campaign_row(CAMPAIGN, index_included([MESSAGE]))
    assert row["id"] == "01KD4AD84042DNJRJDH3TRM4B1"
    assert row["name"] == "Boxing Day"
    assert row["status"] == "Sent"
    assert row["archived"] is False
    assert row["created_at"] == dt.datetime(2025, 12, 23, 0, 40, 38, 276417, dt.UTC)
    assert row["scheduled_at"] is None
    assert row["send_time"] == dt.datetime(2025, 12, 26, 8, tzinfo=dt.UTC)
    assert row["audiences"] == {"included": ["U7Chiu"], "excluded": []}
    assert row["send_strategy"]["method"] == "static"
    assert set(row) == {c.name for c in campaign.COLUMNS} - {"channel"}


def test_messages_come_from_included_in_relationship_order() -> None:
    row = campaign.campaign_row(CAMPAIGN, index_included([MESSAGE]))
    first, missing = row["messages"]
    assert first["id"] == "M1"
    assert first["subject"] == "50% off"
    assert first["from_label"] == "Shop"
    assert first["channel"] == "email"
    assert first["send_times"][0]["datetime"] == "2025-12-26T08:00:00+00:00"
    assert missing == {"id": "M2"}


def test_campaigns_are_read_per_channel_and_archived_state() -> None:
    slices = {v.conditions for v in campaign.REPORT.variants}
    assert len(slices) == 6
    assert (
        "equals(messages.channel,'mobile_push')",
        "equals(archived,true)",
    ) in slices
    assert {v.extra["channel"] for v in campaign.REPORT.variants} == {
        "email",
        "sms",
        "mobile_push",
    }
    assert campaign.REPORT.params["include"] == "campaign-messages"
    assert campaign.REPORT.page_size == 100
