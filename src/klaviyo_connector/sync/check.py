"""Checking a key before syncing: the account, each read scope, the metric.

    chk = check_connection(ApiKey(key), base_url="https://a.klaviyo.com")
    chk.tables["segment"].ok, chk.tables["segment"].missing_scopes

One cheap request per endpoint; a 403 means the key lacks that scope.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from klaviyo_connector import KLAVIYO_BASE_URL
from klaviyo_connector.errors import (
    ConversionMetricError,
    KlaviyoError,
    NotKlaviyoError,
    UnexpectedResponseError,
)
from klaviyo_connector.errors import PermissionDeniedError as _Denied
from klaviyo_connector.keys import ApiKey, check_private_key
from klaviyo_connector.reports.metrics import MetricChoice, placed_order_candidates
from klaviyo_connector.sync.models import TABLES

TABLE_SCOPES: Mapping[str, tuple[str, ...]] = {
    "campaign": ("campaigns:read",),
    "list": ("lists:read",),
    "segment": ("segments:read",),
    "profile": ("profiles:read",),
    "campaign_performance_stats": ("campaigns:read", "metrics:read"),
}

# The cheapest request that proves each scope (campaigns need a channel filter).
PROBES: Mapping[str, tuple[str, Mapping[str, str]]] = {
    "accounts:read": ("/api/accounts", {}),
    "campaigns:read": (
        "/api/campaigns",
        {
            "filter": "equals(messages.channel,'email')",
            "page[size]": "1",
            "fields[campaign]": "name",
        },
    ),
    "lists:read": ("/api/lists", {"page[size]": "1", "fields[list]": "name"}),
    "segments:read": ("/api/segments", {"page[size]": "1", "fields[segment]": "name"}),
    "profiles:read": ("/api/profiles", {"page[size]": "1", "fields[profile]": "email"}),
}

# The stats table reads the account's timezone (GET /api/accounts) to send its
# report windows; without the scope a sync warns, and so does the check.
NO_ACCOUNT_ZONE = (
    "The key lacks `accounts:read`, so report windows will be sent in UTC and "
    "may be off by the account's UTC offset at their edges: add it in Klaviyo > "
    "Settings > API Keys."
)

KEY_REJECTED = (
    "Klaviyo rejected the API key: check it in Klaviyo > Settings > API Keys "
    "(it may be mistyped, revoked or from another account)."
)

__all__ = [
    "KEY_REJECTED",
    "TABLE_SCOPES",
    "CheckResult",
    "MetricChoice",
    "TableCheck",
    "check_connection",
    "require_private_key",
    "scope_advice",
]


@dataclass(frozen=True)
class TableCheck:
    ok: bool
    missing_scopes: list[str] = field(default_factory=list)
    problem: str | None = None  # one sentence when ok is False
    warning: str | None = None  # can sync, but a sync will warn about this


@dataclass
class CheckResult:
    account_name: str | None
    account_id: str | None
    scopes: dict[str, bool]
    tables: dict[str, TableCheck]
    conversion_metric: MetricChoice | None
    metrics: list[MetricChoice]
    key_masked: str = ""

    def ok_for(self, tables: Sequence[str] = TABLES) -> bool:
        return all(self.tables[t].ok for t in tables)


def scope_advice(scope: str | None, table: str | None = None) -> str:
    """The next step for a missing scope, naming the table when known."""
    what = f"the {table} table" if table else "the tables that need it"
    name = f"`{scope}`" if scope else "the missing scope"
    return f"Add {name} in Klaviyo > Settings > API Keys, or deselect {what}."


def missing_scope_sentence(missing: Sequence[str], table: str) -> str:
    """One plain sentence: which scope to add, or which table to drop."""
    names = " and ".join(f"`{scope}`" for scope in missing)
    it = "it" if len(missing) == 1 else "them"
    return (
        f"The key lacks {names}: add {it} in Klaviyo > Settings > API Keys, "
        f"or deselect the {table} table."
    )


def require_private_key(key: ApiKey) -> None:
    """A ConfigError, before any request, for a value that is no private key."""
    check_private_key(key)


def _probe(client: Any, scope: str) -> bool:
    path, params = PROBES[scope]
    try:
        client.get(path, dict(params))
    except _Denied:
        return False
    return True


# What a proxy or CDN in front of Klaviyo answers with a page of its own (a
# bot check, a bad request, proxy sign-in, throttling): the address may be right.
_PROXY_STATUSES = frozenset({400, 403, 407, 429})


def not_klaviyo(base_url: str, exc: KlaviyoError) -> NotKlaviyoError | None:
    """The error to stop on when the answer to GET /api/accounts shows that
    the base URL is not Klaviyo's API. Klaviyo serves that path to every key,
    always as JSON: a 404, a redirect, or a success or client error that is not
    its JSON (other than a proxy's) comes from another server."""
    status = exc.status
    if status is None:
        return None
    foreign = status == 404 or (
        isinstance(exc, UnexpectedResponseError)
        and (status < 400 or (status < 500 and status not in _PROXY_STATUSES))
    )
    if not foreign:
        return None
    return NotKlaviyoError(
        f"The base URL {base_url} does not answer like Klaviyo: {exc.message}",
        endpoint=exc.endpoint,
        status=status,
    )


def _account(client: Any, base_url: str) -> tuple[str | None, str | None, bool]:
    try:
        document = client.get("/api/accounts", {})
    except _Denied:
        return None, None, False
    except KlaviyoError as exc:
        foreign = not_klaviyo(base_url, exc)
        if foreign is None:
            raise
        raise foreign from exc
    data = document.get("data") or [{}]
    account = data[0] if isinstance(data, list) and data else {}
    contact = (account.get("attributes") or {}).get("contact_information") or {}
    return contact.get("organization_name"), account.get("id"), True


def _metrics(client: Any) -> list[dict[str, Any]] | None:
    from klaviyo_connector.sync.stats import list_metrics

    try:
        return list_metrics(client)
    except _Denied:
        return None


def _stats_problem(
    metrics: list[dict[str, Any]] | None,
    chosen: MetricChoice | None,
    override: str | None,
) -> str | None:
    if metrics is None:
        return None
    if chosen is not None:
        return None
    if override:
        return f"conversion_metric_id {override!r} is not a metric of this account."
    return ConversionMetricError("This account has no 'Placed Order' metric.").message


def _table_checks(
    scopes: Mapping[str, bool], stats_problem: str | None
) -> dict[str, TableCheck]:
    checks = {}
    for table in TABLES:
        missing = [s for s in TABLE_SCOPES[table] if not scopes.get(s, False)]
        problem = None
        if missing:
            problem = missing_scope_sentence(missing, table)
        elif table == "campaign_performance_stats" and stats_problem:
            problem = stats_problem
        warning = None
        if table == "campaign_performance_stats" and not scopes.get("accounts:read"):
            warning = NO_ACCOUNT_ZONE
        ok = not missing and problem is None
        checks[table] = TableCheck(ok, missing, problem, warning)
    return checks


def check_connection(
    api_key: ApiKey,
    base_url: str = KLAVIYO_BASE_URL,
    conversion_metric_id: str | None = None,
    *,
    client: Any = None,
) -> CheckResult:
    """Probes the key. Raises AuthenticationError (rejected key),
    TransportError (unreachable) or ConfigError (a public key)."""
    require_private_key(api_key)
    if client is None:
        from klaviyo_connector.client import KlaviyoClient

        with KlaviyoClient(api_key, base_url=base_url, max_attempts=3) as own:
            return check_connection(api_key, base_url, conversion_metric_id, client=own)
    name, account_id, account_ok = _account(client, base_url)
    scopes = {"accounts:read": account_ok}
    scopes.update({s: _probe(client, s) for s in PROBES if s != "accounts:read"})
    metrics = _metrics(client)
    scopes["metrics:read"] = metrics is not None
    candidates = placed_order_candidates(metrics or [])
    chosen = _choose(metrics, candidates, conversion_metric_id)
    problem = _stats_problem(metrics, chosen, conversion_metric_id)
    return CheckResult(
        account_name=name,
        account_id=account_id,
        scopes=scopes,
        tables=_table_checks(scopes, problem),
        conversion_metric=chosen,
        metrics=candidates,
        key_masked=api_key.masked,
    )


def _choose(
    metrics: list[dict[str, Any]] | None,
    candidates: list[MetricChoice],
    override: str | None,
) -> MetricChoice | None:
    from klaviyo_connector.reports.metrics import choose_conversion_metric

    if metrics is None:
        return None
    if override:
        return choose_conversion_metric(metrics, override)
    return candidates[0] if candidates else None
