"""What every collector is handed besides its source and cursor."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from config.model import BrandConfig
from core.time_budget import TimeBudget
from transport.http import HttpClient


@dataclass(frozen=True)
class CollectionContext:
    """The inputs of one source's collector in a run; made when the source starts.

    Attributes:
        client: the shared HTTP client (politeness, robots.txt), bound to this source's time budget:
            every request it sends is charged to `time_budget()`. Its `policy` is the one retry policy,
            which platform collectors mount on the sessions they hand their SDKs.
        brands: brands then competitors: platform collectors build their searches from these terms.
        window: the run's collection window (start, end), timezone-aware; no collector reads the clock.
        credentials: by connection id (e.g. "twitter_default"): `{"login", "password", "host",
            "extra": {...}}`. Absent when not configured. Never logged, never staged, never stored.
        time_budget_seconds: how long the source may take; requests stop at its end, and waits for
            rate limits beyond it stop the source cleanly instead (see `time_budget`).
        sleep: how to wait (tests pass a recorder).
    """

    client: HttpClient
    brands: tuple[BrandConfig, ...]
    window: tuple[datetime, datetime]
    credentials: Mapping[str, Mapping[str, Any]] = field(default_factory=dict, repr=False)
    time_budget_seconds: float = 600.0
    sleep: Callable[[float], None] = time.sleep
    _budget: TimeBudget = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        budget = TimeBudget(self.time_budget_seconds, self.sleep)
        object.__setattr__(self, "_budget", budget)
        object.__setattr__(self, "client", self.client.within(budget))

    def time_budget(self) -> TimeBudget:
        """The source's one time budget of `time_budget_seconds`, started with the context, waited
        through `sleep`: `client` charges its requests to it, and platform sessions take it."""
        return self._budget
