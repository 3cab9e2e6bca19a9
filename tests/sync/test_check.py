"""The key check over real HTTP: account, scopes per table, conversion metric."""

from __future__ import annotations

import pytest
from tests.conftest import StartSandbox

from klaviyo_connector.errors import AuthenticationError, ConfigError, TransportError
from klaviyo_connector.keys import ApiKey
from klaviyo_connector.sandbox import RunningSandbox
from klaviyo_connector.sandbox.config import ALL_SCOPES
from klaviyo_connector.sync.check import check_connection
from klaviyo_connector.sync.models import TABLES

pytestmark = pytest.mark.slow


def test_a_full_key_can_sync_every_table(running_sandbox: RunningSandbox) -> None:
    chk = check_connection(ApiKey(running_sandbox.api_key), running_sandbox.base_url)
    assert chk.account_name
    assert chk.account_id
    assert all(chk.scopes.values())
    assert chk.ok_for(TABLES)
    assert chk.conversion_metric is not None
    assert chk.conversion_metric.name == "Placed Order"
    assert chk.conversion_metric.integration == "Shopify"
    assert chk.metrics[0].id == chk.conversion_metric.id
    assert len(chk.metrics) == 2
    assert chk.key_masked.startswith("pk_…")


def test_missing_scopes_are_named_per_table(start_sandbox: StartSandbox) -> None:
    key = "pk_" + "scoped" * 5 + "abcd"
    running = start_sandbox(
        scoped_keys={key: ALL_SCOPES - {"segments:read", "metrics:read"}}
    )
    chk = check_connection(ApiKey(key), running.base_url)
    assert chk.tables["segment"].missing_scopes == ["segments:read"]
    assert chk.tables["segment"].problem == (
        "The key lacks `segments:read`: add it in Klaviyo > Settings > API Keys, "
        "or deselect the segment table."
    )
    stats = chk.tables["campaign_performance_stats"]
    assert stats.missing_scopes == ["metrics:read"]
    assert chk.conversion_metric is None
    assert chk.ok_for(("campaign", "list", "profile"))
    assert not chk.ok_for(TABLES)


def test_without_accounts_read_the_stats_table_syncs_with_a_warning(
    start_sandbox: StartSandbox,
) -> None:
    key = "pk_" + "noacct" * 5 + "abcd"
    running = start_sandbox(scoped_keys={key: ALL_SCOPES - {"accounts:read"}})
    chk = check_connection(ApiKey(key), running.base_url)
    assert chk.ok_for(TABLES)
    assert chk.account_name is None
    assert chk.tables["campaign_performance_stats"].warning == (
        "The key lacks `accounts:read`, so report windows will be sent in UTC and "
        "may be off by the account's UTC offset at their edges: add it in Klaviyo "
        "> Settings > API Keys."
    )
    others = [t for t in TABLES if t != "campaign_performance_stats"]
    assert all(chk.tables[t].warning is None for t in others)
    full = check_connection(ApiKey(running.api_key), running.base_url)
    assert all(full.tables[t].warning is None for t in TABLES)


def test_no_placed_order_metric_blocks_only_the_stats_table(
    start_sandbox: StartSandbox,
) -> None:
    running = start_sandbox(no_placed_order=True)
    chk = check_connection(ApiKey(running.api_key), running.base_url)
    assert chk.conversion_metric is None
    assert not chk.tables["campaign_performance_stats"].ok
    assert "Placed Order" in (chk.tables["campaign_performance_stats"].problem or "")
    assert chk.ok_for(("campaign", "list", "segment", "profile"))


def test_an_overridden_metric_must_exist(running_sandbox: RunningSandbox) -> None:
    chk = check_connection(
        ApiKey(running_sandbox.api_key), running_sandbox.base_url, "NOPE00"
    )
    assert not chk.tables["campaign_performance_stats"].ok


def test_a_wrong_key_raises_authentication_error(
    running_sandbox: RunningSandbox,
) -> None:
    with pytest.raises(AuthenticationError):
        check_connection(ApiKey("pk_" + "x" * 34), running_sandbox.base_url)


def test_an_unreachable_api_raises_transport_error() -> None:
    with pytest.raises(TransportError):
        check_connection(ApiKey("pk_" + "x" * 34), "http://127.0.0.1:9")


def test_a_public_key_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="public key"):
        check_connection(ApiKey("XfPy36"), "http://127.0.0.1:9")
