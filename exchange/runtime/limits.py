"""The server's limits (one table: field, default, config key) and the token bucket behind its rates.

docs/operations.md explains each limit and what happens past it.
"""

from __future__ import annotations

import resource
import time
from dataclasses import dataclass, fields
from typing import Any

FD_RESERVE = 64  # descriptors kept free of connections: journal, snapshots, key file, logs, accept()


@dataclass(frozen=True, slots=True)
class Limits:
    max_frame: int = 64 * 1024  # bytes in one request frame
    max_outbox: int = 4 * 1024 * 1024  # unsent bytes of one connection
    max_outbox_total: int = 64 * 1024 * 1024  # unsent bytes of all connections together
    rate: float = 2000.0  # requests per second per connection (admin exempt)
    burst: float = 4000.0
    max_connections: int = 10_000  # also at most RLIMIT_NOFILE - FD_RESERVE
    hello_timeout_s: float = 10.0  # a connection must say hello within this
    login_timeout_s: float = 60.0  # ... and log in within this (0: anonymous connections may stay)
    login_failure_burst: float = 10.0  # failed logins per peer host before LOGIN_THROTTLED
    login_failure_rate: float = 0.5  # failed logins per second per peer host, sustained
    turn_requests: int = 1000  # requests the sequencer serves per turn, at most ...
    turn_ms: float = 2.0  # ... and for at most this long, before it flushes and lets sockets in

    def connection_cap(self) -> int:
        """max_connections, lowered to keep FD_RESERVE descriptors of the process's limit free."""
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft == resource.RLIM_INFINITY:
            return self.max_connections
        return max(1, min(self.max_connections, soft - FD_RESERVE))


# [server] key in the config file -> Limits field
CONFIG_KEYS = {
    "max_frame_bytes": "max_frame", "max_outbox_bytes": "max_outbox", "max_outbox_total_bytes": "max_outbox_total",
    "rate_limit_per_s": "rate", "rate_burst": "burst",
    "max_connections": "max_connections", "hello_timeout_s": "hello_timeout_s", "login_timeout_s": "login_timeout_s",
    "login_failure_burst": "login_failure_burst", "login_failure_rate_per_s": "login_failure_rate",
    "turn_requests": "turn_requests", "turn_ms": "turn_ms",
}
_TYPES = {f.name: type(f.default) for f in fields(Limits)}


def limits_from_config(server: dict[str, Any]) -> Limits:
    """Limits from a config's [server] table (absent keys keep their defaults); ValueError names a bad one."""
    values = {}
    for key, name in CONFIG_KEYS.items():
        if key in server:
            try:
                value = _TYPES[name](server[key])
            except (TypeError, ValueError):
                raise ValueError(f"[server] {key} = {server[key]!r} is not a number") from None
            if value < 0:
                raise ValueError(f"[server] {key} = {server[key]!r} must not be negative")
            values[name] = value
    return Limits(**values)


class TokenBucket:
    """`rate` events per second on average, bursts up to `burst`."""

    __slots__ = ("burst", "rate", "stamp", "tokens")

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.stamp = time.monotonic()

    def _refill(self) -> None:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def take(self) -> bool:
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        self._refill()
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False

    def has(self) -> bool:
        """A token is there (none is taken)."""
        if self.tokens < 1:
            self._refill()
        return self.tokens >= 1

    def full(self) -> bool:
        self._refill()
        return self.tokens >= self.burst


class LoginThrottle:
    """Failed logins per peer host, a token bucket each: an empty bucket refuses that host's logins
    (without looking at the key). A host's streak of failures is logged once when it starts and once
    when throttling starts; it ends (and is forgotten) when the bucket is full again."""

    MAX_HOSTS = 10_000

    def __init__(self, burst: float, rate: float, log: Any) -> None:
        self.burst = burst
        self.rate = rate
        self.log = log
        self.hosts: dict[str, tuple[TokenBucket, list[int]]] = {}  # host -> (bucket, [failures, refusals])

    def allowed(self, host: str) -> bool:
        entry = self.hosts.get(host)
        if entry is None:
            return True
        bucket, counts = entry
        if bucket.full():
            del self.hosts[host]
            return True
        if bucket.has():
            return True
        counts[1] += 1
        if counts[1] == 1:
            self.log.warning("login throttled", host=host, failures=counts[0], retry_per_s=self.rate)
        return False

    def failed(self, host: str, peer: str) -> None:
        entry = self.hosts.get(host)
        if entry is None:
            if len(self.hosts) >= self.MAX_HOSTS:
                self.hosts.clear()  # a flood of hosts: start over rather than grow
            entry = self.hosts[host] = (TokenBucket(self.rate, self.burst), [0, 0])
            self.log.warning("login failed", host=host, peer=peer)
        entry[0].take()
        entry[1][0] += 1
