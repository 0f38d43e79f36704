"""The core type-checks cleanly (ARCHITECTURE convention: mypy clean on the core)."""

from pathlib import Path

from mypy import api

CORE = Path(__file__).resolve().parents[2] / "exchange" / "core"


def test_core_is_mypy_clean(tmp_path):
    out, err, status = api.run([str(CORE), "--ignore-missing-imports", "--cache-dir", str(tmp_path / "cache")])
    assert status == 0, out + err
