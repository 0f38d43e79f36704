"""The game journal, RUN_DIR/game.jsonl: what a game is that the exchange is not.

The exchange journal holds every command the game sends (accounts, deposits, orders, halts, index
moves), so the market and the scores replay from it. What is not exchange state is one JSON object
per line here, appended and fsynced as it happens: the game's set-up, each student (name, team,
account, the sha256 of the login), state changes (start, pause, resume, end) with the exchange's
clock and sequence number, news and shocks, resets, rule changes. Replaying the two journals
rebuilds the game (`replay.py`). A line torn by a crash is cut on open.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

GAME_LOG = "game.jsonl"


class GameLog:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.records: list[dict[str, Any]] = read_log(path)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        self._fh = os.fdopen(fd, "a")
        size = sum(len(json.dumps(r, separators=(",", ":")).encode()) + 1 for r in self.records)
        if os.fstat(fd).st_size != size:
            os.ftruncate(fd, size)

    def append(self, record: dict[str, Any]) -> None:
        self._fh.write(json.dumps(record, separators=(",", ":")) + "\n")
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self.records.append(record)

    def close(self) -> None:
        self._fh.close()


def read_log(path: Path) -> list[dict[str, Any]]:
    """The whole records of a game journal (none when it does not exist), stopping at a torn line."""
    if not path.exists():
        return []
    out = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if not line.endswith("\n"):
                break
            try:
                record = json.loads(line)
            except ValueError:
                break
            if not isinstance(record, dict):
                break
            out.append(record)
    return out
