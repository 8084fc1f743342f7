"""How long `simlib brief` takes for a batch of every shipped policy (run by `make bench`; prints,
asserts nothing).

Target: at most 3 s for 13 policies, HTML and PDF, in-process (no notebook kernel). The batch is
made first with the real batch runner at a small size (its time is not counted); then the briefing
is written in English and in Chinese, each timed as a whole and in parts: reading the batch and the
numbers (Evidence), the five charts, the page (templates), and the PDF print in Chromium.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=Path, help="an existing batch folder (default: make one)")
    args = parser.parse_args()

    from simlib.analysis.recommend import Constraints
    from simlib.report.briefing import Briefing, write_briefing
    from simlib.report.pdf import print_to_pdf

    with tempfile.TemporaryDirectory() as scratch:
        folder = args.batch
        if folder is None:
            from simlib.batch.batch import run_batch
            from simlib.batch.plan import plan_batch

            policies = sorted(p for p in (ROOT / "scenarios").glob("*.yaml") if p.stem != "baseline")
            plan = plan_batch(
                policies, ROOT / "scenarios" / "baseline.yaml", customers=2000, months=12, replications=5
            )
            folder = Path(scratch) / "batch"
            start = time.perf_counter()
            outcome = run_batch(plan, folder, workers=2, progress=False)
            print(f"batch of {len(outcome.succeeded)} policies made in {time.perf_counter() - start:.1f} s")
        constraints = Constraints(max_complaints_per_1000=8)
        for language in ("en", "zh"):
            start = time.perf_counter()
            briefing = Briefing(folder, language=language, constraints=constraints)
            numbers = time.perf_counter()
            briefing.charts()
            charts = time.perf_counter()
            page = briefing.html()
            rendered = time.perf_counter()
            html = Path(scratch) / f"page.{language}.html"
            html.write_text(page, encoding="utf-8")
            print_to_pdf(html, html.with_suffix(".pdf"))
            printed = time.perf_counter()
            print(
                f"{language}: numbers {numbers - start:.2f} s, charts {charts - numbers:.2f} s, "
                f"page {rendered - charts:.2f} s, PDF {printed - rendered:.2f} s"
            )
            start = time.perf_counter()
            write_briefing(folder, language=language, constraints=constraints, force=True)
            total = time.perf_counter() - start
            print(f"{language}: write_briefing (HTML, PDF, chart files) {total:.2f} s   [target ≤ 3 s]")


if __name__ == "__main__":
    main()
