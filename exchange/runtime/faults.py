"""Unexpected exceptions in the shell, logged once per kind: the first with its traceback, repeats
counted and summarised at most once a minute (a client repeating a failing request cannot flood the log)."""

from __future__ import annotations

import time
from typing import Any

SUMMARY_EVERY_S = 60.0


def describe(exc: BaseException) -> str:
    """'TypeName: message', short, whatever the exception holds (its str may recurse or be huge)."""
    try:
        text = str(exc)
    except Exception:  # noqa: BLE001 - a hostile value inside the exception
        text = "?"
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__


class FaultLog:
    def __init__(self, log: Any) -> None:
        self.log = log
        self.seen: dict[tuple[str, type], list[float]] = {}  # (where, type) -> [repeats, last report]
        self.total = 0

    def __call__(self, where: str, exc: BaseException, **fields: Any) -> None:
        """Report an exception caught at `where` (e.g. "apply", "request", "publish")."""
        self.total += 1
        key = (where, type(exc))
        now = time.monotonic()
        entry = self.seen.get(key)
        if entry is None:
            self.seen[key] = [0, now]
            self.log.error("internal error", where=where, error=describe(exc), exc_info=exc, **fields)
            return
        entry[0] += 1
        if now - entry[1] >= SUMMARY_EVERY_S:
            self.log.error("internal error repeated", where=where, error=type(exc).__name__, repeats=int(entry[0]),
                           **fields)
            entry[0], entry[1] = 0, now
