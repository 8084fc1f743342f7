"""Screenshots of the briefing's page one (English and Chinese) for the README: `make screenshots`.

Briefs the demo batch (``outputs/demo``, made by ``make demo``) into a scratch folder and photographs
the first printed page of each language in the system's Chromium, the way the PDF prints it (A4 at
96 dpi, print styles). Writes ``docs/images/briefing-page-one.en.png`` and ``.zh.png``.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

from simlib.analysis.recommend import Constraints
from simlib.report.briefing import write_briefing
from simlib.report.pdf import chromium_flags, find_chromium

ROOT = Path(__file__).resolve().parent.parent
A4_PIXELS = (794, 1123)  # 210 × 297 mm at 96 dpi
MARGIN_PIXELS = 49  # 13 mm, as the page's @page rule


def main(batch: Path = ROOT / "outputs" / "demo") -> int:
    if not (batch / "manifest.json").exists():
        print(f"no demo batch in {batch}: run `make demo` first", file=sys.stderr)
        return 2
    browser = find_chromium()
    if browser is None:
        print("no Chromium: run `make system-deps`", file=sys.stderr)
        return 2
    out = ROOT / "docs" / "images"
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / "demo"
        shutil.copytree(batch, copy, ignore=shutil.ignore_patterns("briefing*", "previous"))
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(
                executable_path=browser,
                args=[f for f in chromium_flags("") if not f.startswith("--user-data-dir")],
            )
            for language in ("en", "zh"):
                files = write_briefing(copy, language=language, constraints=Constraints())  # as `simlib demo`
                width, height = A4_PIXELS
                page = chromium.new_page(viewport={"width": width - 2 * MARGIN_PIXELS, "height": height})
                page.emulate_media(media="print")
                page.goto(files.html.as_uri())
                box = page.locator('[data-section="decision"]').bounding_box()
                target = out / f"briefing-page-one.{language}.png"
                page.screenshot(
                    path=str(target),
                    clip={"x": 0, "y": 0, "width": box["width"], "height": box["y"] + box["height"] + 8},
                )
                print(target)
                page.close()
            chromium.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
