"""Pages decoded straight into the attributes a table keeps.

A page of 100 profiles is about 200 KB of JSON, most of it nested objects
(location, subscriptions, custom properties) that the table stores as JSON
text, plus links and relationships no column reads. A generic parse builds
every one of those objects, only for the connector to serialize three of them
again. A decoder that knows the shape (msgspec) keeps the JSON attributes as
Klaviyo's own text and skips what no column needs, several times faster.

A body that does not have the shape (no `data` list, an `attributes` that is
not an object, a resource without an id) is parsed generically instead, so its
problems are reported and tolerated exactly as before.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import msgspec
import orjson

_NULL = msgspec.Raw(b"null")


@dataclass(frozen=True)
class PageShape:
    """The attributes one table reads from each resource of a collection page;
    `json` ones arrive as their JSON text (bytes), the rest as parsed values."""

    attributes: tuple[str, ...]
    json: tuple[str, ...] = ()


@functools.cache
def _decoder(shape: PageShape) -> msgspec.json.Decoder[Any]:
    fields: list[tuple[str, Any, Any]] = [(n, Any, None) for n in shape.attributes]
    fields += [(name, msgspec.Raw, _NULL) for name in shape.json]
    attributes = msgspec.defstruct("Attributes", fields)
    resource = msgspec.defstruct(
        "Resource",
        [("id", Any), ("attributes", attributes), ("type", Any, None)],
    )
    pages: Any = list[resource]  # type: ignore[valid-type]
    document = msgspec.defstruct(
        "Document", [("data", pages), ("included", Any, None), ("links", Any, None)]
    )
    return msgspec.json.Decoder(document)


def _is_loadable(text: bytes) -> bool:
    """Whether kept JSON text can go to the warehouse as it is. The decoder
    passes a field's bytes through unchecked, so text that is not UTF-8 is
    refused here; text holding an escaped NUL is parsed again when loaded (the
    warehouse drops NULs), so it must parse on its own. A page failing either
    is read the generic way, which reports the problem."""
    if not text.isascii():
        try:
            text.decode()
        except UnicodeDecodeError:
            return False
    if b"\\u0000" in text:
        try:
            orjson.loads(text)
        except orjson.JSONDecodeError:
            return False
    return True


def decode_page(content: bytes, shape: PageShape) -> dict[str, Any] | None:
    """The page as a JSON:API document holding only the shape's attributes, or
    None when the body does not have the shape (or is not JSON at all)."""
    try:
        document = _decoder(shape).decode(content)
    except (msgspec.MsgspecError, RecursionError, ValueError):
        return None
    data = []
    for resource in document.data:
        attributes = msgspec.structs.asdict(resource.attributes)
        for name in shape.json:
            text = bytes(attributes[name])
            if not _is_loadable(text):
                return None
            attributes[name] = text
        data.append(
            {"id": resource.id, "type": resource.type, "attributes": attributes}
        )
    page: dict[str, Any] = {"data": data, "links": document.links}
    if document.included is not None:
        page["included"] = document.included
    return page
