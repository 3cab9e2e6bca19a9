"""Value conversions every report relies on."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from klaviyo_connector.reports.base import (
    float_or_none,
    format_filter_time,
    int_or_none,
    parse_timestamp,
    text_or_none,
)

UTC = dt.UTC


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "2025-12-23T00:40:38.276417+00:00",
            dt.datetime(2025, 12, 23, 0, 40, 38, 276417, UTC),
        ),
        ("2022-01-24T01:41:54+00:00", dt.datetime(2022, 1, 24, 1, 41, 54, tzinfo=UTC)),
        ("2022-01-24T01:41:54Z", dt.datetime(2022, 1, 24, 1, 41, 54, tzinfo=UTC)),
        ("2022-01-24T03:41:54+02:00", dt.datetime(2022, 1, 24, 1, 41, 54, tzinfo=UTC)),
        (
            "2022-01-24T01:41:54.1234567Z",
            dt.datetime(2022, 1, 24, 1, 41, 54, 123456, UTC),
        ),
        ("2022-01-24T01:41:54", dt.datetime(2022, 1, 24, 1, 41, 54, tzinfo=UTC)),
        (None, None),
        ("", None),
        ("not a time", None),
    ],
)
def test_timestamps_become_utc_datetimes(text: str | None, expected: object) -> None:
    parsed = parse_timestamp(text)
    assert parsed == expected
    if parsed is not None:
        assert parsed.utcoffset() == dt.timedelta(0)


def test_filter_times_are_utc_with_z_and_whole_seconds() -> None:
    moment = dt.datetime(
        2024, 1, 1, 2, 0, 0, 999, tzinfo=dt.timezone(dt.timedelta(hours=2))
    )
    assert format_filter_time(moment) == "2024-01-01T00:00:00Z"


def test_unknowns_are_null_never_blank_or_nan() -> None:
    assert text_or_none("") is None
    assert text_or_none("  ") is None
    assert text_or_none("Ann") == "Ann"
    assert float_or_none(math.nan) is None
    assert float_or_none("1.5") == 1.5
    assert float_or_none(True) is None
    assert int_or_none(4779.0) == 4779
    assert int_or_none(None) is None
