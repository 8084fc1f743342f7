"""The briefing from a small real batch: self-contained HTML, numbers equal to the batch's, a real
headless Chromium opening it, a real PDF, and the Chinese version's glyphs."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
from playwright.sync_api import sync_playwright
from pypdf import PdfReader

from simlib.analysis.recommend import Constraints
from simlib.batch.batch import run_batch
from simlib.batch.plan import plan_batch
from simlib.report.briefing import Briefing
from simlib.report.pdf import chromium_flags, find_chromium
from simlib.report.tables import estimate
from simlib.style.charts import CJK_FONTS, LATIN_FONT, fonts_for, missing_characters

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"
SIMLIB = ROOT / ".venv" / "bin" / "simlib"
ARTIFACTS = ROOT / "outputs" / "test-artifacts"
POLICIES = ("penalty_fee", "full_transparency", "late_notice_breach")


def simlib_command(
    *args: str | Path, env: dict | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(SIMLIB), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env=env,
        cwd=cwd,
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three policies, one of which breaks a compliance rule, run by the real batch runner."""
    folder = tmp_path_factory.mktemp("briefing") / "batch"
    plan = plan_batch(
        [SCENARIOS / f"{p}.yaml" for p in POLICIES],
        SCENARIOS / "baseline.yaml",
        customers=800,
        months=9,
        replications=3,
        notebook=Path(__file__).parent / "fixtures" / "batch" / "misbehaving.ipynb",
    )
    outcome = run_batch(plan, folder, workers=1, progress=False)
    assert len(outcome.succeeded) == len(POLICIES)
    return folder


@pytest.fixture(scope="module")
def english(batch: Path) -> Path:
    result = simlib_command("brief", batch, "--max-complaints-per-1000", "8")
    assert result.returncode == 0, result.stderr
    assert f"briefing: {batch / 'briefing.html'}" in result.stdout
    return batch / "briefing.html"


