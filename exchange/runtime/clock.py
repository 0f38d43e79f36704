"""Clocks for the shell: wall time, optionally running faster than real time. The core never reads one."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def now_ns(self) -> int: ...

    def wall_seconds(self, clock_seconds: float) -> float: ...


class WallClock:
    """Wall time from `start_ns` (default: now), advancing `speed` times as fast as real time."""

    def __init__(self, speed: float = 1.0, start_ns: int | None = None) -> None:
        if not speed > 0:
            raise ValueError(f"clock speed {speed} must be positive")
        self.speed = speed
        self._base = time.time_ns() if start_ns is None else start_ns
        self._mono0 = time.monotonic_ns()

    def now_ns(self) -> int:
        return self._base + int((time.monotonic_ns() - self._mono0) * self.speed)

    def wall_seconds(self, clock_seconds: float) -> float:
        """Real seconds that `clock_seconds` of this clock take."""
        return clock_seconds / self.speed
