"""How long a source may take: one budget for its requests, its retries and its rate-limit waits."""

from __future__ import annotations

import time
from collections.abc import Callable


class TimeBudget:
    """A source's time budget, started when it is made.

    Time spent counts both the wall clock and the waits asked for through `wait`, so a recording
    `sleep` in tests uses the budget up as a real one would.

    Args:
        seconds: the budget.
        sleep: how to wait (tests pass a recorder).
        clock: the monotonic clock.
    """

    def __init__(
        self, seconds: float, sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic
    ):
        self.seconds = seconds
        self._sleep = sleep
        self._clock = clock
        self._started = clock()
        self._waited = 0.0

    @property
    def left(self) -> float:
        """Seconds of the budget not yet spent (negative once overspent)."""
        return self.seconds - max(self._clock() - self._started, self._waited)

    @property
    def spent(self) -> bool:
        """Whether nothing is left."""
        return self.left <= 0

    def wait(self, seconds: float) -> bool:
        """Wait `seconds` if the budget allows; False (without waiting) if it does not."""
        if seconds > self.left:
            return False
        self._sleep(seconds)
        self._waited += seconds
        return True
