"""Sweeps: one scenario run over the cartesian product of parameter values x seeds, one row per run.

A sweep writes into its directory: `sweep.json` (what it is), `rows.jsonl` (one line per finished
run, appended as runs finish: a restarted sweep keeps them and runs only the rest), `sweep.csv` (every
row, in the sweep's order, whatever the order runs finished in) and the report (sweep_report.py).
Per run only its `summary.json` is kept, under `runs/RUN/`, unless `journals` is asked for (then the
journal and run.json too, so `forensics`, `replay` and `fork` work on it).

Backends: local worker processes (default, all cores) or Ray (`backend="ray"`, optional: `pip install
-e '.[ray]'`). A run is a pure function of (scenario, overrides, seed), so both give the same rows.
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .overrides import apply_overrides
from .runner import run_scenario
from .scenario import load_scenario_data, parse_scenario

ROWS_NAME = "rows.jsonl"
CSV_NAME = "sweep.csv"
MAX_RUNS = 100_000
ROW_METRICS = ("agents", "commands", "events", "accounts_liquidated", "liquidated_share", "crowd_liquidated_share",
               "liquidations_triggered", "liquidation_orders", "liquidated_notional_usdt", "first_liquidation_s",
               "insurance_fund_end_usdt", "insurance_fund_min_usdt", "insurance_fund_change_usdt", "adl_events",
               "fund_takeovers", "mark_max_drawdown", "waves", "largest_wave_liquidations",
               "largest_wave_notional_usdt", "crowd_effective_leverage", "size_cut_share", "state_hash")


@dataclass(frozen=True)
class Sweep:
    """What to run: a scenario (name or path), seeds, axes (path -> values) and fixed overrides."""

    scenario: str
    seeds: tuple[int, ...]
    axes: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    fixed: dict[str, Any] = field(default_factory=dict)

    def tasks(self) -> list[dict[str, Any]]:
        """Every run, in the sweep's order (axes in the order given, the last varying fastest; seeds
        innermost)."""
        names = list(self.axes)
        combos = list(itertools.product(*(self.axes[n] for n in names)))
        if len(combos) * len(self.seeds) > MAX_RUNS:
            raise ValueError(f"{len(combos) * len(self.seeds)} runs: a sweep is limited to {MAX_RUNS}")
        out = []
        for values in combos:
            params = dict(zip(names, values))
            for seed in self.seeds:
                key = json.dumps([self.scenario, self.fixed, params, seed], sort_keys=True)
                out.append({"run": hashlib.sha256(key.encode()).hexdigest()[:12], "index": len(out),
                            "scenario": self.scenario, "seed": seed, "params": params, "fixed": self.fixed})
        return out

    def to_json(self) -> dict[str, Any]:
        return {"scenario": self.scenario, "seeds": list(self.seeds), "axes": {k: list(v) for k, v in self.axes.items()},
                "fixed": self.fixed}


def parse_seeds(text: str | list[int]) -> tuple[int, ...]:
    """`1-50`, `1,4,9-12` or a list of ints."""
    if isinstance(text, list):
        return tuple(int(s) for s in text)
    seeds: list[int] = []
    for part in str(text).split(","):
        lo, dash, hi = part.strip().partition("-")
        if not lo.strip().isdigit() or (dash and not hi.strip().isdigit()):
            raise ValueError(f"seeds {text!r}: give N, N-M or a comma-separated list of them")
        a, b = int(lo), int(hi) if dash else int(lo)
        if b < a or b - a >= MAX_RUNS:
            raise ValueError(f"seeds {part!r}: the range is empty or too long")
        seeds += range(a, b + 1)
    return tuple(dict.fromkeys(seeds))


def sweep_from_sets(scenario: str, seeds: str | list[int], sets: dict[str, Any]) -> Sweep:
    """A list value is an axis (its values swept); any other value is fixed for every run."""
    axes = {k: tuple(v) for k, v in sets.items() if isinstance(v, list)}
    if any(not v for v in axes.values()):
        raise ValueError("an axis needs at least one value")
    if "seed" in sets:
        raise ValueError("seeds are given with --seeds (or `seeds` in a sweep file), not --set seed")
    clash = sorted(set(axes) & {"run", *ROW_METRICS})
    if clash:
        raise ValueError(f"axis {clash[0]!r} would share its column with a result of the same name")
    return Sweep(scenario, parse_seeds(seeds), axes, {k: v for k, v in sets.items() if not isinstance(v, list)})


def load_sweep_file(path: str | Path) -> Sweep:
    """A sweep TOML: `scenario`, `seeds` and a `[set]` table of PATH = value or [values]."""
    import tomllib

    with open(path, "rb") as fh:
        data = tomllib.load(fh)
    unknown = set(data) - {"scenario", "seeds", "set"}
    if unknown or "scenario" not in data:
        raise ValueError(f"{path}: a sweep file has scenario, seeds and [set] (unknown: {sorted(unknown)})")
    return sweep_from_sets(str(data["scenario"]), data.get("seeds", "1"), dict(data.get("set", {})))


# -- one run -----------------------------------------------------------------------------------
def summary_row(summary: dict[str, Any]) -> dict[str, Any]:
    """The figures of one run's summary that a sweep compares, flat."""
    liq = summary["liquidations"]
    fund = summary["insurance_fund"]
    waves = summary["cascade_waves"]
    crowd = [r for r in summary["per_agent"] if r["kind"] == "crowd"]
    held = [r for r in summary["per_agent"] if r["peak_notional_usdt"]]
    crowd_held = [r for r in crowd if r["peak_notional_usdt"] and r["effective_leverage"] is not None]
    row = {
        "agents": summary["agents"], "commands": summary["commands"], "events": summary["events"],
        "accounts_liquidated": liq["accounts_liquidated"],
        "liquidated_share": round(liq["accounts_liquidated"] / summary["agents"], 6) if summary["agents"] else 0.0,
        "crowd_liquidated_share": round(sum(r["liquidated"] for r in crowd) / len(crowd), 6) if crowd else None,
        "liquidations_triggered": liq["triggered"], "liquidation_orders": liq["orders"],
        "liquidated_notional_usdt": round(sum(m["notional_usdt"] for m in liq["by_mode"].values()), 2),
        "first_liquidation_s": liq["first_s"],
        "insurance_fund_end_usdt": fund["end_usdt"], "insurance_fund_min_usdt": fund["min_usdt"],
        "insurance_fund_change_usdt": round(fund["end_usdt"] - fund["start_usdt"], 2),
        "adl_events": summary["adl"]["count"], "fund_takeovers": summary["fund_takeovers"]["count"],
        "mark_max_drawdown": summary["price"]["mark_max_drawdown"],
        "waves": len(waves), "largest_wave_liquidations": max((w["liquidations"] for w in waves), default=0),
        "largest_wave_notional_usdt": max((w["notional_usdt"] for w in waves), default=0.0),
        "crowd_effective_leverage": round(sum(r["effective_leverage"] for r in crowd_held) / len(crowd_held), 3)
        if crowd_held else None,
        "size_cut_share": round(sum(r["size_cut"] for r in held) / len(held), 6) if held else 0.0,
        "state_hash": summary["state_hash"],
    }
    assert tuple(row) == ROW_METRICS
    return row


