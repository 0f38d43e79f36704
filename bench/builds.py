"""`python -m bench [NAME [options]] --compiled`: the same benchmarks on the pure-Python core, then on the
core compiled with mypyc, each in a process of its own; every result line says its build ("build").

Each build is a copy of the packages under runs/builds/: `pure`, without any compiled module, and
`compiled-<digest of the core's sources and setup.py>`, compiled once by `setup.py build_ext --inplace`
with LIQUIDEX_MYPYC=1 (mypy, which brings mypyc, is in the test extra) and kept while the sources stay
the same. Whatever this checkout's own install is, pure or compiled, both builds are run, each from its
copy (what a bench writes under a relative path lands there). Each ratio is still taken against its
reference timed in the same process: the two builds are two runs.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILDS = ROOT / "runs" / "builds"
TREES = ("exchange", "bench", "configs")
FILES = ("setup.py", "pyproject.toml", "README.md")


def _copy(dest: Path) -> Path:
    """Fill `dest` with the packages' sources, afresh; compiled modules already there stay."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in TREES:
        shutil.copytree(ROOT / name, dest / name, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__", "*.so"))
    for name in FILES:
        shutil.copy2(ROOT / name, dest / name)
    return dest


def pure() -> Path:
    shutil.rmtree(BUILDS / "pure", ignore_errors=True)
    return _copy(BUILDS / "pure")


def compiled() -> Path:
    sources = sorted((ROOT / "exchange" / "core").glob("*.py")) + [ROOT / "setup.py"]
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in sources)).hexdigest()[:12]
    dest = BUILDS / f"compiled-{digest}"
    if any((dest / "exchange" / "core").glob("*.so")):
        return _copy(dest)  # the same core: its compiled modules serve, the rest is brought up to date
    for old in BUILDS.glob("compiled-*"):
        shutil.rmtree(old)
    _copy(dest)
    print(f"bench: compiling the core with mypyc into {dest} (a few minutes, once per version of it)", file=sys.stderr)
    done = subprocess.run([sys.executable, "setup.py", "build_ext", "--inplace"], cwd=dest, capture_output=True,
                          text=True, env={**os.environ, "LIQUIDEX_MYPYC": "1"})
    if done.returncode:
        shutil.rmtree(dest)
        raise RuntimeError(f"the mypyc build failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return dest


def run(argv: list[str]) -> int:
    """`python -m bench ARGV` in the pure build, then in the compiled one; their lines go to stdout."""
    status = 0
    for make in (pure, compiled):
        tree = make()
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (str(tree), os.environ.get("PYTHONPATH"))))}
        status = subprocess.run([sys.executable, "-m", "bench", *argv], cwd=tree, env=env).returncode or status
    return status
