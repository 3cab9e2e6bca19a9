"""Every error the connector raises, arranged by what the caller should do next.

    ConnectorError
    ├── ConfigError                 fix the settings (exit code 2)
    ├── KlaviyoError                Klaviyo answered, or could not be reached
    │   ├── AuthenticationError     401: the key was rejected
    │   ├── PermissionDeniedError   403: the key lacks a scope
    │   ├── RateLimitError          429 beyond the retry budget
    │   ├── InvalidRequestError     400/404: a request Klaviyo refuses
    │   ├── ServerError             5xx that persisted through retries
    │   ├── UnexpectedResponseError a body that is not Klaviyo's JSON (proxy page,
    │   │                           truncated JSON, malformed page)
    │   ├── TransportError          no answer: DNS, refused, reset, timeout
    │   │   └── UnreachableError    no connection at all (DNS, refused, connect
    │   │                           timeout): the whole run stops
    │   └── NotKlaviyoError         the base URL answers, but not as Klaviyo: the
    │                               whole run stops
    ├── ConversionMetricError       no usable "Placed Order" metric
    └── WarehouseError              the destination refused the load
        └── DatasetBusyError        another sync is loading the same dataset

Every message names what happened and the next step; none contains the API key.
"""

from __future__ import annotations


class ConnectorError(Exception):
    """Root of the connector's errors: `str()` is the one sentence a user reads."""

    fix: str = ""

    def __init__(self, message: str, *, fix: str | None = None) -> None:
        if fix is not None:
            self.fix = fix
        self.message = message
        super().__init__(message)

    def __str__(self) -> str:
        if not self.fix:
            return self.message
        message = self.message.rstrip()
        if "\n" in message:  # a list of problems: the fix goes on its own line
            return f"{message}\n{self.fix}"
        if not message.endswith((".", "!", "?")):
            message += "."
        return f"{message} {self.fix}"


class ConfigError(ConnectorError):
    """The settings are missing or invalid; nothing was sent to Klaviyo."""


class KlaviyoError(ConnectorError):
    """Klaviyo refused a request, answered oddly, or could not be reached."""

    def __init__(
        self,
        message: str,
        *,
        endpoint: str = "",
        status: int | None = None,
        code: str | None = None,
        detail: str | None = None,
        fix: str | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.status = status
        self.code = code
        self.detail = detail
        super().__init__(message, fix=fix)


class AuthenticationError(KlaviyoError):
    fix = (
        "Check the private API key (Klaviyo > Settings > API Keys): it may be "
        "mistyped, revoked or from another account."
    )


class PermissionDeniedError(KlaviyoError):
    def __init__(self, message: str, *, scope: str | None = None, **kw: object) -> None:
        self.scope = scope
        super().__init__(message, **kw)  # type: ignore[arg-type]


class RateLimitError(KlaviyoError):
    fix = "Klaviyo kept throttling; the next run continues where this one stopped."

    def __init__(
        self, message: str, *, retry_after: float | None = None, **kw: object
    ) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kw)  # type: ignore[arg-type]


class InvalidRequestError(KlaviyoError):
    fix = "This is a connector bug or an API change; please report it with the log."

    def __init__(
        self, message: str, *, source: dict[str, object] | None = None, **kw: object
    ) -> None:
        self.source = source  # Klaviyo's pointer/parameter naming the bad input
        super().__init__(message, **kw)  # type: ignore[arg-type]


class ServerError(KlaviyoError):
    fix = "Klaviyo is having trouble; the next run retries from where this one stopped."


class UnexpectedResponseError(KlaviyoError):
    fix = (
        "Something between the connector and Klaviyo (a proxy or firewall) may be "
        "answering instead; the next run retries."
    )


class TransportError(KlaviyoError):
    fix = "Check the network and the base URL; the next run retries."


class UnreachableError(TransportError):
    """No connection could be made (DNS, refused, connect timeout): every other
    request of the run would fail the same way."""


class NotKlaviyoError(KlaviyoError):
    """The base URL answers, but not as Klaviyo does (a 404 for the account, a
    page that is not JSON): every other request of the run would fail too."""

    fix = (
        "Check the base URL (--base-url or KLAVIYO_BASE_URL): Klaviyo's is "
        "https://a.klaviyo.com."
    )


class ConversionMetricError(ConnectorError):
    fix = (
        "Create or connect a 'Placed Order' metric in Klaviyo, or set "
        "conversion_metric_id to a metric that supports values reports, or "
        "deselect the campaign_performance_stats table."
    )


class WarehouseError(ConnectorError):
    fix = "Check the destination's credentials and that it is reachable."


class DatasetBusyError(WarehouseError):
    """Another sync holds the dataset: two loading it at once would interleave
    their merges into duplicate rows."""

    fix = (
        "Run this sync again once the other one has finished, or raise lock_wait "
        "(KLAVIYO_LOCK_WAIT) to wait longer."
    )
