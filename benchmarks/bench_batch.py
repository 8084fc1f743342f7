"""Batch overhead and parallel speed-up of `simlib batch` (run by `make bench`; prints, asserts nothing).

Overhead: for each run of notebooks/scenario.ipynb, the run's wall time (worker start, kernel start,
every cell, charts, result files, filing the run folder) minus the time the same paired simulation
takes when called directly in this process. Target: at most 1.5 s per notebook.

Parallel: the wall time of 8 notebooks on 2 workers against the same 8 run one at a time.
Target: at most 0.6 × sequential.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
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


def run(workers: int, size: dict, folder: Path) -> tuple[float, dict]:
    from simlib.batch import plan_batch, run_batch

    scenarios = [ROOT / "scenarios" / f"{p}.yaml" for p in POLICIES]
    plan = plan_batch(scenarios, ROOT / "scenarios" / "baseline.yaml", **size)
    start = time.perf_counter()
    outcome = run_batch(plan, folder, workers=workers, progress=False)
    wall = time.perf_counter() - start
    assert not outcome.failed, outcome.failed
    return wall, outcome.records


def direct_seconds(size: dict) -> dict[str, float]:
    import simlib

    base = simlib.load(ROOT / "scenarios" / "baseline.yaml")
    simlib.compare(base, base, customers=2000, months=6, replications=1, progress=False)
    seconds = {}
    for policy in POLICIES:
        reform = simlib.load(ROOT / "scenarios" / f"{policy}.yaml")
        start = time.perf_counter()
        simlib.compare(base, reform, progress=False, **size)
        seconds[policy] = time.perf_counter() - start
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--replications", type=int, default=10)
    args = parser.parse_args()
    size = {"customers": args.customers, "months": args.months, "replications": args.replications, "seed": 1}
    simulation = direct_seconds(size)
    with tempfile.TemporaryDirectory() as scratch:
        sequential, records = run(1, size, Path(scratch) / "sequential")
        parallel, _ = run(2, size, Path(scratch) / "parallel")
    overheads = [records_by_name["seconds"] - simulation[name] for name, records_by_name in _by_name(records)]
    figures = {
        "size": size,
        "notebooks": len(POLICIES),
        "simulation_seconds_mean": round(statistics.mean(simulation.values()), 2),
        "notebook_run_seconds_mean": round(statistics.mean(r["seconds"] for r in records.values()), 2),
        "overhead_seconds_per_notebook_mean": round(statistics.mean(overheads), 2),
        "overhead_seconds_per_notebook_max": round(max(overheads), 2),
        "overhead_target_seconds": 1.5,
        "sequential_wall_seconds": round(sequential, 1),
        "two_workers_wall_seconds": round(parallel, 1),
        "parallel_over_sequential": round(parallel / sequential, 2),
        "parallel_target": 0.6,
    }
    print(json.dumps(figures, indent=2))


def _by_name(records: dict) -> list[tuple[str, dict]]:
    return [(r["scenario"], r) for r in records.values()]


if __name__ == "__main__":
    main()
