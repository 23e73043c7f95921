"""How a wait polls: the interval between looks, the clock it measures with and the sleep it waits with.

One small value instead of the ``poll_s``/``clock``/``sleep`` group repeated in every class that waits (rollout,
teardown, the cache's mirror Jobs, the Kubernetes target). Tests pass ``Poller(interval_s=0)`` or a fake clock
through the constructor instead of patching attributes after construction. Each wait keeps its own timeout: how
long to wait is the caller's question, how to wait is this one's.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Poller:
    """``clock`` measures the wait (monotonic); ``now`` is the wall clock, to compare with the timestamps a server
    writes (a condition's ``lastTransitionTime``)."""

    interval_s: float = 3.0
    clock: Callable[[], float] = field(default=time.monotonic)
    sleep: Callable[[float], None] = field(default=time.sleep)
    now: Callable[[], datetime] = field(default=utc_now)

    def pause(self) -> None:
        """Wait one interval before the next look."""
        self.sleep(self.interval_s)


DEFAULT_POLLER = Poller()  # frozen, so one shared default is safe
