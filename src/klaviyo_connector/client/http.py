"""KlaviyoClient: the one place the connector speaks HTTP to Klaviyo."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from types import TracebackType
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
import orjson

from klaviyo_connector import KLAVIYO_BASE_URL, KLAVIYO_REVISION, __version__
from klaviyo_connector.client.endpoints import (
    DEFAULT_WINDOWS,
    ENDPOINTS,
    path_of,
    template_for,
)
from klaviyo_connector.client.jsonapi import Page, build_url, check_document, to_page
from klaviyo_connector.client.pacing import Pacer
from klaviyo_connector.client.records import PageShape
from klaviyo_connector.client.responses import (
    Call,
    Retryable,
    interpret,
    transport_failure,
)
from klaviyo_connector.client.retry import Backoff, RetryPolicy, call_with_retries
from klaviyo_connector.client.stats import RequestInfo, RequestStats
from klaviyo_connector.client.waits import WAIT_WORTH_TELLING, WaitInfo
from klaviyo_connector.errors import ConfigError, UnexpectedResponseError
from klaviyo_connector.keys import ApiKey, check_private_key

log = logging.getLogger("klaviyo_connector.client")

JSONAPI = "application/vnd.api+json"
USER_AGENT = f"klaviyo-connector/{__version__}"


def _checked_key(api_key: ApiKey | str) -> ApiKey:
    key = api_key if isinstance(api_key, ApiKey) else ApiKey(str(api_key))
    check_private_key(key)
    return key


def _checked_base_url(base_url: str) -> str:
    url = base_url.strip().rstrip("/")
    url = url.removesuffix("/api")  # paths already start with /api
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(
            f"The Klaviyo base URL {url!r} is not an http(s) address.",
            fix="Use https://a.klaviyo.com, or the sandbox's http://127.0.0.1:PORT.",
        )
    if parts.path or parts.query or parts.fragment:
        raise ConfigError(
            f"The Klaviyo base URL {url!r} has a path; it is the address alone.",
            fix=f"Use {parts.scheme}://{parts.netloc} (the connector adds /api/...).",
        )
    return url


class KlaviyoClient:
    """Reads Klaviyo's REST API with pacing, retries and typed errors.

    Thread-safe: tables may sync concurrently through one client. One client
    (or one shared `pacer`) per Klaviyo account, since limits are per account.
    `clock` and `sleep` replace the real ones in tests; `time_scale` tells the
    pacer that a sandbox's rate-limit windows run that many times faster.
    `pacing=False` sends without waiting for Klaviyo's published limits: only
    for a server that has none (a sandbox started with `--rate-limits off`);
    a 429 is still honoured. `on_wait` (settable later) hears of every wait of
    two seconds or more before it begins, pacing or retry, on the waiting
    thread."""

    def __init__(
        self,
        api_key: ApiKey,
        *,
        base_url: str = KLAVIYO_BASE_URL,
        revision: str = KLAVIYO_REVISION,
        timeout: float = 30.0,
        max_attempts: int = 8,
        max_wait: float = 300.0,
        transport: httpx.BaseTransport | None = None,
        pacer: Pacer | None = None,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], None] | None = None,
        time_scale: float = 1.0,
        on_request: Callable[[RequestInfo], None] | None = None,
        on_wait: Callable[[WaitInfo], None] | None = None,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        pacing: bool = True,
    ) -> None:
        self._key = _checked_key(api_key)
        self._pacing = pacing
        self.base_url = _checked_base_url(base_url)
        base = urlsplit(self.base_url)
        self._origin = (base.scheme, base.netloc.lower())
        self._clock = clock or (pacer.clock if pacer else time.monotonic)
        self._sleep = sleep or (pacer.sleep if pacer else time.sleep)
        self.pacer = pacer or Pacer(
            clock=self._clock,
            sleep=self._sleep,
            time_scale=time_scale,
            max_wait=max_wait,
        )
        self.policy = RetryPolicy(
            max_attempts=max(1, max_attempts),
            max_wait=max_wait,
            backoff_initial=backoff_initial,
            backoff_max=backoff_max,
        )
        self.stats = RequestStats()
        self._on_request = on_request
        self.on_wait = on_wait
        self._http = httpx.Client(
            headers={
                "Authorization": f"Klaviyo-API-Key {self._key.reveal()}",
                "revision": revision,
                "accept": JSONAPI,
                "user-agent": USER_AGENT,
            },
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            transport=transport,
            limits=httpx.Limits(max_connections=20, max_keepalive_connections=10),
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        return f"KlaviyoClient({self.base_url!r}, api_key={self._key!r})"

    def __enter__(self) -> KlaviyoClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def get(self, path: str, params: Mapping[str, str] | None = None) -> dict[str, Any]:
        """One JSON:API document (single resource or one page of a collection)."""
        url = build_url(self.base_url, path, params)
        return check_document(self._request("GET", url), f"GET {path_of(url)}")

    def post(
        self, path: str, body: dict[str, Any], params: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        url = build_url(self.base_url, path, params)
        doc = self._request("POST", url, body=orjson.dumps(body))
        return check_document(doc, f"POST {path_of(url)}")

    def paginate(
        self,
        path: str,
        params: Mapping[str, str] | None = None,
        *,
        start_url: str | None = None,
        shape: PageShape | None = None,
    ) -> Iterator[Page]:
        """Every page of a collection, following `links.next` exactly as given.

        `start_url` resumes from a saved `Page.next_url` instead of `path`+`params`;
        `shape` decodes each page to the attributes a table reads
        (`client.records`). Stops when `next` is null or missing, or a page comes
        back empty."""
        url: str | None = (
            self._follow(start_url, f"GET {path}")
            if start_url
            else build_url(self.base_url, path, params)
        )
        seen: set[str] = set()
        while url is not None:
            seen.add(url)
            where = f"GET {path_of(url)}"
            page = to_page(self._request("GET", url, shape=shape), url, where)
            next_url = self._follow(page.next_url, where) if page.data else None
            if next_url in seen:
                raise UnexpectedResponseError(
                    f"{where} sent a `links.next` that repeats an earlier page.",
                    endpoint=path_of(url),
                    status=200,
                )
            yield Page(page.data, page.included, next_url, url)
            url = next_url

    def _follow(self, link: str | None, where: str) -> str | None:
        """An absolute next link, refused if it leads away from the base URL:
        another host or port, or another scheme (https to http would send the
        key in clear text)."""
        if link is None:
            return None
        url = urljoin(self.base_url + "/", link) if link.startswith("/") else link
        parts = urlsplit(url)
        if (parts.scheme, parts.netloc.lower()) == self._origin:
            return url
        scheme, netloc = self._origin
        if parts.netloc.lower() != netloc:
            away = f"to another host ({parts.hostname})"
            only = urlsplit(self.base_url).hostname
        else:
            away = f"over {parts.scheme} instead of {scheme}"
            only = self.base_url
        raise UnexpectedResponseError(
            f"{where} sent a `links.next` {away}; the API key is only sent to {only}.",
            endpoint=where.split(" ", 1)[-1],
            status=200,
        )

    def _request(
        self,
        method: str,
        url: str,
        *,
        body: bytes | None = None,
        shape: PageShape | None = None,
    ) -> Any:
        template = template_for(url)
        endpoint = ENDPOINTS.get(template)
        call = Call(
            method,
            path_of(url),
            endpoint.scope if endpoint else None,
            self._key.reveal(),
        )
        defaults = endpoint.windows if endpoint else DEFAULT_WINDOWS

        def attempt() -> Any:
            return self._attempt(
                call, url, f"{method} {template}", defaults, body, shape
            )

        return call_with_retries(
            attempt,
            policy=self.policy,
            clock=self._clock,
            sleep=self._sleep,
            where=call.where,
            on_retry=lambda backoff: self._retrying(template, backoff),
        )

    def _retrying(self, template: str, backoff: Backoff) -> None:
        self.stats.record_retry(backoff.wait)
        failure = backoff.failure
        self._tell(
            WaitInfo(
                template,
                backoff.wait,
                failure.kind,
                failure.error.status,
                failure.reason,
                backoff.attempt,
                backoff.attempts,
            )
        )

    def _tell(self, wait: WaitInfo) -> None:
        if self.on_wait is None or wait.seconds < WAIT_WORTH_TELLING:
            return
        try:
            self.on_wait(wait)
        except Exception:  # a note that cannot be shown must not stop a sync
            log.debug("telling of a wait on %s failed", wait.endpoint, exc_info=True)

    def _attempt(
        self,
        call: Call,
        url: str,
        bucket: str,
        defaults: tuple[tuple[int, float], ...],
        body: bytes | None,
        shape: PageShape | None = None,
    ) -> Any:
        if self._pacing:
            template = bucket.split(" ", 1)[1]
            waited = self.pacer.acquire(
                bucket, defaults, lambda s: self._tell(WaitInfo(template, s))
            )
            self.stats.record_pacing(waited)
        sent_at = self._clock()
        headers = {"content-type": JSONAPI} if body is not None else None
        started = time.perf_counter()
        try:
            response = self._http.request(
                call.method, url, content=body, headers=headers
            )
        except httpx.TransportError as exc:
            self._record(call, bucket, None, started)
            raise transport_failure(exc, call, urlsplit(url).netloc) from None
        self._record(call, bucket, response.status_code, started)
        if self._pacing:
            self.pacer.answered(bucket, sent_at)
        self.pacer.observe(bucket, response.headers, defaults, sent_at=sent_at)
        try:
            return interpret(response, call, shape)
        except Retryable as failure:
            if failure.kind == "throttled" and failure.retry_after is not None:
                self.pacer.block(bucket, failure.retry_after, defaults)
            raise

    def _record(
        self, call: Call, bucket: str, status: int | None, started: float
    ) -> None:
        ms = (time.perf_counter() - started) * 1000
        template = bucket.split(" ", 1)[1]
        self.stats.record(template, status)
        log.info("%s %s %s %.0fms", call.method, call.path, status or "no-answer", ms)
        if self._on_request is not None:
            self._on_request(RequestInfo(call.method, call.path, template, status, ms))
