"""Start-up of the `simlib` command: wall time of `simlib --help` and of every command's `--help`
(run by `make bench`; prints the figures, asserts nothing). Target: at most 0.3 s each.

Each figure is the median of several runs of the installed entry point in a fresh process, so it
includes the interpreter's start; the heavy libraries (pandas, numpy, scipy, matplotlib, pydantic)
are imported only by the command that runs, never for help (tests/test_cli.py checks which modules
load).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

SIMLIB = Path(sys.executable).parent / "simlib"
COMMANDS = (
    "run", "compare", "batch", "brief", "sweep", "optimize", "sensitivity", "calibrate",
    "validate", "describe", "diff", "schema", "demo",
)  # fmt: skip


def wall_seconds(arguments: list[str], repeats: int) -> float:
    """Median wall time of ``simlib ARGUMENTS`` over ``repeats`` fresh processes."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([str(SIMLIB), *arguments], capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    wall_seconds(["--help"], 1)  # the first start reads the files from disk
    figures = {"simlib --help": round(wall_seconds(["--help"], args.repeats), 3)}
    for command in COMMANDS:
        figures[f"simlib {command} --help"] = round(wall_seconds([command, "--help"], args.repeats), 3)
    print(
        json.dumps(
            {
                "help_wall_seconds": figures,
                "slowest_seconds": max(figures.values()),
                "target_seconds": 0.3,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
