"""Batch overhead and parallel speed-up of `simlib batch` (run by `make bench`; prints, asserts nothing).

Overhead: for each run of notebooks/scenario.ipynb, the run's wall time as the batch records it
(handing the run to a worker, the kernel, every cell, charts, result files, filing the run folder)
minus the simulation cell's own duration from papermill's cell timings. Target: at most 1.5 s per
notebook. Where it goes is printed too: outside papermill (worker and kernel start/stop, filing),
papermill outside the cells (kernel client, saving the notebook), and each other cell.

Workers are started ahead of their runs (simlib.jupyter.execution.AheadWorkers), so only the first run of
each worker slot waits for a worker's imports and kernel start; the figures show the first runs and
the others apart.

Parallel: the wall time of 8 notebooks on 2 workers against the same 8 run one at a time.
Target: at most 0.6 × sequential.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
POLICIES = (
    "penalty_fee",
    "full_transparency",
    "tiered_usage",
    "quarterly_audits",
    "customer_education",
    "better_complaint_handling",
    "fee_increase_with_notice",
    "regulatory_fee_cap",
)
SIMULATION_CELL = "settings.simulate()"


def run(workers: int, size: dict, folder: Path, policies: tuple[str, ...]) -> tuple[float, dict]:
    from simlib.batch.batch import run_batch
    from simlib.batch.plan import plan_batch

    scenarios = [ROOT / "scenarios" / f"{p}.yaml" for p in policies]
    plan = plan_batch(scenarios, ROOT / "scenarios" / "baseline.yaml", **size)
    start = time.perf_counter()
    outcome = run_batch(plan, folder, workers=workers, progress=False)
    wall = time.perf_counter() - start
    assert not outcome.failed, outcome.failed
    return wall, outcome.records


def timings(folder: Path, record: dict) -> dict[str, float]:
    """One run's parts, in seconds, from the batch's record and papermill's cell timings."""
    notebook = json.loads((folder / record["folder"] / "notebook.ipynb").read_text())
    meta = notebook["metadata"]["papermill"]
    parts = {"run": record["seconds"], "papermill": meta["duration"], "simulation": 0.0, "other_cells": 0.0}
    for cell in notebook["cells"]:
        duration = cell.get("metadata", {}).get("papermill", {}).get("duration") or 0.0
        source = "".join(cell["source"])
        if cell["cell_type"] != "code":
            continue
        if SIMULATION_CELL in source:
            parts["simulation"] += duration
        else:
            key = source.strip().splitlines()[0][:40] if source.strip() else "(empty)"
            parts[f"cell: {key}"] = duration
            parts["other_cells"] += duration
    parts["outside_papermill"] = parts["run"] - parts["papermill"]
    parts["papermill_outside_cells"] = parts["papermill"] - parts["simulation"] - parts["other_cells"]
    parts["overhead"] = parts["run"] - parts["simulation"]
    return parts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--replications", type=int, default=10)
    parser.add_argument("--notebooks", type=int, default=len(POLICIES))
    args = parser.parse_args()
    size = {"customers": args.customers, "months": args.months, "replications": args.replications, "seed": 1}
    policies = POLICIES[: args.notebooks]
    with tempfile.TemporaryDirectory() as scratch:
        sequential, records = run(1, size, Path(scratch) / "sequential", policies)
        ordered = sorted(records.values(), key=lambda r: datetime.fromisoformat(r["started"]))
        parts = [timings(Path(scratch) / "sequential", r) for r in ordered]
        parallel, _ = run(2, size, Path(scratch) / "parallel", policies)
    overheads = [p["overhead"] for p in parts]
    later = parts[1:] or parts
    keys = [k for k in later[0] if k.startswith("cell: ")]
    figures = {
        "size": size,
        "notebooks": len(policies),
        "simulation_cell_seconds_mean": round(statistics.mean(p["simulation"] for p in parts), 2),
        "notebook_run_seconds_mean": round(statistics.mean(p["run"] for p in parts), 2),
        "overhead_seconds_per_notebook_mean": round(statistics.mean(overheads), 2),
        "overhead_seconds_per_notebook_max": round(max(overheads), 2),
        "overhead_seconds_first_notebook": round(overheads[0], 2),
        "overhead_seconds_later_notebooks_mean": round(statistics.mean(p["overhead"] for p in later), 2),
        "overhead_target_seconds": 1.5,
        "where_the_overhead_goes_later_notebooks_mean": {
            key: round(statistics.mean(p[key] for p in later), 3)
            for key in ("outside_papermill", "papermill_outside_cells", *keys)
        },
        "sequential_wall_seconds": round(sequential, 1),
        "two_workers_wall_seconds": round(parallel, 1),
        "parallel_over_sequential": round(parallel / sequential, 2),
        "parallel_target": 0.6,
    }
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
