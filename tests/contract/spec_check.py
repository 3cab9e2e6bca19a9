"""Checks requests and responses against Klaviyo's spec (revision 2026-07-15).

Reusable by any test that talks Klaviyo:

* `assert_request_valid(method, url)`: every query parameter is declared for
  the operation, enum values and page sizes are allowed, the filter passes
  the endpoint's whitelist.
* `assert_response_valid(method, url, status, body)`: the body validates against
  the operation's response schema in `stable.json` when that file is readable
  (set KLAVIYO_OPENAPI_SPEC to point elsewhere), and always against what the
  committed digest can tell (attribute names, error object shape).
* `RecordingTransport`: an httpx transport that records every exchange and can
  run both checks on the fly, e.g.
  `KlaviyoClient(key, transport=RecordingTransport(check_requests=True))`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
from jsonschema import Draft4Validator

from klaviyo_connector.sandbox.filters import FilterError, conditions, report_conditions
from klaviyo_connector.sandbox.server import Router
from klaviyo_connector.sandbox.spec import Operation, load_digest

DEFAULT_SPEC = "/work/shared/klaviyo-api/openapi/stable.json"
ERROR_KEYS = ("id", "code", "title", "detail")


def spec_path() -> Path:
    return Path(os.environ.get("KLAVIYO_OPENAPI_SPEC", DEFAULT_SPEC))


@cache
def load_spec() -> dict[str, Any] | None:
    """Klaviyo's OpenAPI document, or None when it is not readable here."""
    try:
        return json.loads(spec_path().read_text())
    except OSError:
        return None


def spec_missing_reason() -> str:
    where = spec_path()
    return f"Klaviyo's OpenAPI spec is not readable at {where} (KLAVIYO_OPENAPI_SPEC)"


def operation_for(method: str, url: str) -> Operation:
    path = urlsplit(url).path
    try:
        op, _ = Router(load_digest()).match(method.upper(), path)
    except Exception as error:
        raise AssertionError(
            f"{method} {path} is not an operation the spec declares"
        ) from error
    return op


# -- requests -------------------------------------------------------------------


def _check_param(op: Operation, name: str, value: str) -> None:
    if name not in op.params:
        raise AssertionError(f"{op.key}: query parameter {name!r} is not declared")
    allowed = op.enums.get(name)
    if allowed is not None:
        values = [value] if name == "sort" else value.split(",")
        bad = [v for v in values if v not in allowed]
        if bad:
            raise AssertionError(f"{op.key}: {name}={','.join(bad)} is not allowed")
    if name == "page[size]" and op.page_size is not None:
        size = int(value)
        if not op.page_size.minimum <= size <= op.page_size.maximum:
            raise AssertionError(f"{op.key}: page[size]={size} is out of bounds")
    if name == "filter":
        try:
            conditions(value, op.filters)
        except FilterError as error:
            raise AssertionError(f"{op.key}: filter {value!r}: {error}") from None


def assert_request_valid(method: str, url: str, body: Any = None) -> None:
    """Raise AssertionError when the request would break the spec's rules."""
    op = operation_for(method, url)
    query = parse_qsl(urlsplit(url).query, keep_blank_values=True)
    names = [name for name, _ in query]
    duplicated = {n for n in names if names.count(n) > 1}
    if duplicated:
        raise AssertionError(
            f"{op.key}: repeated query parameters {sorted(duplicated)}"
        )
    for name, value in query:
        _check_param(op, name, value)
    if op.operation_id == "get_campaigns":
        text = dict(query).get("filter")
        found = conditions(text, op.filters) if text else []
        if [c.field for c in found].count("messages.channel") != 1:
            raise AssertionError("GET /api/campaigns needs one messages.channel filter")
    if op.operation_id == "query_campaign_values" and body is not None:
        _check_values_body(body)


def _check_values_body(body: Mapping[str, Any]) -> None:
    attributes = body["data"]["attributes"]
    report = load_digest().values_report
    bad = [s for s in attributes["statistics"] if s not in report.statistics]
    if bad:
        raise AssertionError(f"values report: unknown statistics {bad}")
    for key in ("timeframe", "conversion_metric_id"):
        if key not in attributes:
            raise AssertionError(f"values report: {key} is required")
    if attributes.get("filter"):
        try:
            report_conditions(attributes["filter"])
        except FilterError as error:
            raise AssertionError(f"values report filter: {error}") from None


# -- responses ------------------------------------------------------------------


