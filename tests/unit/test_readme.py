"""README.md names only what exists: its commands, scenarios, configs, docs and benchmarks (the commands
themselves run in the docs' tests and in .ci/run)."""

from __future__ import annotations

import re
from pathlib import Path

from bench.__main__ import BENCHES, MODULES
from exchange.__main__ import COMMANDS

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text()


def test_every_exchange_command_of_the_readme_exists_and_every_command_is_shown():
    named = set(re.findall(r"python -m exchange ([a-z-]+)", README))
    named |= set(re.findall(r"/ `(fork) RUN_DIR", README))
    if re.search(r"&& python -m exchange$", README, re.M):
        named.add("demo")  # the quick start's command, with no name, runs the demo
    assert named <= set(COMMANDS), named - set(COMMANDS)
    assert set(COMMANDS) <= named, f"not in the README: {set(COMMANDS) - named}"


def test_the_benchmarks_listed_are_the_benchmarks():
    listed = re.search(r"python -m bench \[([a-z|\\]+)\]", README).group(1).replace("\\", "").split("|")
    assert listed == list(BENCHES)
    assert all(f"python -m bench {name}" in README for name in MODULES)


def test_every_path_the_readme_names_exists():
    paths = set(re.findall(r"`((?:docs|configs|bench|exchange|clients|tests)/[\w./-]*)`", README))
    paths |= set(re.findall(r"^((?:exchange|clients|configs|bench|tests)/[\w/]*)\s", README, re.M))
    assert paths, "the README names no path"
    missing = sorted(p for p in paths if not (REPO / p).exists())
    assert not missing, missing


def test_the_scenarios_the_readme_names_are_scenarios():
    row = next(line for line in README.splitlines() if "python -m exchange simulate SCENARIO" in line)
    names = re.findall(r"`([a-z_0-9]+)`", row.split("configs/scenarios/")[1])
    assert names and all((REPO / "configs" / "scenarios" / f"{n}.toml").exists() for n in names)
    for command in ("compare-margin", "compare-venues"):
        scenario = re.search(rf"python -m exchange {command} ([a-z_]+)", README).group(1)
        assert (REPO / "configs" / "scenarios" / f"{scenario}.toml").exists()


def test_every_guide_in_docs_is_in_the_readme():
    guides = {f"docs/{p.name}" for p in (REPO / "docs").glob("*.md")}
    assert guides <= set(re.findall(r"`(docs/[\w-]+\.md)`", README)), guides
