"""The briefing from a small real batch, read as a manager reads it: page one answers what to do, what
it gains and costs, how sure we are, the margin against the limits, who pays, and why surprising
results are right; the numbers are the batch's; the page fits A4 in a real Chromium; the PDF keeps
page one whole and never splits a row or strands a heading; the Chinese page is Chinese."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import unicodedata
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from playwright.sync_api import sync_playwright
from pypdf import PdfReader

from simlib.analysis.recommend import Constraints
from simlib.batch.batch import run_batch
from simlib.batch.plan import plan_batch
from simlib.report.briefing import Briefing
from simlib.report.evidence import REVENUE_KINDS, Evidence
from simlib.report.pdf import chromium_flags, find_chromium
from simlib.style.charts import CJK_FONTS, LATIN_FONT, fonts_for, missing_characters
from simlib.style.numbers import Numbers

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"
SIMLIB = ROOT / ".venv" / "bin" / "simlib"
ARTIFACTS = ROOT / "outputs" / "test-artifacts"
#: A price rise, a penalty fee, a service policy whose result looks wrong (transparency), one that
#: changes no behaviour (audits) and one that breaks a compliance rule.
POLICIES = (
    "fee_increase_with_notice",
    "penalty_fee",
    "full_transparency",
    "quarterly_audits",
    "late_notice_breach",
)
LIMITS = ("--max-complaints-per-1000", "8")
CONSTRAINTS = Constraints(max_complaints_per_1000=8)
A4_TEXT_WIDTH_PX = 184 / 25.4 * 96  # 210 mm less two 13 mm margins, at 96 px per inch


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
    folder = tmp_path_factory.mktemp("briefing") / "batch"
    plan = plan_batch(
        [SCENARIOS / f"{p}.yaml" for p in POLICIES],
        SCENARIOS / "baseline.yaml",
        customers=1500,
        months=12,
        replications=4,
        notebook=Path(__file__).parent / "fixtures" / "batch" / "misbehaving.ipynb",
    )
    outcome = run_batch(plan, folder, workers=2, progress=False)
    assert len(outcome.succeeded) == len(POLICIES)
    return folder


@pytest.fixture(scope="module")
def english(batch: Path) -> Path:
    result = simlib_command("brief", batch, *LIMITS)
    assert result.returncode == 0, result.stderr
    assert f"briefing: {batch / 'briefing.html'}" in result.stdout
    return batch / "briefing.html"


@pytest.fixture(scope="module")
def chinese(batch: Path, english: Path) -> Path:
    result = simlib_command("brief", batch, "--lang", "zh", *LIMITS)
    assert result.returncode == 0, result.stderr
    return batch / "briefing.zh.html"


@pytest.fixture(scope="module")
def evidence(batch: Path) -> Evidence:
    return Evidence(batch, constraints=CONSTRAINTS)


class _Page(HTMLParser):
    """Tags, and the visible text of each section (``data-section``)."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.sections: dict[str, list[str]] = {}
        self._section: str | None = None
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        if "data-section" in attributes:
            self._section = attributes["data-section"]
        if tag in ("style", "script"):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        self.text.append(data)
        if self._section:
            self.sections.setdefault(self._section, []).append(data)

    def section(self, name: str) -> str:
        return " ".join(" ".join(self.sections.get(name, [])).split())


def parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def flat(text: str) -> str:
    """Text without whitespace or ligatures: PDF extraction breaks lines and spaces wherever it
    likes, and writes "ﬀ" for "ff"."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", html.unescape(text)))


# --------------------------------------------------------------------------- the page


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
    for code in ("import ", "Briefing(", "In [", "batch_dir", "{'", "(low=", "e+0", "&#", "&amp;"):
        assert code not in text, code
    for word in ("True", "False", "None", "nan", "NaN", "mapping"):
        assert not re.search(rf"\b{word}\b", text), word
    assert "@import" not in english.read_text() and "url(" not in english.read_text()


def test_page_one_says_what_to_do_and_its_trade_off(english: Path, evidence: Evidence, batch: Path) -> None:
    page = parse(english)
    decision = page.section("decision")
    rec = evidence.recommendation
    assert rec.chosen == "fee_increase_with_notice"  # the clear winner of this batch, within the limits
    scenario = evidence.policies[rec.chosen].scenario
    headline = re.search(r"<h2[^>]*data-headline[^>]*>(.*?)</h2>", english.read_text(), re.S).group(1)
    headline = re.sub(r"<[^>]+>", "", headline)
    # The policy's own words, not its file name; then revenue with its interval, churn in pp, who pays.
    assert headline.startswith(scenario.label_in("en") + ":")
    assert rec.chosen not in headline
    comparison = pd.read_csv(batch / "comparison.csv").set_index(["scenario", "metric"])
    revenue = comparison.loc[(rec.chosen, "net_revenue")]
    numbers = Numbers("en", "EUR")
    assert (
        numbers.estimate(
            revenue["difference_mean"],
            revenue["difference_low"],
            revenue["difference_high"],
            "money",
            signed=True,
        )
        in headline
    )
    churn = comparison.loc[(rec.chosen, "monthly_churn_rate"), "difference_mean"]
    assert numbers.points(churn) in headline and " pp" in headline and "%;" not in headline
    payers = comparison.loc[(rec.chosen, "losers_share"), "reform_mean"]
    assert f"{numbers.percent(payers, digits=0)} of customers pay more than 5% more" in headline
    # Every question page one answers, each under its own heading.
    for answer in ("effects", "confidence", "limits", "payers", "whys"):
        assert f'data-answer="{answer}"' in english.read_text(), answer
    for heading in (
        "What it gains and what it costs",
        "How sure we are",
        "Margin against the limits",
        "Who pays",
    ):
        assert heading in decision
    assert "against a 8 limit" in decision or "against an 8 limit" in decision or "limit" in decision


def test_how_sure_is_counted_from_the_paired_replications(batch: Path, evidence: Evidence) -> None:
    rec = evidence.recommendation
    draws = {
        name: pd.read_csv(next((batch / "runs").glob(f"{name}-*")) / "differences.csv")[
            "npv_net_revenue"
        ].to_numpy()
        for name in rec.ranking
        if name != evidence.baseline_name
    }
    draws[evidence.baseline_name] = np.zeros(len(next(iter(draws.values()))))
    stacked = np.vstack([draws[name] for name in rec.ranking])
    chosen = draws[rec.chosen]
    confidence = evidence.confidence
    assert confidence.probability_best == np.mean(chosen >= stacked.max(axis=0))
    assert confidence.expected_regret == pytest.approx(np.mean(stacked.max(axis=0) - chosen))
    assert confidence.beats_baseline == np.mean(chosen > 0)
    assert confidence.beats_runner_up == np.mean(chosen > draws[rec.runner_up])
    assert rec.chosen in rec.ranking and "late_notice_breach" not in rec.ranking  # it breaks the notice rule


def test_the_decomposition_adds_up_to_net_revenue(evidence: Evidence) -> None:
    for name in evidence.names:
        parts = evidence.decomposition(name)
        total = sum(parts.revenue[kind].mean for kind, _ in REVENUE_KINDS if kind in parts.revenue)
        assert total == pytest.approx(evidence.policies[name].difference["net_revenue"].mean, abs=1e-6)
        lost = sum(e.mean for e in parts.churn.values())
        assert lost == pytest.approx(evidence.policies[name].difference["churned"].mean, abs=1e-9)


def test_results_that_look_wrong_are_explained(english: Path, evidence: Evidence) -> None:
    kinds = {s.policy: s.kind for s in evidence.surprises()}
    # Audits refund errors after the bills customers react to: churn and complaints are exactly
    # today's in every replication, and the briefing says so instead of printing "+0.00".
    assert kinds.get("quarterly_audits") == "no_behaviour_change"
    whys = parse(english).section("decision")
    assert "Quarterly billing audits" in whys and "no customer acts differently" in whys
    assert "fee_increase_with_notice" not in kinds  # a price rise that earns more surprises nobody


def test_the_key_numbers_are_the_batch_numbers(batch: Path, english: Path, evidence: Evidence) -> None:
    comparison = pd.read_csv(batch / "comparison.csv").set_index(["scenario", "metric"])
    source = english.read_text(encoding="utf-8")
    rows = re.findall(r'<tr class="([^"]*)" data-policy="([^"]+)">(.*?)</tr>', source, flags=re.DOTALL)
    assert {policy for _, policy, _ in rows} == set(POLICIES)
    assert rows[0][1] == evidence.recommendation.chosen and "recommended" in rows[0][0]
    numbers = Numbers("en", "EUR")
    checked = 0
    for _, policy, row in rows:
        for metric, mean, low, high in re.findall(
            r'data-metric="(\w+)" data-mean="([^"]+)" data-low="([^"]+)" data-high="([^"]+)"', row
        ):
            if metric == "losers_share":
                assert float(mean) == comparison.loc[(policy, metric), "reform_mean"]
                continue
            expected = comparison.loc[(policy, metric)]
            assert float(mean) == expected["difference_mean"]
            assert (float(low), float(high)) == (expected["difference_low"], expected["difference_high"])
            checked += 1
        assert "[" not in row and "EUR" not in row
    assert checked == len(POLICIES) * 4
    shown = re.search(
        r'data-policy="penalty_fee">.*?data-metric="net_revenue"[^>]*>([^<]+)<', source, re.S
    ).group(1)
    value = comparison.loc[("penalty_fee", "net_revenue")]
    mean, low, high = value["difference_mean"], value["difference_low"], value["difference_high"]
    assert shown == numbers.estimate_parts(mean, low, high, "money", signed=True)[0]


def test_every_policy_keeps_its_colour_in_every_chart(batch: Path) -> None:
    briefing = Briefing(batch, constraints=CONSTRAINTS)
    colours = briefing.figures.colours
    assert len(set(colours.values())) == len(colours)  # one colour per policy
    assert colours[briefing.evidence.recommendation.chosen] == "#d1495b"
    titles = [chart.caption for chart in briefing.charts().values()]
    assert all(titles)


# --------------------------------------------------------------------------- print and screen


def test_the_page_fits_a4_in_chromium_and_page_one_is_whole_in_the_pdf(batch: Path, english: Path) -> None:
    browser = find_chromium()
    assert browser, "Chromium is installed by `make system-deps`"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=browser,
            args=[f for f in chromium_flags("") if not f.startswith("--user-data-dir")],
        )
        page = chromium.new_page(viewport={"width": round(A4_TEXT_WIDTH_PX), "height": 1100})
        page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.on("request", lambda r: None if r.url.startswith(("file:", "data:")) else problems.append(r.url))
        page.emulate_media(media="print")
        page.goto(english.as_uri())
        overflowing = page.evaluate(
            """() => {
                const limit = document.body.getBoundingClientRect().right + 0.5;
                return Array.from(document.querySelectorAll('main *'))
                    .filter(e => e.getBoundingClientRect().right > limit || e.scrollWidth > e.clientWidth + 1
                                 && getComputedStyle(e).overflowX !== 'visible')
                    .map(e => e.tagName + '.' + e.className + ': ' + (e.textContent || '').slice(0, 40));
            }"""
        )
        images = page.evaluate("Array.from(document.images).map(i => [i.complete, i.naturalWidth])")
        page.screenshot(path=str(ARTIFACTS / "briefing-en.png"), full_page=True)
        chromium.close()
    assert problems == []
    assert overflowing == []
    assert len(images) == 5 and all(complete and width > 500 for complete, width in images)

    pages = [p.extract_text() for p in PdfReader(batch / "briefing.pdf").pages]
    html = english.read_text()
    headline = re.sub(
        r"<[^>]+>", "", re.search(r"<h2[^>]*data-headline[^>]*>(.*?)</h2>", html, re.S).group(1)
    )
    one = flat(pages[0])
    assert flat(headline) in one
    for heading in (
        "What it gains and what it costs",
        "How sure we are",
        "Margin against the limits",
        "Who pays",
    ):
        assert flat(heading) in one, heading
    assert flat("Key numbers") not in one and flat("Key numbers") in flat(pages[1])
    assert len(pages) <= 9
    # A table row is never split across pages: each policy's name and its verdict (the last cell)
    # are on one page, in that order.
    rows = re.findall(
        r'<th scope="row" class="policy">(?:★ )?([^<]+)</th>.*?<td class="verdict">([^<]+)</td>', html, re.S
    )
    assert len(rows) == len(POLICIES)
    for label, verdict in rows:
        assert any(
            re.search(re.escape(flat(label)) + ".*?" + re.escape(flat(verdict)), flat(p)) for p in pages
        ), label
    # No page ends with a heading whose text then starts the next page.
    headings = [re.sub(r"<[^>]+>", "", h) for h in re.findall(r"<h[34][^>]*>(.*?)</h[34]>", html, re.S)]
    for text in pages[:-1]:
        last = [line for line in text.splitlines() if line.strip()][-1].strip()
        assert last not in headings, last


def test_the_chinese_briefing_is_chinese_and_every_glyph_exists(chinese: Path, batch: Path) -> None:
    source = chinese.read_text(encoding="utf-8")
    assert '<html lang="zh-CN">' in source
    page = parse(chinese)
    for heading in (
        "扣费政策简报",
        "收益与代价",
        "把握有多大",
        "谁来买单",
        "关键数字",
        "假设与来源",
        "来源与可复现性",
    ):
        assert heading in "".join(page.text), heading
    # Entirely Chinese outside an allow-list: units, currency symbols' abbreviations, file names in
    # the provenance, and cited authors in the assumptions' sources.
    allowed = {"pp", "EUR", "PDF", "HTML", "simlib", "k", "M"}
    for section in ("decision", "key_numbers", "changes"):
        words = set(re.findall(r"[A-Za-z]{2,}", page.section(section))) - allowed
        assert not words, (section, words)
    text = "".join(page.text)
    fonts = fonts_for("zh", text)
    assert fonts[1] in CJK_FONTS
    assert missing_characters(text, fonts) == set()
    assert missing_characters("扣费", (LATIN_FONT,)) == {"扣", "费"}  # the check can fail
    pdf_text = "".join(p.extract_text() for p in PdfReader(batch / "briefing.zh.pdf").pages)
    assert "收益与代价" in flat(pdf_text)
    charts = pd.read_csv(batch / "briefing.zh_files" / "causes.csv", header=[0, 1])
    assert any("扣款失败手续费" in str(column) for column in charts.columns)


# --------------------------------------------------------------------------- files


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
    assert "No policy meets the limits" in (copy / "briefing.html").read_text()


def test_a_batch_with_brief_writes_the_briefing(tmp_path: Path) -> None:
    out = tmp_path / "batch"  # given relative to the working directory, as `make demo` does
    result = simlib_command(
        "batch", SCENARIOS / "penalty_fee.yaml", "--baseline", SCENARIOS / "baseline.yaml", "--out", "batch",
        "--customers", "500", "--months", "6", "--replications", "2", "--quiet", "--brief", "--lang", "zh",
        "--notebook", Path(__file__).parent / "fixtures" / "batch" / "misbehaving.ipynb", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (out / "briefing.zh.html").exists() and (out / "briefing.zh.pdf").exists()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"] == {"succeeded": 1}