class _Page(HTMLParser):
    """Everything a self-containment check needs from a page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def test_the_html_is_self_contained_and_carries_no_code(english: Path) -> None:
    page = parse(english)
    tags = [tag for tag, _ in page.tags]
    assert "script" not in tags and "link" not in tags and "iframe" not in tags
    for tag, attrs in page.tags:
        for name in ("src", "href"):
            if name in attrs:
                assert attrs[name].startswith("data:image/png;base64,"), (tag, attrs[name][:60])
    images = [attrs for tag, attrs in page.tags if tag == "img"]
    assert len(images) == 5 and all(attrs.get("alt") for attrs in images)
    text = "".join(page.text)
    for code in ("import ", "Briefing(", "briefing.chart", "save_chart_data", "In [", "batch_dir"):
        assert code not in text, code
    assert "@import" not in english.read_text() and "url(" not in english.read_text()


def test_the_key_numbers_are_the_batch_numbers(batch: Path, english: Path) -> None:
    comparison = pd.read_csv(batch / "comparison.csv").set_index(["scenario", "metric"])
    source = english.read_text(encoding="utf-8")
    cells = re.findall(
        r'<tr class="(recommended)?" data-policy="([^"]+)">(.*?)</tr>', source, flags=re.DOTALL
    )
    assert [policy for _, policy, _ in cells] == list(POLICIES)
    checked = 0
    for _, policy, row in cells:
        for metric, mean, low, high, shown in re.findall(
            r'data-metric="(\w+)" data-mean="([^"]+)" data-low="([^"]+)" data-high="([^"]+)">([^<]+)<br>', row
        ):
            expected = comparison.loc[(policy, metric)]
            assert float(mean) == expected["difference_mean"]
            assert float(low) == expected["difference_low"] and float(high) == expected["difference_high"]
            unit = "share" if metric == "monthly_churn_rate" else ""
            text = estimate(float(mean), float(low), float(high), unit, signed=True)
            assert shown == text.split(" ")[0]
            checked += 1
    assert checked == len(POLICIES) * 5
    briefing = Briefing(batch, constraints=Constraints(max_complaints_per_1000=8))
    marked = [policy for recommended, policy, _ in cells if recommended]
    assert marked == ([briefing.recommendation.chosen] if briefing.recommendation.chosen in POLICIES else [])
    assert "late_notice_breach" not in marked  # it breaks the notice rule
    assert briefing.recommendation.broken("late_notice_breach")[0].constraint == "compliance"
    assert briefing.headline() in source

    winners = pd.read_csv(batch / "briefing_files" / "winners_losers.csv").set_index("policy")
    for policy in POLICIES:
        assert winners.loc[policy, "losers_mean"] == comparison.loc[(policy, "losers_share"), "reform_mean"]
    frontier = pd.read_csv(batch / "briefing_files" / "frontier.csv").set_index("scenario")
    assert (
        frontier.loc["penalty_fee", "revenue_mean"]
        == comparison.loc[("penalty_fee", "net_revenue"), "difference_mean"]
    )
    assert frontier.loc["baseline", "revenue_mean"] == 0.0


def test_headless_chromium_shows_the_page_without_errors(english: Path) -> None:
    browser = find_chromium()
    assert browser, "Chromium is installed by `make system-deps`"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=browser,
            args=[f for f in chromium_flags("") if not f.startswith("--user-data-dir")],
        )
        page = chromium.new_page(viewport={"width": 1000, "height": 1400})
        page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.on("request", lambda r: None if r.url.startswith(("file:", "data:")) else problems.append(r.url))
        page.goto(english.as_uri())
        images = page.evaluate("Array.from(document.images).map(i => [i.complete, i.naturalWidth])")
        page.screenshot(path=str(ARTIFACTS / "briefing-en.png"), full_page=True)
        chromium.close()
    assert problems == []
    assert len(images) == 5 and all(complete and width > 500 for complete, width in images)
    assert (ARTIFACTS / "briefing-en.png").stat().st_size > 50_000


def test_the_pdf_has_one_page_per_page_group_and_the_headline(batch: Path, english: Path) -> None:
    pdf = PdfReader(batch / "briefing.pdf")
    groups = 1 + english.read_text().count('class="briefing-section new-page"')
    assert len(pdf.pages) == groups == 6
    first = pdf.pages[0].extract_text()
    briefing = Briefing(batch, constraints=Constraints(max_complaints_per_1000=8))
    assert briefing.headline() in first.replace("\n", " ")


def test_the_chinese_briefing_is_chinese_and_every_glyph_exists(batch: Path) -> None:
    result = simlib_command("brief", batch, "--lang", "zh", "--max-complaints-per-1000", "8")
    assert result.returncode == 0, result.stderr
    path = batch / "briefing.zh.html"
    source = path.read_text(encoding="utf-8")
    assert '<html lang="zh-CN">' in source
    for heading in ("扣费政策简报", "摘要", "关键数字：各政策与基准方案对比", "假设与来源", "来源与可复现性"):
        assert heading in source, heading
    text = "".join(parse(path).text)
    fonts = fonts_for("zh", text)
    assert fonts[1] in CJK_FONTS
    assert missing_characters(text, fonts) == set()
    assert missing_characters("扣费", (LATIN_FONT,)) == {"扣", "费"}  # the check can fail
    pdf_text = "".join(p.extract_text() for p in PdfReader(batch / "briefing.zh.pdf").pages)
    assert "推荐" in pdf_text or "没有政策满足约束条件" in pdf_text
    charts = pd.read_csv(batch / "briefing.zh_files" / "causes.csv", header=[0, 1])
    assert any("扣款失败手续费" in str(column) for column in charts.columns)


def test_a_briefing_is_never_silently_replaced(batch: Path, english: Path) -> None:
    before = english.read_bytes()
    again = simlib_command("brief", batch)
    assert again.returncode == 2 and "already exists" in again.stderr and "--force" in again.stderr
    assert english.read_bytes() == before


def test_without_a_browser_the_html_is_written_and_the_way_to_the_pdf_is_said(
    tmp_path: Path, batch: Path
) -> None:
    copy = tmp_path / "batch"
    shutil.copytree(batch, copy, ignore=shutil.ignore_patterns("briefing*"))
    env = {**os.environ, "SIMLIB_CHROMIUM": "/nonexistent/chromium"}
    result = simlib_command("brief", copy, "--max-monthly-churn", "0.001", env=env)
    assert result.returncode == 0, result.stderr
    assert (copy / "briefing.html").exists() and not (copy / "briefing.pdf").exists()
    assert "no Chromium found" in result.stderr and "make system-deps" in result.stderr
    assert "No policy meets the constraints" in (copy / "briefing.html").read_text()


def test_a_batch_with_brief_writes_the_briefing(tmp_path: Path) -> None:
    out = tmp_path / "batch"  # given relative to the working directory, as `make demo` does
    result = simlib_command(
        "batch", SCENARIOS / "penalty_fee.yaml", "--baseline", SCENARIOS / "baseline.yaml", "--out", "batch",
        "--customers", "500", "--months", "6", "--replications", "2", "--quiet", "--brief", "--lang", "zh",
        "--notebook", Path(__file__).parent / "fixtures" / "batch" / "misbehaving.ipynb", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (out / "briefing.zh.html").exists() and (out / "briefing.zh.pdf").exists()
    assert "Kernel is running over TCP" not in result.stderr  # kernels talk over IPC sockets
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"] == {"succeeded": 1}
