"""Shaping store records into JSON:API documents: sparse fieldsets, additional
fields, links and pagination links."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any
from urllib.parse import quote, urlencode

PLURALS = {
    "account": "accounts",
    "campaign": "campaigns",
    "campaign-message": "campaign-messages",
    "list": "lists",
    "segment": "segments",
    "profile": "profiles",
    "metric": "metrics",
    "tag": "tags",
    "template": "templates",
    "image": "images",
}

Tree = dict[str, Any]  # a field name maps to True (whole value) or a sub-tree


@lru_cache(maxsize=256)
def field_tree(fields: tuple[str, ...]) -> Tree:
    """`("location.city", "email")` -> `{"location": {"city": True}, "email": True}`."""
    tree: Tree = {}
    for path in fields:
        node = tree
        parts = path.split(".")
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if child is True:
                break
            node = child
        else:
            node[parts[-1]] = True
    return tree


def project(value: Mapping[str, Any], tree: Tree) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, sub in tree.items():
        if key not in value:
            continue
        item = value[key]
        out[key] = (
            project(item, sub) if sub is not True and isinstance(item, dict) else item
        )
    return out


def shape_attributes(
    attributes: Mapping[str, Any],
    fields: tuple[str, ...] | None,
    withheld: Iterable[str] = (),
) -> dict[str, Any]:
    """Drop opt-in attributes not asked for, then apply the sparse fieldset."""
    withheld = tuple(withheld)
    kept = {k: v for k, v in attributes.items() if k not in withheld}
    if fields is None:
        return kept
    return project(kept, field_tree(fields))


def resource_url(base: str, type_: str, id_: str) -> str:
    return f"{base}/api/{PLURALS.get(type_, type_)}/{id_}"


def _relationships(
    base: str, type_: str, id_: str, relationships: Mapping[str, Any]
) -> dict[str, Any]:
    own = resource_url(base, type_, id_)
    out = {}
    for name, rel in relationships.items():
        filled = dict(rel)
        filled.setdefault(
            "links",
            {"self": f"{own}/relationships/{name}", "related": f"{own}/{name}"},
        )
        out[name] = filled
    return out


def resource(
    record: Mapping[str, Any],
    base: str,
    fields: tuple[str, ...] | None = None,
    withheld: Iterable[str] = (),
) -> dict[str, Any]:
    """A response resource object built from a full store record."""
    type_, id_ = record["type"], record["id"]
    out: dict[str, Any] = {
        "type": type_,
        "id": id_,
        "attributes": shape_attributes(record.get("attributes", {}), fields, withheld),
    }
    relationships = record.get("relationships")
    if relationships:
        out["relationships"] = _relationships(base, type_, id_, relationships)
    out["links"] = {"self": resource_url(base, type_, id_)}
    return out


def page_url(base: str, path: str, query: Mapping[str, str], cursor: str) -> str:
    """A neighbouring page: every original parameter, `page[cursor]` replaced."""
    params = [(k, v) for k, v in query.items() if k != "page[cursor]"]
    params.append(("page[cursor]", cursor))
    return f"{base}{path}?{urlencode(params, quote_via=quote)}"


def self_url(base: str, path: str, query_string: str) -> str:
    return f"{base}{path}?{query_string}" if query_string else f"{base}{path}"
