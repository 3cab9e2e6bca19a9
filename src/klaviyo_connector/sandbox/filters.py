"""Klaviyo's `filter` grammar: parse `and(equals(f,'x'),greater-than(g,<dt>))` and
check it against an endpoint's whitelist of fields and operators."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from klaviyo_connector.sandbox.spec import FilterRule
from klaviyo_connector.sandbox.store import Condition

_PARENS = "Invalid filter provided. Verify your parentheses match."
_PUNCT = "()[],"
# A "+00:00" offset sent unencoded in a query string arrives as " 00:00".
_SPACE_OFFSET = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)? \d\d:?\d\d$")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


class FilterError(ValueError):
    """A filter the endpoint refuses; the message is the error `detail`."""


@dataclass(frozen=True)
class Token:
    kind: str  # "str", "bare" or one of _PUNCT
    text: str


@dataclass(frozen=True)
class RawValue:
    kind: str  # "str", "bare" or "list"
    text: str = ""
    items: tuple[RawValue, ...] = ()


@dataclass(frozen=True)
class Call:
    op: str
    field: str
    value: RawValue | None


def _check_parentheses(text: str) -> None:
    depth, quote = 0, ""
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                raise FilterError(_PARENS)
    if depth or quote:
        raise FilterError(_PARENS)


def _read_string(text: str, start: int) -> tuple[Token, int]:
    quote, i, out = text[start], start + 1, []
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
            continue
        if char == quote:
            return Token("str", "".join(out)), i + 1
        out.append(char)
        i += 1
    raise FilterError(_PARENS)


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char in _PUNCT:
            tokens.append(Token(char, char))
            i += 1
        elif char in "'\"":
            token, i = _read_string(text, i)
            tokens.append(token)
        elif char.isspace():
            i += 1
        else:
            j = i
            while j < len(text) and text[j] not in _PUNCT and text[j] not in "'\"":
                j += 1
            tokens.append(Token("bare", text[i:j].strip()))
            i = j
    return tokens


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.pos = 0

    def peek(self) -> Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, kind: str) -> Token:
        token = self.peek()
        if token is None or token.kind != kind:
            found = "the end" if token is None else repr(token.text)
            raise FilterError(
                f"Invalid filter provided: expected {kind!r}, got {found}."
            )
        self.pos += 1
        return token

    def expressions(self) -> list[Call]:
        calls = self.expression()
        while self.peek() is not None and self.peek() == Token(",", ","):
            self.pos += 1
            calls += self.expression()
        return calls

    def expression(self) -> list[Call]:
        op = self.take("bare").text
        self.take("(")
        if op == "and":
            calls = self.expressions()
        elif op in ("or", "not"):
            raise FilterError(f"'{op}' is not a supported filter operation.")
        elif op == "has":
            calls = [Call(op, self.take("bare").text, None)]
        else:
            field = self.take("bare").text
            self.take(",")
            calls = [Call(op, field, self.value())]
        self.take(")")
        return calls

    def value(self) -> RawValue:
        token = self.peek()
        if token is not None and token.kind == "[":
            return self.list_value()
        if token is None or token.kind not in ("str", "bare"):
            raise FilterError("Invalid filter provided: a value is missing.")
        self.pos += 1
        return RawValue(token.kind, token.text)

    def list_value(self) -> RawValue:
        self.take("[")
        items: list[RawValue] = []
        while self.peek() is not None and self.peek() != Token("]", "]"):
            if items:
                self.take(",")
            items.append(self.value())
        self.take("]")
        return RawValue("list", items=tuple(items))


def parse(text: str) -> list[Call]:
    """The conditions of a filter string, ANDed; raises FilterError."""
    if not text.strip():
        raise FilterError("Invalid filter provided: the filter is empty.")
    _check_parentheses(text)
    parser = _Parser(tokenize(text))
    calls = parser.expressions()
    if parser.peek() is not None:
        raise FilterError(f"Invalid filter provided near {parser.peek().text!r}.")  # type: ignore[union-attr]
    return calls


def parse_datetime(text: str) -> datetime:
    """A bare ISO-8601 datetime (or date) from a filter; naive means UTC."""
    value = parse_wall_clock(text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def parse_wall_clock(text: str) -> datetime:
    """An ISO-8601 datetime (or date) as written, with its offset if it has one."""
    if _SPACE_OFFSET.match(text):
        raise FilterError(
            f"Invalid date-time '{text}': the '+' of its UTC offset arrived as a "
            "space. Send it URL-encoded as %2B, or use 'Z'."
        )
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise FilterError(f"'{text}' is not a valid date-time.") from None


def _scalar(raw: RawValue, field: str, rule: FilterRule) -> Any:
    if raw.kind == "list":
        raise FilterError(f"A list is not a valid value for '{field}' here.")
    if rule.is_datetime:
        if raw.kind != "bare":
            raise FilterError(f"'{field}' takes an unquoted date-time.")
        return parse_datetime(raw.text)
    if rule.type == "boolean":
        if raw.kind != "bare" or raw.text not in ("true", "false"):
            raise FilterError(f"'{raw.text}' is not a valid boolean for '{field}'.")
        return raw.text == "true"
    if rule.type in ("integer", "number"):
        if raw.kind != "bare" or not _NUMBER.match(raw.text):
            raise FilterError(f"'{raw.text}' is not a valid number for '{field}'.")
        return float(raw.text) if "." in raw.text else int(raw.text)
    if raw.kind != "str":
        raise FilterError(f"'{raw.text}' must be a quoted string for '{field}'.")
    if rule.enum is not None and raw.text not in rule.enum:
        raise FilterError(f"'{raw.text}' is not a valid value for '{field}'.")
    return raw.text


def _condition(
    call: Call, rules: Mapping[str, FilterRule], max_items: int
) -> Condition:
    rule = rules.get(call.field)
    if rule is None:
        raise FilterError(f"'{call.field}' is not a valid field for this filter.")
    if call.value is None or call.op not in rule.single | rule.list:
        raise FilterError(
            f"'{call.op}' is not an allowed operator for the field '{call.field}'."
        )
    if call.value.kind == "list":
        if call.op not in rule.list:
            raise FilterError(f"'{call.op}' on '{call.field}' takes a single value.")
        if len(call.value.items) > max_items:
            raise FilterError(f"At most {max_items} items are allowed in a list.")
        return Condition(
            call.field,
            call.op,
            [_scalar(v, call.field, rule) for v in call.value.items],
        )
    if call.op not in rule.single:
        raise FilterError(f"'{call.op}' on '{call.field}' takes a list of values.")
    return Condition(call.field, call.op, _scalar(call.value, call.field, rule))


def conditions(
    text: str, rules: Mapping[str, FilterRule], *, max_items: int = 10_000
) -> list[Condition]:
    """Parse and check a filter against a whitelist; raises FilterError."""
    return [_condition(call, rules, max_items) for call in parse(text)]


def _report_rule(
    single: tuple[str, ...], many: tuple[str, ...], enum: Any = None
) -> FilterRule:
    return FilterRule(frozenset(single), frozenset(many), "string", None, enum)


_SCALAR = _report_rule(("equals",), ("contains-any",))
_TAGS = _report_rule((), ("contains-any", "contains-all"))
SEND_CHANNELS = ("email", "sms", "push-notification", "whatsapp")

# The body filter of values reports, from the request schema's description.
VALUES_REPORT_RULES: dict[str, FilterRule] = {
    "send_channel": _report_rule(("equals",), ("contains-any",), SEND_CHANNELS),
    **{
        name: _SCALAR
        for name in (
            "campaign_id",
            "campaign_message_id",
            "campaign_message_name",
            "variation",
            "variation_name",
            "text_message_format",
        )
    },
    "tag_id": _TAGS,
    "tag_name": _TAGS,
}


def report_conditions(text: str) -> list[Condition]:
    """A values-report body filter: only and(...), one condition per attribute."""
    if re.search(r"(^|[(,\s])(or|not)\s*\(", text):
        raise FilterError("Only 'and' can be used to combine filters.")
    found = conditions(text, VALUES_REPORT_RULES, max_items=100)
    fields = [c.field for c in found]
    for field in fields:
        if fields.count(field) > 1:
            raise FilterError(f"Only one filter can be used per attribute ('{field}').")
    return found
