"""Logging for the command line: quiet by default, key-free always.

-q shows errors only, the default shows warnings (retries), -v adds one line
per request and per table, -vv adds debug detail. dlt keeps its own logger,
set to warnings (RUNTIME__LOG_LEVEL) by the load layer.
"""

from __future__ import annotations

import logging

from rich.console import Console
from rich.logging import RichHandler

from klaviyo_connector.keys import RedactingFilter

_LEVELS = {-1: logging.ERROR, 0: logging.WARNING, 1: logging.INFO}


def level_for(verbosity: int) -> int:
    return _LEVELS.get(max(-1, verbosity), logging.DEBUG)


def configure_logging(verbosity: int, console: Console | None = None) -> None:
    """One redacting handler on the connector's logger."""
    handler = RichHandler(
        console=console or Console(stderr=True),
        show_path=False,
        markup=False,
        rich_tracebacks=False,
    )
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("klaviyo_connector")
    logger.handlers = [handler]
    logger.setLevel(level_for(verbosity))
    logger.propagate = False