def run_task(task: dict[str, Any], out_dir: str, journals: bool = False) -> dict[str, Any]:
    """Run one sweep task; returns its row (its summary.json, and with journals its journal, under
    out_dir/runs/RUN). A module-level function, so worker processes and Ray can call it."""
    data = apply_overrides(task["data"], {**task["fixed"], **task["params"]})
    scenario = parse_scenario(data, Path(task["base"])).with_seed(task["seed"])
    run_dir = Path(out_dir) / "runs" / task["run"]
    if journals:
        _, summary = run_scenario(scenario, run_dir, events=False)
    else:
        _, summary = run_scenario(scenario)
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "summary.json").write_text(json.dumps(summary, indent=1, sort_keys=True))
    return {"run": task["run"], "seed": task["seed"], **task["params"], **summary_row(summary)}


# -- backends ----------------------------------------------------------------------------------
def local_backend(tasks: list[dict[str, Any]], out_dir: str, journals: bool, workers: int) -> Iterator[dict[str, Any]]:
    """Rows as worker processes finish them."""
    if workers <= 1:
        for t in tasks:
            yield run_task(t, out_dir, journals)
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(run_task, t, out_dir, journals) for t in tasks]
        for f in as_completed(futures):
            yield f.result()


def ray_backend(tasks: list[dict[str, Any]], out_dir: str, journals: bool, workers: int,
                address: str | None = None) -> Iterator[dict[str, Any]]:
    """Rows as Ray tasks finish them: on a cluster at `address`, or a local one with `workers` CPUs."""
    try:
        import ray
    except ImportError:
        raise RuntimeError("the ray backend needs Ray: pip install -e '.[ray]'") from None
    started = not ray.is_initialized()
    if started:
        if address:
            ray.init(address=address, log_to_driver=False)
        else:
            ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
    try:
        remote = ray.remote(num_cpus=1)(run_task)
        pending = [remote.remote(t, out_dir, journals) for t in tasks]
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            yield ray.get(done[0])
    finally:
        if started:
            ray.shutdown()


