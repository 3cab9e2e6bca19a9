"""The service's settings: KLAVIYO_PROFILE_CHUNK_ROWS, read as the CLI reads it."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from klaviyo_connector.cli import app as cli_app
from klaviyo_connector.service.settings import ServiceSettings


def test_profile_chunk_rows_default_and_from_the_environment(monkeypatch):
    monkeypatch.delenv("KLAVIYO_PROFILE_CHUNK_ROWS", raising=False)
    assert ServiceSettings().profile_chunk_rows == 20_000
    monkeypatch.setenv("KLAVIYO_PROFILE_CHUNK_ROWS", "500")
    assert ServiceSettings().profile_chunk_rows == 500


@pytest.mark.parametrize("value", ["0", "-3", "many"])
def test_a_bad_chunk_size_stops_serve_with_a_usage_error(monkeypatch, tmp_path, value):
    monkeypatch.setenv("KLAVIYO_PROFILE_CHUNK_ROWS", value)
    result = CliRunner().invoke(
        cli_app, ["serve", "--data-dir", str(tmp_path / "data")]
    )
    assert result.exit_code == 2
    assert (
        f"KLAVIYO_PROFILE_CHUNK_ROWS must be a whole number of at least 1, not "
        f"'{value}'; unset it for the default (20000)." in result.output
    )
    assert not (tmp_path / "data").exists()
