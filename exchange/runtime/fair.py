"""Start-time fair queuing of keys with work (connections, producers): the key served next is the one
whose next service starts earliest in virtual time. Serving a key advances its virtual time by what
it was served; a key that was idle starts at the current virtual time (or at its own, if it is
ahead), and before keys that were already waiting at that time. So a client with one request waits
for no backlog of clients with thousands, every key gets an equal share under load, and none starves.
Each key comes with the source that does its work (for a connection, the connection itself)."""

from __future__ import annotations

import heapq
import itertools
from typing import Any

MAX_REMEMBERED = 4096  # idle keys whose virtual time is remembered (the ones ahead of the clock)


class FairOrder:
    def __init__(self) -> None:
        self._heap: list[tuple[int, int, Any, Any]] = []  # (2 * start + waited, tie, key, source)
        self._finish: dict[Any, int] = {}  # idle key -> virtual time its last service ended
        self._tie = itertools.count()
        self.vtime = 0

    def __len__(self) -> int:
        return len(self._heap)

    def add(self, key: Any, source: Any) -> None:
        """`key` had no work and now has some, done by `source`."""
        start = self._finish.pop(key, 0) if self._finish else 0
        heapq.heappush(self._heap, (2 * (start if start > self.vtime else self.vtime), next(self._tie), key, source))

    def pop(self) -> tuple[Any, Any]:
        """The key to serve now and its source; report what it was served with done()."""
        start, _, key, source = heapq.heappop(self._heap)
        self.vtime = start >> 1
        return key, source

    def done(self, key: Any, source: Any, served: int, more: bool) -> None:
        """The key just popped was served `served` units; `more`: it still has work."""
        finish = self.vtime + served
        if more:
            heapq.heappush(self._heap, (2 * finish + 1, next(self._tie), key, source))
            return
        self._finish[key] = finish
        if len(self._finish) > MAX_REMEMBERED:
            self._finish = {k: f for k, f in self._finish.items() if f > self.vtime}
            if len(self._finish) > MAX_REMEMBERED:
                self._finish.clear()
