"""JSON:API documents: building the first URL, checking what comes back."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

from klaviyo_connector.errors import UnexpectedResponseError

# Filters are full of commas, parentheses, colons and quotes that Klaviyo reads
# fine unescaped; `+` must become %2B or a `+00:00` offset turns into a space.
_SAFE_VALUE = "[](),:'@*!~$;/"
_SAFE_KEY = "[]"


@dataclass(frozen=True)
class Page:
    """One page of a collection, as Klaviyo sent it."""

    data: list[dict[str, Any]]
    included: list[dict[str, Any]] = field(default_factory=list)
    next_url: str | None = None
    url: str = ""


def encode_query(params: Mapping[str, str] | None) -> str:
    if not params:
        return ""
    return "&".join(
        f"{quote(str(k), safe=_SAFE_KEY)}={quote(str(v), safe=_SAFE_VALUE)}"
        for k, v in params.items()
    )


def build_url(base_url: str, path: str, params: Mapping[str, str] | None) -> str:
    if not path.startswith("/"):
        path = "/" + path
    query = encode_query(params)
    return f"{base_url}{path}?{query}" if query else f"{base_url}{path}"


def _bad(what: str, where: str) -> UnexpectedResponseError:
    return UnexpectedResponseError(
        f"{where} returned {what} instead of a Klaviyo JSON:API document.",
        endpoint=where.split(" ", 1)[-1],
        status=200,
    )


def check_document(doc: object, where: str) -> dict[str, Any]:
    """A single-resource or collection document: an object with `data`."""
    if not isinstance(doc, dict):
        raise _bad(f"a JSON {type(doc).__name__}", where)
    if not isinstance(doc.get("data"), dict | list):
        raise _bad("a JSON object without `data`", where)
    return doc


def _resources(value: object, name: str, where: str) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(r, dict) for r in value):
        raise _bad(f"`{name}` that is not a list of resource objects", where)
    return value


def _next_link(doc: dict[str, Any], where: str) -> str | None:
    links = doc.get("links")
    if links is None:
        return None
    if not isinstance(links, dict):
        raise _bad("`links` that is not an object", where)
    next_url = links.get("next")
    if next_url is None or next_url == "":
        return None
    if not isinstance(next_url, str) or not (
        next_url.startswith("/") or urlsplit(next_url).scheme in ("http", "https")
    ):
        raise _bad("a `links.next` that is not a URL", where)
    return next_url


def to_page(doc: object, url: str, where: str) -> Page:
    """Check one collection page and wrap it; `where` is "GET /api/profiles"."""
    checked = check_document(doc, where)
    data = _resources(checked["data"], "data", where)
    raw_included = checked.get("included")
    included = (
        [] if raw_included is None else _resources(raw_included, "included", where)
    )
    return Page(
        data=data, included=included, next_url=_next_link(checked, where), url=url
    )
