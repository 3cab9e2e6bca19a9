"""Writes the sandbox's compact digest of Klaviyo's OpenAPI spec.

The sandbox and the contract tests need a few facts per operation (parameter
names, filter whitelists, page-size bounds, rate-limit tiers, scopes and enums)
without shipping Klaviyo's 3 MB spec. Run it again when the pinned revision
changes:

    python scripts/make_spec_digest.py /path/to/openapi/stable.json
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

OPERATIONS = [
    ("get", "/api/accounts"),
    ("get", "/api/campaigns"),
    ("get", "/api/campaigns/{id}"),
    ("get", "/api/campaigns/{id}/campaign-messages"),
    ("get", "/api/lists"),
    ("get", "/api/lists/{id}"),
    ("get", "/api/segments"),
    ("get", "/api/segments/{id}"),
    ("get", "/api/profiles"),
    ("get", "/api/metrics"),
    ("post", "/api/campaign-values-reports"),
]
DIGEST = Path("src/klaviyo_connector/sandbox/spec_digest.json")
_LOWER_TIER = re.compile(
    r"Rate limits when using the `(?P<param>[^=`]+)=(?P<value>[^`]+)` parameter"
    r".*?Burst: `(?P<burst>\d+)/s`.*?Steady: `(?P<steady>\d+)/m`",
    re.DOTALL,
)


def _rate(text: str) -> int:
    return int(text.split("/")[0])


def _tier(raw: dict[str, str]) -> dict[str, int | None]:
    daily = raw.get("daily")
    return {
        "burst": _rate(raw["burst"]),
        "steady": _rate(raw["steady"]),
        "daily": _rate(daily) if daily else None,
    }


def _param(param: dict[str, Any]) -> dict[str, Any]:
    schema = param.get("schema", {})
    out: dict[str, Any] = {"required": bool(param.get("required"))}
    enum = schema.get("items", schema).get("enum")
    if enum:
        out["enum"] = enum
    out["array"] = schema.get("type") == "array"
    for key in ("minimum", "maximum", "default"):
        if key in schema and param["name"] == "page[size]":
            out[key] = schema[key]
    return out


def _filters(raw: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for field, rule in raw.items():
        value = rule.get("value", {})
        out[field] = {
            "single": rule["operators"].get("single", []),
            "list": rule["operators"].get("list", []),
            "type": value.get("type", "string"),
            "format": value.get("format"),
            "enum": value.get("enum"),
        }
    return out


def _operation(method: str, path: str, op: dict[str, Any]) -> dict[str, Any]:
    params = {
        p["name"]: _param(p) for p in op.get("parameters", []) if p["in"] == "query"
    }
    lower = [
        {
            "param": m["param"],
            "value": m["value"],
            "burst": int(m["burst"]),
            "steady": int(m["steady"]),
            "daily": None,
        }
        for m in _LOWER_TIER.finditer(op.get("description", ""))
    ]
    return {
        "method": method.upper(),
        "path": path,
        "operation_id": op["operationId"],
        "scopes": op.get("x-klaviyo-scopes", []),
        "ratelimit": _tier(op["x-klaviyo-ratelimit"]),
        "lower_tiers": lower,
        "params": params,
        "filters": _filters(op.get("x-klaviyo-filters", {})),
        "response_schema": _response_schema(op),
    }


def _response_schema(op: dict[str, Any]) -> str | None:
    for status in ("200", "201"):
        content = op["responses"].get(status, {}).get("content", {})
        for media in content.values():
            ref = media.get("schema", {}).get("$ref", "")
            return ref.rsplit("/", 1)[-1] or None
    return None


def _values_report(spec: dict[str, Any]) -> dict[str, Any]:
    schemas = spec["components"]["schemas"]
    attrs = schemas["CampaignValuesRequestDTOResourceObject"]["properties"]
    attrs = attrs["attributes"]["properties"]
    return {
        "statistics": attrs["statistics"]["items"]["enum"],
        "group_by": attrs["group_by"]["items"]["enum"],
        "timeframe_keys": schemas["Timeframe"]["properties"]["key"]["enum"],
    }


def build(spec: dict[str, Any]) -> dict[str, Any]:
    operations = {
        f"{method.upper()} {path}": _operation(
            method, path, spec["paths"][path][method]
        )
        for method, path in OPERATIONS
    }
    return {
        "revision": spec["info"]["version"],
        "operations": operations,
        "campaign_values_report": _values_report(spec),
    }


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__)
        return 2
    spec = json.loads(Path(argv[1]).read_text())
    DIGEST.write_text(json.dumps(build(spec), indent=1, sort_keys=True) + "\n")
    print(f"wrote {DIGEST}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
