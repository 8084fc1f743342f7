"""Throughput of the tools that evaluate many policies: sweep variants, optimisation and sensitivity
evaluations per second (run by `make bench`; prints the figures, asserts nothing).

- Sweep: a grid over the monthly subscription fee of scenarios/baseline.yaml (8 values by default),
  10,000 customers × 24 months × 20 replications, variants fanned out over 2 worker processes. The
  base is simulated once and shared by every variant (simlib.run.shared), so a variant costs one run.
  ``--paired`` also times the former way (each variant compared with its own run of the base, two
  runs per variant) on the same machine, for the before/after figure. Target: 5 variants/s.
- Optimisation: ``optimise_policy`` over the monthly fee (coarse grid, then Brent), evaluations/s.
- Sensitivity: Morris screening of the baseline's uncertain parameters for the paired difference
  with fee_increase_with_notice.yaml, evaluations (sample points) per second. Every point changes the
  base's own parameters, so there is no base run to share; a point met twice is simulated once.

Besides wall-clock throughput the sweep prints the CPU seconds per variant (this process and its
reaped worker processes) and the load average, since wall time on a shared machine depends on what
else runs.
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _cpu_seconds() -> float:
    """User + system CPU time of this process and of its finished (reaped) children."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _paired_summary(task: tuple) -> object:
    """The former sweep evaluation: the variant compared with its own run of the base."""
    import simlib

    base, variant, sizes = task
    return simlib.compare(base, variant, workers=1, progress=False, **sizes).summary()


def sweep(args: argparse.Namespace) -> None:
    import numpy as np

    import simlib
    from simlib.analysis.sweep import grid_variants, run_sweep
    from simlib.run.executors import open_executor

    base = simlib.load(ROOT / "scenarios" / "baseline.yaml")
    fees = [round(float(f), 2) for f in np.linspace(20.0, 34.0, args.variants)]
    variants = grid_variants({"fees.monthly_fee": fees})
    sizes = {"customers": args.customers, "months": args.months, "replications": args.replications}
    shape = (
        f"{args.customers:,} customers × {args.months} months × {args.replications} replications; "
        f"{args.workers} workers on {os.cpu_count()} cores"
    )
    # Warm-up: imports and the first pool start-up are not what is measured.
    run_sweep(base, variants[:1], customers=2_000, months=4, replications=1, workers=1, progress=False)

    cpu_before = _cpu_seconds()
    start = time.perf_counter()
    result = run_sweep(base, variants, workers=args.workers, progress=False, **sizes)
    seconds = time.perf_counter() - start
    cpu = _cpu_seconds() - cpu_before
    n = len(result.table)
    print(
        f"sweep (base shared): {n / seconds:.3f} variants per second, {seconds / n:.2f} s per variant "
        f"({n} variants in {seconds:.1f} s; {shape})"
    )
    print(
        f"sweep (base shared): {cpu / n:.2f} CPU s per variant ({cpu / seconds:.2f} cores busy on average; "
        f"load average {os.getloadavg()[0]:.2f} at the end)"
    )
    if args.paired:
        scenarios = [base.with_changes(v) for v in variants]
        start = time.perf_counter()
        with open_executor(args.workers, None) as executor:
            summaries = list(executor.map(_paired_summary, [(base, s, sizes) for s in scenarios]))
        paired = time.perf_counter() - start
        same = all(
            summary["reform_mean"].equals(result_row)
            for summary, result_row in zip(
                summaries, [_reform_means(result, i) for i in range(n)], strict=True
            )
        )
        print(
            f"sweep (each variant paired with its own base run, as before): {n / paired:.3f} variants "
            f"per second ({paired:.1f} s); shared/paired speed-up {paired / seconds:.2f}×; "
            f"identical numbers: {same}"
        )
    frontier = result.frontier()
    on = frontier.index[frontier["on_frontier"]].tolist()
    print(f"sweep: frontier variants {on} (monthly fees {[fees[i] for i in on]})")


def _reform_means(result: object, index: int) -> object:
    import pandas as pd

    row = result.table.loc[index]
    metrics = [m for m in result.units if m in row.index]
    return pd.Series({m: row[m] for m in metrics}, name="reform_mean")


def optimise(args: argparse.Namespace) -> None:
    import simlib
    from simlib.analysis.optimize import Lever, optimise_policy

    base = simlib.load(ROOT / "scenarios" / "baseline.yaml")
    start = time.perf_counter()
    result = optimise_policy(
        base,
        [Lever("fees.monthly_fee", 20.0, 34.0)],
        customers=args.tool_customers,
        months=args.months,
        replications=args.tool_replications,
        grid_points=5,
        workers=args.workers,
    )
    seconds = time.perf_counter() - start
    n = result.optimum.evaluations
    print(
        f"optimise: {n / seconds:.2f} evaluations per second ({n} in {seconds:.1f} s; "
        f"{args.tool_customers:,} customers × {args.months} months × {args.tool_replications} "
        f"replications; {args.workers} workers)"
    )


def sensitivity(args: argparse.Namespace) -> None:
    import simlib
    from simlib.analysis.sensitivity import run_sensitivity

    base = simlib.load(ROOT / "scenarios" / "baseline.yaml")
    reform = simlib.load(ROOT / "scenarios" / "fee_increase_with_notice.yaml")
    start = time.perf_counter()
    result = run_sensitivity(
        base,
        reform,
        method="morris",
        samples=2,
        customers=args.tool_customers,
        months=args.months,
        replications=args.tool_replications,
        workers=args.workers,
        progress=False,
    )
    seconds = time.perf_counter() - start
    n = result.settings["evaluations"]
    print(
        f"sensitivity: {n / seconds:.2f} evaluations per second ({n} points in {seconds:.1f} s, "
        f"paired with {reform.name}; {args.tool_customers:,} customers × {args.months} months × "
        f"{args.tool_replications} replications; {args.workers} workers)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", type=int, default=8, help="grid values of fees.monthly_fee")
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--replications", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--tool-customers", type=int, default=5_000, help="optimise and sensitivity")
    parser.add_argument("--tool-replications", type=int, default=10, help="optimise and sensitivity")
    parser.add_argument("--paired", action="store_true", help="also time the former paired sweep")
    parser.add_argument("--only", choices=["sweep", "optimise", "sensitivity"], help="run one figure")
    args = parser.parse_args()
    for name, figure in (("sweep", sweep), ("optimise", optimise), ("sensitivity", sensitivity)):
        if args.only in (None, name):
            figure(args)


if __name__ == "__main__":
    main()
