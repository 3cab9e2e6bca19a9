"""Logging for the command line: quiet by default, key-free always.

-q shows errors only, the default shows warnings (retries), -v adds one line
per request and per table, -vv adds debug detail. dlt keeps its own logger
and format; its warnings show from -v on, since a failed load is already
said in the connector's own words.
"""

from __future__ import annotations

import logging

from rich.console import Console
from rich.logging import RichHandler

from klaviyo_connector.keys import RedactingFilter

_LEVELS = {-1: logging.ERROR, 0: logging.WARNING, 1: logging.INFO}
# Dates read the same everywhere (2026-03-01 12:00:00), not in the locale's way.
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


class _DltThreshold(logging.Filter):
    """Keeps dlt's own lines (its format, its jargon) out of normal output."""

    level = logging.CRITICAL

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= self.level


_DLT_THRESHOLD = _DltThreshold()


def level_for(verbosity: int) -> int:
    return _LEVELS.get(max(-1, verbosity), logging.DEBUG)


def configure_logging(verbosity: int, console: Console | None = None) -> None:
    """One redacting handler on the connector's logger; dlt's own lines
    only from -v on."""
    handler = RichHandler(
        console=console or Console(stderr=True),
        show_path=False,
        markup=False,
        rich_tracebacks=False,
        log_time_format=TIME_FORMAT,
        omit_repeated_times=False,
    )
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("klaviyo_connector")
    logger.handlers = [handler]
    logger.setLevel(level_for(verbosity))
    logger.propagate = False
    _DLT_THRESHOLD.level = logging.WARNING if verbosity >= 1 else logging.CRITICAL
    dlt_logger = logging.getLogger("dlt")
    if _DLT_THRESHOLD not in dlt_logger.filters:
        dlt_logger.addFilter(_DLT_THRESHOLD)
