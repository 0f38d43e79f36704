"""`python -m clients swarm --config SCENARIO --agents N [--host --port --admin-key --workers --duration]`."""

from __future__ import annotations

import sys

from .swarm import swarm_main


def main(argv: list[str]) -> int:
    if not argv or argv[0] != "swarm":
        print("usage: python -m clients swarm --config SCENARIO --agents N [--admin-key KEY] [--run-dir runs/server] "
              "[--host 127.0.0.1] [--port 7777] [--workers 2] [--duration 60] [--seed S]", file=sys.stderr)
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    return swarm_main(argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