# -- the sweep ---------------------------------------------------------------------------------
def read_rows(path: Path) -> dict[str, dict[str, Any]]:
    """Finished rows by run id; a line torn by a crash mid-write is ignored."""
    rows: dict[str, dict[str, Any]] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            rows[row["run"]] = row
    return rows


def cut_torn_line(path: Path) -> None:
    """Cut a last line torn by a crash mid-write, so the next row starts on a line of its own."""
    if path.exists():
        data = path.read_bytes()
        if data and not data.endswith(b"\n"):
            path.write_bytes(data[: data.rfind(b"\n") + 1])


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, (list, dict)):
        return json.dumps(v, sort_keys=True)
    return str(v)


def rows_csv(rows: list[dict[str, Any]], columns: list[str]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    for r in rows:
        w.writerow([_cell(r.get(c)) for c in columns])
    return buf.getvalue()


def run_sweep(sweep: Sweep, out_dir: str | Path, backend: str = "local", workers: int | None = None,
              address: str | None = None, journals: bool = False,
              progress: Callable[[int, int, int], None] | None = None) -> list[dict[str, Any]]:
    """Run what is not yet done, write sweep.csv; returns every row in the sweep's order."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tasks = sweep.tasks()
    data, base = load_scenario_data(sweep.scenario)  # read once: workers (and Ray nodes) need no file
    source = {"data": data, "base": str(base)}
    (out / "sweep.json").write_text(json.dumps({**sweep.to_json(), "runs": len(tasks)}, indent=1, sort_keys=True))
    rows_path = out / ROWS_NAME
    cut_torn_line(rows_path)
    done = read_rows(rows_path)
    todo = [{**t, **source} for t in tasks if t["run"] not in done]
    workers = workers or os.cpu_count() or 1
    if progress is not None:
        progress(len(tasks) - len(todo), len(tasks), len(tasks) - len(todo))
    if todo:
        if backend == "ray":
            stream = ray_backend(todo, str(out), journals, workers, address)
        elif backend == "local":
            stream = local_backend(todo, str(out), journals, workers)
        else:
            raise ValueError(f"backend {backend!r} is not local or ray")
        resumed = len(tasks) - len(todo)
        with open(rows_path, "a") as fh:
            for row in stream:
                fh.write(json.dumps(row, sort_keys=True) + "\n")
                fh.flush()
                done[row["run"]] = row
                if progress is not None:
                    progress(len(done), len(tasks), resumed)
    rows = [done[t["run"]] for t in tasks if t["run"] in done]
    (out / CSV_NAME).write_text(rows_csv(rows, ["run", "seed", *sweep.axes, *ROW_METRICS]))
    return rows


def progress_line(label: str, workers: int, stream: Any = None) -> Callable[[int, int, int], None]:
    """A progress line on stderr: runs done of total, how many were resumed, runs per minute."""
    out = stream or sys.stderr
    started = time.perf_counter()
    tty = out.isatty()

    def show(done: int, total: int, resumed: int) -> None:
        ran = done - resumed
        wall = time.perf_counter() - started
        rate = ran / wall * 60 if wall > 0 and ran else 0.0
        eta = (total - done) / rate if rate else 0.0
        line = (f"{label}: {done}/{total} runs ({resumed} kept from before), {workers} workers, "
                f"{rate:.1f} runs/min, eta {eta:.1f} min")
        if tty:
            out.write("\r" + line + ("\n" if done == total else ""))
        elif done == total or ran == 0 or ran % max(1, total // 20) == 0:
            out.write(line + "\n")
        out.flush()

    return show
