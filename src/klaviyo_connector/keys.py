"""The API key type and the one redaction helper everything else uses."""

from __future__ import annotations

import logging
import re
from typing import Any

from pydantic_core import core_schema

from klaviyo_connector.errors import ConfigError

_PRIVATE_KEY = re.compile(r"pk_[A-Za-z0-9]{6,}")
_ALLOWED = re.compile(r"[A-Za-z0-9_-]+")
# A public key (site ID) is six letters and digits, and only works in browsers.
_PUBLIC_KEY = re.compile(r"[A-Za-z0-9]{6}")
_WHERE_KEYS_ARE = "Klaviyo > Settings > API Keys"
_NOT_ALLOWED = "a character that isn't allowed"


def mask(key: str) -> str:
    """`pk_…abcd`: enough to tell keys apart, never enough to use one."""
    if len(key) <= 8:
        return "…"
    prefix = "pk_" if key.startswith("pk_") else ""
    return f"{prefix}…{key[-4:]}"


class ApiKey:
    """A Klaviyo private key whose str, repr and format are always masked."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value.strip()

    def reveal(self) -> str:
        return self._value

    @property
    def masked(self) -> str:
        return mask(self._value)

    @property
    def is_private(self) -> bool:
        return self._value.startswith("pk_")

    def __repr__(self) -> str:
        return f"ApiKey({self.masked!r})"

    def __str__(self) -> str:
        return self.masked

    def __format__(self, spec: str) -> str:
        return self.masked

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ApiKey) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> Any:
        return core_schema.no_info_plain_validator_function(
            lambda v: v if isinstance(v, ApiKey) else ApiKey(str(v)),
            serialization=core_schema.plain_serializer_function_ser_schema(
                lambda v: v.masked
            ),
        )


def _bad_character(value: str) -> str | None:
    """What kind of character spoils the key, never the key or the character."""
    if _ALLOWED.fullmatch(value):
        return None
    if any(char.isspace() for char in value):
        return "a space or line break"
    if not value.isascii():
        return f"{_NOT_ALLOWED} (often an invisible one from copy and paste)"
    return _NOT_ALLOWED


def check_private_key(key: ApiKey) -> None:
    """Refuses, before any request, a value that cannot be a private key;
    the message never repeats the value."""
    value = key.reveal()
    if not value:
        raise ConfigError("The Klaviyo API key is empty.")
    bad = _bad_character(value)
    if bad is not None:
        raise ConfigError(
            f"The API key contains {bad}.",
            fix=f"Copy the private key again from {_WHERE_KEYS_ARE}, or type it in.",
        )
    if key.is_private:
        return
    if _PUBLIC_KEY.fullmatch(value):
        raise ConfigError(
            "That is a public key (site ID), which only works in the browser.",
            fix="Create a private API key (it starts with pk_) in "
            f"{_WHERE_KEYS_ARE}, with read access.",
        )
    raise ConfigError(
        "That doesn't look like a Klaviyo private API key (they start with pk_).",
        fix=f"Copy a private key from {_WHERE_KEYS_ARE}.",
    )


def redact(text: str, *secrets: str) -> str:
    """Replace every given secret, and anything shaped like a private key."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, mask(secret))
    return _PRIVATE_KEY.sub(lambda m: mask(m.group(0)), text)


class RedactingFilter(logging.Filter):
    """Masks private keys in every record that passes through a handler, its
    traceback included."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            # Formatters reuse exc_text, so the masked traceback is what prints.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True
