"""The simulation report, opened in a real headless Chromium, shows its plots (not broken images)."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from matplotlib.image import imread

from exchange.sim.report import write_report
from exchange.sim.runner import run_scenario

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.mark.browser
def test_report_renders_its_plots_in_chromium(small, tmp_path):
    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium is needed: apt-get install chromium (.ci/run does)"
    sim, summary = run_scenario(small, tmp_path / "run")
    page = write_report(sim, summary, tmp_path / "run")
    shot = tmp_path / "page.png"
    subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1000,3000",
                    f"--screenshot={shot}", page.as_uri()], check=True, capture_output=True, timeout=120)
    pixels = imread(shot)[..., :3]
    # the plots' coloured lines, bars and markers: pixels far from grey (text and frames are black or grey)
    saturated = (pixels.max(axis=2) - pixels.min(axis=2)) > 0.3
    assert saturated.sum() > 5_000, saturated.sum()
    assert saturated[:600].sum() < saturated.sum()  # the colour lies below the summary tables, in the plots
