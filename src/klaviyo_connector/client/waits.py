"""Waits long enough to tell a user about: the pacer holding a request back,
or a retry backing off, described in plain words for progress displays."""

from __future__ import annotations

from dataclasses import dataclass

# Shorter waits are the ordinary rhythm of pacing; past this a table looks stuck.
WAIT_WORTH_TELLING = 2.0


@dataclass(frozen=True)
class WaitInfo:
    """A request about to wait, as handed to an `on_wait` callback.

    `cause` is "pacing" (Klaviyo's published limit is used up) or the kind of
    failure a retry waits after: "throttled" (429), "server" (5xx), "html",
    "body" (an answer cut short or malformed), "transport" or "connect" (no answer)."""

    endpoint: str  # the registry template, e.g. /api/profiles
    seconds: float
    cause: str = "pacing"
    status: int | None = None
    detail: str = ""  # what went wrong, for failures without a status
    attempt: int | None = None  # the attempt that follows the wait
    attempts: int | None = None  # how many the policy allows; None for 429s

    @property
    def note(self) -> str:
        """One line for a progress display; it names no key, query or body."""
        seconds = f"{self.seconds:.0f} s"
        if self.cause == "pacing":
            return f"waiting {seconds} for Klaviyo's rate limit on {self.endpoint}"
        return f"{self._what()}; retrying in {seconds}{self._count()}"

    def _what(self) -> str:
        where = f"on {self.endpoint}"
        if self.cause == "throttled":
            return f"Klaviyo answered 429 (rate limit) {where}"
        if self.cause == "html" and self.status is not None:
            return f"Klaviyo answered {self.status} with a web page {where}"
        if self.cause == "body":
            return f"Klaviyo's answer {where} was cut short or malformed"
        if self.status is not None:
            return f"Klaviyo answered {self.status} {where}"
        detail = f" ({self.detail})" if self.detail else ""
        return f"no answer from Klaviyo {where}{detail}"

    def _count(self) -> str:
        if self.attempt is None:
            return ""
        if self.attempts is None:
            return f" (attempt {self.attempt})"
        return f" (attempt {self.attempt} of {self.attempts})"
