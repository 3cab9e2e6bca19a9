"""When to try a request again, and how long to wait first (tenacity).

A 429 waits exactly what Klaviyo's `Retry-After` says (plus a little jitter so
threads do not return together) for as long as the total stays within
`max_wait`. Server errors, dropped connections and cut-short bodies back off
exponentially with jitter, up to `max_attempts` tries."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception_type

from klaviyo_connector.client.responses import Retryable

log = logging.getLogger("klaviyo_connector.client")

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 8
    max_wait: float = 300.0
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    # A proxy's HTML 403 sometimes clears (a bot check); rarely on the third try.
    html_attempts: int = 3
    # A host that cannot be resolved or refuses connections is down or
    # misaddressed; minutes of retries would only delay saying so.
    connect_attempts: int = 3

    def backoff(self, failures: int) -> float:
        """Equal jitter: half the capped exponential step fixed, half random."""
        step = min(self.backoff_max, self.backoff_initial * 2 ** max(failures - 1, 0))
        return step / 2 + random.uniform(0, step / 2)


def throttle_wait(retry_after: float) -> float:
    return retry_after + random.uniform(0, min(1.0, 0.1 * retry_after + 0.05))


@dataclass(frozen=True)
class Backoff:
    """A retry about to wait, as handed to an `on_retry` callback."""

    failure: Retryable
    wait: float
    # The attempt that follows, counting failures other than 429s, and how
    # many the policy allows for this kind of failure; None for a 429, which
    # waits as Klaviyo says for as long as `max_wait` allows.
    attempt: int | None
    attempts: int | None


class _Budget:
    """Bookkeeping for one logical request across its attempts."""

    def __init__(
        self,
        policy: RetryPolicy,
        clock: Callable[[], float],
        where: str,
        on_retry: Callable[[Backoff], None] | None,
    ) -> None:
        self.policy, self.clock, self.where = policy, clock, where
        self.on_retry = on_retry
        self.started = clock()
        self.failures = 0
        self.attempts = 0
        self.next_wait = 0.0
        self.give_up = False

    def _plan(self, state: RetryCallState) -> tuple[bool, float]:
        """Decide once per failed attempt (tenacity asks `wait` and `stop`
        separately, in an order that changed between its versions)."""
        if state.attempt_number != self.attempts:
            self.attempts = state.attempt_number
            failure = _failure(state)
            self.next_wait = self._wait_for(failure)
            self.give_up = self._out_of_budget(failure)
        return self.give_up, self.next_wait

    def _out_of_budget(self, failure: Retryable) -> bool:
        if failure.kind != "throttled":
            self.failures += 1
            if self.failures >= self._limit(failure):
                return True
        elapsed = self.clock() - self.started
        return elapsed + self.next_wait > self.policy.max_wait

    def _limit(self, failure: Retryable) -> int:
        if failure.kind == "html":
            return min(self.policy.max_attempts, self.policy.html_attempts)
        if failure.kind == "connect":
            return min(self.policy.max_attempts, self.policy.connect_attempts)
        return self.policy.max_attempts

    def _wait_for(self, failure: Retryable) -> float:
        if failure.kind == "throttled" and failure.retry_after is not None:
            return throttle_wait(failure.retry_after)
        backoff = self.policy.backoff(self.failures + 1)
        return max(backoff, failure.retry_after or 0.0)

    def stop(self, state: RetryCallState) -> bool:
        return self._plan(state)[0]

    def wait(self, state: RetryCallState) -> float:
        return self._plan(state)[1]

    def before_sleep(self, state: RetryCallState) -> None:
        failure = _failure(state)
        # A 429 is waited out within max_wait and takes no attempt: only
        # other failures count toward the attempts a request may make.
        counted = failure.kind != "throttled"
        attempt = self.failures + 1 if counted else None
        limit = self._limit(failure) if counted else None
        log.warning(
            "%s: %s; retrying in %.2fs%s",
            self.where,
            failure.reason,
            self.next_wait,
            f" (attempt {attempt} of {limit})" if counted else "",
        )
        if self.on_retry is not None:
            self.on_retry(Backoff(failure, self.next_wait, attempt, limit))

    def final_error(self, failure: Retryable) -> Exception:
        """The typed error, saying how long the connector kept trying."""
        error = failure.error
        elapsed = self.clock() - self.started
        limit = self.policy.max_wait
        if failure.kind == "throttled" and (failure.retry_after or 0) > limit:
            note = (
                f"Klaviyo asked to wait {failure.retry_after:.0f} s, longer than "
                f"max_wait ({limit:.0f} s); the next sync continues where this "
                "one stopped."
            )
            error.fix = "To wait longer, raise max_wait (KLAVIYO_MAX_WAIT)."
        elif failure.kind == "throttled":
            note = f"Waited {elapsed:.0f} s in total, the most the connector waits."
        else:
            note = f"Gave up after {self.attempts} attempts."
        error.message = f"{error.message} {note}"
        error.args = (error.message,)
        return error


def _failure(state: RetryCallState) -> Retryable:
    assert state.outcome is not None
    failure = state.outcome.exception()
    assert isinstance(failure, Retryable)
    return failure


def call_with_retries(
    attempt: Callable[[], T],
    *,
    policy: RetryPolicy,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    where: str,
    on_retry: Callable[[Backoff], None] | None = None,
) -> T:
    """Run `attempt` until it returns, raises a final error, or the budget ends."""
    budget = _Budget(policy, clock, where, on_retry)
    retrying = Retrying(
        retry=retry_if_exception_type(Retryable),
        stop=budget.stop,
        wait=budget.wait,
        sleep=sleep,
        before_sleep=budget.before_sleep,
        reraise=True,
    )
    try:
        return retrying(attempt)
    except Retryable as failure:
        raise budget.final_error(failure) from None
