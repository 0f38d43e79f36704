"""Golden scenarios: a scripted TOML file of commands -> the exact event stream, stored next to it.

Each scenarios/NAME.toml holds `[[step]]` tables (`cmd` = a command name, the other keys its fields, in
core units: ticks, lots, cash units). Steps are applied one second apart. The expected stream is
scenarios/NAME.events.jsonl: one JSON line per event ({"seq", "event", fields...}), then one line with
each account's wallet and positions and the book depth. After a deliberate change of behaviour,
regenerate with `GOLDEN_UPDATE=1 python -m pytest tests/golden` and review the diff.
"""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path

import pytest
from conftest import Driver

from exchange.core import Exchange
from exchange.core.commands import BUY, COMMANDS_BY_NAME, SELL

SCENARIOS = Path(__file__).parent / "scenarios"
UPDATE = os.environ.get("GOLDEN_UPDATE") == "1"


def load_steps(path: Path) -> list:
    with open(path, "rb") as fh:
        data = tomllib.load(fh)
    steps = []
    for step in data["step"]:
        fields = dict(step)
        steps.append(COMMANDS_BY_NAME[fields.pop("cmd")](**fields))
    return steps


def event_lines(ex: Exchange, steps: list) -> list[str]:
    drive = Driver(ex)
    lines = []
    for cmd in steps:
        for event in drive(cmd):
            lines.append(json.dumps({"seq": drive.seq, "event": type(event).__name__, **event._asdict()}))
    ex.check_invariants()
    final = {
        "accounts": {str(a.id): {"cross_wallet": a.cross_wallet,
                                 "positions": {s: [p.size, p.cost, p.realized_pnl] for s, p in a.positions.items() if p.size or p.realized_pnl}}
                     for a in ex.accounts.values()},
        "books": {s: {"bids": b.depth(BUY), "asks": b.depth(SELL)} for s, b in ex.books.items()},
        "fees_collected": ex.fees_collected,
    }
    lines.append(json.dumps({"final": final}))
    return lines


@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("*.toml")), ids=lambda p: p.stem)
def test_golden_scenario(path, config):
    ex = Exchange(config.instruments, config.initial_insurance_fund_cash)
    got = event_lines(ex, load_steps(path))
    expected_path = path.with_suffix(".events.jsonl")
    if UPDATE:
        expected_path.write_text("\n".join(got) + "\n")
    expected = expected_path.read_text().splitlines()
    for i, (g, e) in enumerate(zip(got, expected)):
        assert g == e, f"{path.name}: line {i + 1} differs\n got: {g}\nwant: {e}"
    assert len(got) == len(expected), f"{path.name}: {len(got)} lines, expected {len(expected)}"


def test_there_are_golden_scenarios():
    names = {p.stem for p in SCENARIOS.glob("*.toml")}
    assert {"sweep", "stop_cascade", "stp"} <= names
    assert all((SCENARIOS / f"{n}.events.jsonl").exists() for n in names)
