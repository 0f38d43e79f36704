"""Parameter overrides of a scenario, `PATH=VALUE`, as used by `sweep --set` and `fork --set`.

A path is dotted. Its first part is a top-level key of the scenario (`seed`, `duration_s`,
`insurance_fund_usdt`, `feed.BTCUSDT.volatility`, `feed.BTCUSDT.shocks.0.pct`,
`instruments.BTCUSDT.mark_method`), or an agent group: `crowd.leverage` sets the parameter
`leverage` of every `[[agents]]` group of kind `crowd` (or whose `agent` class is named so), and
`crowd.count` (also `latency_ms`, `jitter_ms`, `symbol`) sets that field of the group itself.
Values are TOML values (`20`, `0.5`, `"last"`, `[10, 20]`); a bare word is a string.
"""

from __future__ import annotations

import copy
import tomllib
from typing import Any

GROUP_FIELDS = ("count", "latency_ms", "jitter_ms", "symbol")
MAX_PATH = 200


def parse_value(text: str) -> Any:
    """A TOML value, or the text itself when it is not one (a bare word)."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text.strip()


def parse_assignment(text: str) -> tuple[str, Any]:
    """`PATH=VALUE` -> (path, value)."""
    path, eq, value = text.partition("=")
    path = path.strip()
    if not eq or not path or len(path) > MAX_PATH:
        raise ValueError(f"override {text!r} is not PATH=VALUE")
    return path, parse_value(value)


def _group_matches(group: dict[str, Any], name: str) -> bool:
    return group.get("kind") == name or str(group.get("agent", "")).rpartition(":")[2] == name


def _set(node: Any, keys: list[str], value: Any, path: str) -> None:
    for i, key in enumerate(keys):
        last = i == len(keys) - 1
        if isinstance(node, list):
            if not key.isdigit() or int(key) >= len(node):
                raise ValueError(f"override {path!r}: {key!r} is not an index of a list of {len(node)}")
            if last:
                node[int(key)] = value
            else:
                node = node[int(key)]
        elif isinstance(node, dict):
            if last:
                node[key] = value
            else:
                node = node.setdefault(key, {})
        else:
            raise ValueError(f"override {path!r}: {'.'.join(keys[:i])!r} is a value, not a table")


def apply_overrides(data: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """A copy of the scenario tables with each override applied, in order."""
    out = copy.deepcopy(data)
    for path, value in overrides.items():
        keys = path.split(".")
        groups = [g for g in out.get("agents", []) if _group_matches(g, keys[0])]
        if groups and keys[0] not in out:
            if len(keys) != 2:
                raise ValueError(f"override {path!r}: an agent group takes GROUP.PARAM")
            for g in groups:
                if keys[1] in GROUP_FIELDS:
                    g[keys[1]] = value
                else:
                    g.setdefault("params", {})[keys[1]] = value
        elif keys[0] in ("seed", "duration_s", "insurance_fund_usdt", "name", "description", "feed",
                         "instruments", "agents", "symbols", "config"):
            _set(out, keys, value, path)
        else:
            kinds = sorted({str(g.get("kind") or g.get("agent")) for g in out.get("agents", [])})
            raise ValueError(f"override {path!r}: {keys[0]!r} is neither a scenario key nor an agent group "
                             f"({', '.join(kinds)})")
    return out
