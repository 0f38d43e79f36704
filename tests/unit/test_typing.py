"""The core type-checks under mypy --strict (ARCHITECTURE convention: mypy clean on the core), against the
real types of its components and of sortedcontainers (sortedcontainers-stubs), so no call between two
components goes unchecked."""

from pathlib import Path

from mypy import api

CORE = Path(__file__).resolve().parents[2] / "exchange" / "core"


def test_core_is_mypy_strict_clean(tmp_path):
    out, err, status = api.run([str(CORE), "--strict", "--cache-dir", str(tmp_path / "cache")])
    assert status == 0, out + err