def _convert(node: Any, sparse: bool) -> Any:
    """OpenAPI 3.0 schema -> JSON Schema draft 4 (`nullable` becomes a null type).
    `sparse` drops `required`: a sparse fieldset leaves out required attributes."""
    if isinstance(node, list):
        return [_convert(n, sparse) for n in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("nullable", "example", "discriminator"):
            continue
        if key == "required" and sparse and isinstance(value, list):
            continue
        if key == "properties" and isinstance(value, dict):
            out[key] = {name: _convert(sub, sparse) for name, sub in value.items()}
        elif key == "oneOf":
            # Klaviyo's variants overlap (an email and an SMS tracking object can
            # be the same JSON) and carry no discriminator: one match is enough.
            out["anyOf"] = _convert(value, sparse)
        else:
            out[key] = _convert(value, sparse)
    if node.get("nullable") is True:
        if "type" in out and "$ref" not in out:
            out["type"] = [out["type"], "null"]
            if "enum" in out:
                out["enum"] = [*out["enum"], None]
        else:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


@cache
def _components(sparse: bool) -> dict[str, Any]:
    spec = load_spec()
    assert spec is not None
    components = _convert(spec["components"], sparse)
    # Real responses send "next": null and "prev": null on the last page; the
    # spec types both as plain strings.
    links = components["schemas"]["CollectionLinks"]["properties"]
    for name in ("next", "prev"):
        links[name]["type"] = ["string", "null"]
    return components


@cache
def _validator(schema_name: str, sparse: bool) -> Draft4Validator:
    components = _components(sparse)
    if schema_name.startswith("response:"):
        response = components["responses"][schema_name.split(":", 1)[1]]
        schema = next(iter(response["content"].values()))["schema"]
    else:
        schema = {"$ref": f"#/components/schemas/{schema_name}"}
    return Draft4Validator({**schema, "components": components})


def _schema_errors(schema_name: str, body: Any, sparse: bool) -> list[str]:
    validator = _validator(schema_name, sparse)
    errors = sorted(validator.iter_errors(body), key=lambda e: list(e.path))
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message[:300]}"
        for e in errors
    ]


def _digest_errors(op: Operation, status: int, body: Any) -> list[str]:
    if status >= 400:
        found = []
        for error in body.get("errors", [None]):
            if not isinstance(error, dict) or any(
                not isinstance(error.get(k), str) for k in ERROR_KEYS
            ):
                found.append(f"error object lacks one of {ERROR_KEYS}: {error!r}")
        return found
    data = body.get("data")
    records = [*(data if isinstance(data, list) else [data]), *body.get("included", [])]
    found = []
    for record in records:
        if op.operation_id == "query_campaign_values":
            continue
        allowed = op.enums.get(f"fields[{record['type']}]")
        extra = set(record.get("attributes", {})) - {
            a.split(".")[0] for a in allowed or ()
        }
        if allowed is not None and extra:
            found.append(
                f"{record['type']} has attributes not in the spec: {sorted(extra)}"
            )
    return found


def response_errors(method: str, url: str, status: int, body: Any) -> list[str]:
    """Every way the body breaks the spec (empty when it conforms)."""
    op = operation_for(method, url)
    problems = _digest_errors(op, status, body)
    if load_spec() is None:
        return problems
    if status >= 500:
        schema = "response:ServerError"
    elif status >= 400:
        schema = "response:ClientError"
    else:
        assert op.response_schema is not None
        schema = op.response_schema
    sparse = "fields%5B" in url or "fields[" in url
    return problems + _schema_errors(schema, body, sparse)


def assert_response_valid(method: str, url: str, status: int, body: Any) -> None:
    problems = response_errors(method, url, status, body)
    if problems:
        listing = "\n  ".join(problems[:20])
        raise AssertionError(f"{method} {url} ({status}) breaks the spec:\n  {listing}")


# -- recording ------------------------------------------------------------------


@dataclass
class Exchange:
    method: str
    url: str
    status: int
    body: Any  # parsed JSON, or None when the body is not JSON


class RecordingTransport(httpx.BaseTransport):
    """Records every exchange; optionally checks requests and responses."""

    def __init__(
        self,
        inner: httpx.BaseTransport | None = None,
        *,
        check_requests: bool = False,
        check_responses: bool = False,
    ) -> None:
        self.inner = inner or httpx.HTTPTransport()
        self.check_requests = check_requests
        self.check_responses = check_responses
        self.exchanges: list[Exchange] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        is_api = urlsplit(url).path.startswith("/api/")
        if self.check_requests and is_api:
            body = json.loads(request.content) if request.content else None
            assert_request_valid(request.method, url, body)
        response = self.inner.handle_request(request)
        content = response.read()
        try:
            parsed = json.loads(content) if content else None
        except ValueError:
            parsed = None
        self.exchanges.append(
            Exchange(request.method, url, response.status_code, parsed)
        )
        if self.check_responses and is_api and parsed is not None:
            assert_response_valid(request.method, url, response.status_code, parsed)
        return response

    def close(self) -> None:
        self.inner.close()
