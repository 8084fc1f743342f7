"""Speed and memory of the engine (run by `make bench`; prints the figures, asserts nothing).

Speed: customer-months per second for scenarios/baseline.yaml with every mechanism switched on
(penalty fees, audits, transparency, a fee change with grandfathering, an adjustment rule), on one
core (one worker process), at 100k and 1M customers × 24 months (target ≥ 20 million).

Start-up: the first run in a fresh process, once with the compiled engine loaded from its on-disk
cache and once compiling it from scratch (an empty cache folder, as on a new installation).

Memory: peak resident memory of a 1M-customer and a 10M-customer run of 24 months, each in a fresh
process, streaming customers in chunks. Bounded memory means the 10M peak stays within 1.5× of 1M.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EVERY_MECHANISM = {
    "simulation.warm_up_months": 0,
    "fees.penalty_fee": 10,
    "fees.setup_fee": 20,
    "fees.early_termination_fee": 50,
    "fees.minimum_term_months": 12,
    "fees.prepay_discount": 0.1,
    "fees.prepay_uptake": 0.2,
    "audits.every_months": 3,
    "transparency.itemised_bills": True,
    "transparency.pre_deduction_notice_days": 3,
    "transparency.self_service_portal": True,
    "education.spend_per_customer_month": 0.2,
    "billing.staff_training": True,
    "compliance.fee_cap": 120,
    "fee_changes": [
        {"month": 6, "notice_days": 30, "grandfather_existing": True, "set": {"monthly_fee": 27}}
    ],
    "adjustment_rules": [
        {
            "name": "review",
            "metric": "complaints_per_1000",
            "above": 1000,
            "for_months": 3,
            "parameter": "fees.penalty_fee",
            "change_percent": -50,
        }
    ],
}


def speed(customers: int, months: int) -> dict:
    import simlib

    scenario = simlib.load(ROOT / "scenarios" / "baseline.yaml").with_changes(EVERY_MECHANISM)
    simlib.simulate(scenario, customers=4096, months=8, replications=1, progress=False)
    start = time.perf_counter()
    result = simlib.simulate(scenario, customers=customers, months=months, replications=1, progress=False)
    seconds = time.perf_counter() - start
    customer_months = float(result.counts[..., 0].sum())
    return {
        "customers": customers,
        "months": months,
        "customer_months": customer_months,
        "seconds": round(seconds, 2),
        "customer_months_per_second": round(customer_months / seconds),
    }


def first_run_child() -> None:
    start = time.perf_counter()
    import simlib

    scenario = simlib.load(ROOT / "scenarios" / "baseline.yaml").with_changes(EVERY_MECHANISM)
    imported = time.perf_counter()
    simlib.simulate(scenario, customers=4096, months=12, replications=1, progress=False)
    print(
        json.dumps(
            {"import_s": round(imported - start, 2), "first_run_s": round(time.perf_counter() - imported, 2)}
        )
    )


def first_run(cache: str | None) -> dict:
    """A fresh process's import time and first (small) run; ``cache``: an empty Numba cache folder."""
    environment = dict(os.environ)
    if cache is not None:
        environment["NUMBA_CACHE_DIR"] = cache
    output = subprocess.run(
        [sys.executable, __file__, "--first-run-child"],
        check=True,
        capture_output=True,
        text=True,
        env=environment,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def memory_child(customers: int, months: int) -> None:
    import simlib

    scenario = simlib.load(ROOT / "scenarios" / "baseline.yaml").with_changes(EVERY_MECHANISM)
    start = time.perf_counter()
    simlib.simulate(scenario, customers=customers, months=months, replications=1, progress=False)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "customers": customers,
                "seconds": round(time.perf_counter() - start, 1),
                "peak_rss_mib": round(peak_kib / 1024, 1),
            }
        )
    )


def memory(customers: int, months: int) -> dict:
    output = subprocess.run(
        [sys.executable, __file__, "--memory-child", str(customers), "--months", str(months)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", default="100000,1000000", help="comma-separated customer counts")
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--memory-sizes", default="1000000,10000000", help="comma-separated customer counts")
    parser.add_argument("--memory-child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--first-run-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--skip-compile", action="store_true", help="do not time a compilation from scratch")
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args.memory_child, args.months)
        return
    if args.first_run_child:
        first_run_child()
        return
    for customers in (int(c) for c in args.customers.split(",")):
        figures = speed(customers, args.months)
        print(
            f"speed: {figures['customer_months_per_second'] / 1e6:.2f} million customer-months per second "
            f"at {customers:,} customers × {args.months} months ({figures['customer_months']:,.0f} "
            f"customer-months in {figures['seconds']} s, one core, every mechanism on; target ≥ 20)"
        )
    cached = first_run(None)
    print(
        f"start-up: fresh process, compiled engine from the cache: import {cached['import_s']} s, "
        f"first run {cached['first_run_s']} s"
    )
    if not args.skip_compile:
        with tempfile.TemporaryDirectory() as empty:
            fresh = first_run(empty)
        print(
            f"start-up: fresh process, empty cache (a new installation): first run {fresh['first_run_s']} s "
            "(compiles the engine once; later processes load it)"
        )
    peaks = [memory(int(size), args.months) for size in args.memory_sizes.split(",")]
    for peak in peaks:
        print(
            f"memory: {peak['customers']:>11,} customers × {args.months} months: peak RSS "
            f"{peak['peak_rss_mib']:,.0f} MiB ({peak['seconds']} s)"
        )
    if len(peaks) >= 2:
        ratio = peaks[-1]["peak_rss_mib"] / peaks[0]["peak_rss_mib"]
        print(
            f"memory: peak ratio {peaks[-1]['customers']:,} / {peaks[0]['customers']:,} customers = "
            f"{ratio:.2f} (target ≤ 1.5)"
        )


if __name__ == "__main__":
    main()
