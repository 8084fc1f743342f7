"""Sweep throughput: policy variants evaluated per second (run by hand; prints the figures, asserts
nothing).

A grid over the monthly subscription fee of scenarios/baseline.yaml (8 values by default), each
variant a paired comparison with the baseline of 10,000 customers × 24 months × 20 replications,
variants fanned out over 2 worker processes. Every variant re-simulates the baseline next to it (the
pairing is per chunk), so one variant costs two runs.

Besides wall-clock throughput it prints the CPU seconds per variant (this process and its reaped
worker processes) and the load average, since wall time on a shared machine depends on what else runs.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--variants", type=int, default=8, help="grid values of fees.monthly_fee")
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--replications", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    import numpy as np

    import simlib
    from simlib.sweep import grid_variants, run_sweep

    base = simlib.load(ROOT / "scenarios" / "baseline.yaml")
    fees = [round(float(f), 2) for f in np.linspace(20.0, 34.0, args.variants)]
    variants = grid_variants({"fees.monthly_fee": fees})
    sizes = {"customers": args.customers, "months": args.months, "replications": args.replications}
    # Warm-up: imports and the first pool start-up are not what is measured.
    run_sweep(base, variants[:1], customers=2_000, months=4, replications=1, workers=1, progress=False)

    cpu_before = _cpu_seconds()
    start = time.perf_counter()
    result = run_sweep(base, variants, workers=args.workers, progress=False, **sizes)
    seconds = time.perf_counter() - start
    cpu = _cpu_seconds() - cpu_before

    n = len(result.table)
    print(
        f"sweep: {n / seconds:.3f} variants per second, {seconds / n:.2f} s per variant "
        f"({n} variants in {seconds:.1f} s; {args.customers:,} customers × {args.months} months × "
        f"{args.replications} replications, paired; {args.workers} workers on {os.cpu_count()} cores)"
    )
    print(
        f"sweep: {cpu / n:.2f} CPU s per variant ({cpu / seconds:.2f} cores busy on average; "
        f"load average {os.getloadavg()[0]:.2f} at the end)"
    )
    frontier = result.frontier()
    on = frontier.index[frontier["on_frontier"]].tolist()
    print(f"sweep: frontier variants {on} (monthly fees {[fees[i] for i in on]})")


if __name__ == "__main__":
    main()
