"""The policy briefing: a decision paper a pricing manager reads in one minute, rendered in-process.

Three layers, each with one job:

- :class:`~simlib.report.evidence.Evidence` computes the numbers from a batch folder;
- :class:`~simlib.report.words.Words` and :class:`~simlib.report.figures.Figures` put them into
  sentences and charts in one language;
- Jinja2 templates (``simlib/report/templates``, autoescaped) lay them out: page one is the
  decision, then the evidence, then an appendix (what each policy changes, assumptions with sources,
  provenance).

:func:`write_briefing` writes ``briefing.html`` (one self-contained page: no code, images embedded,
nothing fetched), ``briefing.pdf`` (A4, printed by the system's Chromium) and ``briefing_files/``
(each chart's PNG and the CSV it was drawn from). No notebook kernel is involved;
``notebooks/briefing.ipynb`` shows the same sections for exploring.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

from simlib.analysis.recommend import Constraints
from simlib.batch.batch import MANIFEST, PREVIOUS
from simlib.errors import InputError
from simlib.files import write_atomic
from simlib.keypaths import value_at
from simlib.report.changes import describe_changes, describe_value
from simlib.report.evidence import OBJECTIVES, Evidence
from simlib.report.figures import CHARTS, Figures
from simlib.report.i18n import Messages, catalogue, executor_text, parameter_text, status_text
from simlib.report.words import Words
from simlib.style.charts import Chart, ChartBook, MissingFontError, fonts_for
from simlib.style.numbers import digits_for

#: The key-numbers table: paired differences to the baseline, in reading order.
KEY_COLUMNS = ("npv_net_revenue", "net_revenue", "monthly_churn_rate", "complaints_per_1000")
#: Sections in reading order; page one is ``decision``.
SECTIONS = (
    "decision",
    "key_numbers",
    *(f"chart_{c}" for c in CHARTS),
    "changes",
    "assumptions",
    "provenance",
)
#: Sections that start a printed page.
NEW_PAGE = {"key_numbers", "chart_active", "changes", "assumptions", "provenance"}

__all__ = ["OBJECTIVES", "SECTIONS", "Briefing", "BriefingFiles", "Section", "write_briefing"]


def fonts_for_owners(language: str, owners: dict[str, str], common: str = "") -> tuple[str, ...]:
    """The fonts that draw ``common`` and every owner's text (``{"scenario 'x'": "its name"}``);
    if none can draw some character, the error names whose text holds it (a scenario, a segment,
    the title), not only the character."""
    try:
        return fonts_for(language, common + "".join(owners.values()))
    except MissingFontError as exc:
        culprits = []
        for owner, text in owners.items():
            try:
                fonts_for(language, text)
            except MissingFontError:
                culprits.append(owner)
        if not culprits:
            raise
        raise MissingFontError(f"{exc} (found in {', '.join(culprits)})") from None


@dataclass(frozen=True)
class Section:
    """One rendered part of the briefing; notebooks display it."""

    name: str
    html: str

    def _repr_html_(self) -> str:
        return self.html


class Briefing:
    """A briefing built from a finished batch folder.

    Parameters
    ----------
    batch_dir : a folder written by ``simlib batch``.
    language : ``"en"`` or ``"zh"``.
    title : the page's title; the catalogue's default if empty.
    constraints : limits the recommended policy must respect (compliance breaches always count
        unless allowed).
    objective : ``"npv_net_revenue"`` (default) or ``"net_revenue"``: what the recommendation
        maximises, as the paired difference to the baseline.
    """

    def __init__(
        self,
        batch_dir: str | Path,
        *,
        language: str = "en",
        title: str | None = None,
        constraints: Constraints | None = None,
        objective: str = "npv_net_revenue",
    ):
        self.t = Messages(language)  # checks the language first
        self.language = language
        self.evidence = Evidence(batch_dir, constraints=constraints, objective=objective)
        self.words = Words(self.evidence, language)
        self.title = title or self.t("title_default")
        self.fonts = self._fonts()
        self.figures = Figures(self.evidence, self.words, ChartBook(self.fonts))

    # --- text -------------------------------------------------------------------------------------

    def headline(self) -> str:
        """Page one's first sentence: what to do and its trade-off."""
        return self.words.headline()

    def _fonts(self) -> tuple[str, ...]:
        """The fonts for every character the charts draw (see :func:`fonts_for_owners`)."""
        owners = {"the title": self.title}
        for name in [self.evidence.baseline_name, *self.evidence.names]:
            owners[f"scenario {name!r}"] = self.words.short(name)
        for segment in self.evidence.baseline_scenario.population.segments:
            owners[f"segment {segment.name!r}"] = self.words.segment(segment.name)
        return fonts_for_owners(self.language, owners, "".join(catalogue(self.language).values()))

    # --- what the templates show ------------------------------------------------------------------

    @cached_property
    def context(self) -> dict[str, Any]:
        """Everything the templates need, as plain values (strings already formatted)."""
        ev, w = self.evidence, self.words
        p = ev.parameters
        return {
            "lang": {"en": "en", "zh": "zh-CN"}[self.language],
            "t": self.t,
            "title": self.title,
            "subtitle": self.t(
                "subtitle",
                policies=len(ev.names),
                baseline=w.label(ev.baseline_name),
                customers=w.n.count(p["customers"]),
                months=p["months"],
                replications=p["replications"],
                date=datetime.now(UTC).strftime("%Y-%m-%d"),
            ),
            "headline": w.headline(),
            "recommended": ev.recommendation.chosen is not None and not ev.recommendation.keep_baseline,
            "constraints": w.constraints(),
            "effects": w.effects(),
            "confidence": w.confidence(),
            "limits": w.limits(),
            "payers": w.payers(),
            "whys": w.whys(),
            "notes": w.notes(),
            "key_numbers": self._key_numbers(),
            "charts": self._charts(),
            "changes": self._changes(),
            "assumptions": self._assumptions(),
            "provenance": self._provenance(),
            "new_page": NEW_PAGE,
        }

    def _key_numbers(self) -> dict[str, Any]:
        ev, w = self.evidence, self.words
        rec = ev.recommendation
        rows = []
        for policy in ev.ordered():
            cells = []
            for metric in KEY_COLUMNS:
                value = ev.policies[policy].difference[metric]
                mean, interval = w.parts(policy, metric)
                cells.append(
                    {
                        "metric": metric,
                        "mean": mean,
                        "interval": interval,
                        "data": (value.mean, value.low, value.high),
                    }
                )
            payers = ev.payers(policy)
            cells.append(
                {
                    "metric": "losers_share",
                    "mean": w.n.percent(payers.mean, digits=0),
                    "interval": "",
                    "data": (payers.mean, payers.low, payers.high),
                }
            )
            broken = rec.broken(policy)
            if policy == rec.chosen:
                verdict = self.t("verdict_recommended")
            elif broken:
                verdict = self.t(
                    "verdict_breaks", reasons=w.join([self.t(f"short_{c.constraint}") for c in broken])
                )
            else:
                verdict = self.t("verdict_meets")
            rows.append(
                {
                    "name": policy,
                    "label": w.short(policy),
                    "recommended": policy == rec.chosen,
                    "cells": cells,
                    "verdict": verdict,
                    "broken": bool(broken),
                }
            )
        columns = [self.t(f"col_{metric}") for metric in KEY_COLUMNS]
        columns.append(self.t("col_losers_share"))
        return {
            "columns": columns,
            "rows": rows,
            "note": self.t(
                "key_numbers_note",
                baseline=w.label(ev.baseline_name),
                coverage=w.n.percent(ev.coverage, digits=0),
            ),
        }

    def charts(self) -> dict[str, Chart]:
        """Every chart, drawn once."""
        return self.figures.all()

    def _charts(self) -> list[dict[str, Any]]:
        return [
            {
                "name": name,
                "section": f"chart_{name}",
                "src": chart.data_uri(),
                "alt": chart.alt,
                "caption": chart.caption,
            }
            for name, chart in self.charts().items()
        ]

    def _changes(self) -> list[dict[str, Any]]:
        ev, w = self.evidence, self.words
        out = []
        for policy in ev.ordered():
            changes = describe_changes(
                ev.baseline_scenario,
                ev.policies[policy].scenario,
                self.language,
                label=lambda path: parameter_text(path, self.language, ev.currency).label,
            )
            out.append(
                {
                    "name": policy,
                    "label": w.label(policy),
                    "description": ev.policies[policy].scenario.description_in(self.language),
                    "lines": [c.sentence for c in changes],
                }
            )
        return out

    def _assumptions(self) -> dict[str, list[dict[str, str]]]:
        """The behavioural assumptions of the baseline: uncertain ones (drawn per replication) with
        their 90% range, fixed ones with their value; label, unit and source in this language."""
        baseline = self.evidence.baseline_scenario
        uncertain, fixed = [], []
        for parameter in baseline.parameters():
            if not parameter.path.startswith("behaviour."):
                continue
            text = parameter_text(parameter.path, self.language, self.evidence.currency)
            value = value_at(baseline.model, parameter.path)
            shown = describe_value(baseline, parameter.path, self.language, units=False)
            row = {
                "path": parameter.path,
                "label": text.label,
                "unit": text.unit,
                "source": text.source or "",
            }
            if hasattr(value, "quantile"):
                low, high = value.quantile(0.05), value.quantile(0.95)
                digits = digits_for(low, high)
                row["value"] = self.t(
                    "uncertain_value",
                    low=self.words.n.rate(low, digits=digits),
                    high=self.words.n.rate(high, digits=digits),
                    distribution=shown,
                )
                uncertain.append(row)
            else:
                row["value"] = shown
                fixed.append(row)
        return {"uncertain": uncertain, "fixed": fixed}

    def _provenance(self) -> dict[str, Any]:
        m, p = self.evidence.manifest, self.evidence.parameters
        facts = [
            (self.t("prov_batch"), m["batch_id"]),
            (self.t("prov_generated"), datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")),
            (self.t("prov_batch_updated"), m["updated"]),
            (
                self.t("prov_baseline"),
                " · ".join(
                    (m["baseline"]["name"], m["baseline"]["sha256"][:12], m["baseline"]["fingerprint"])
                ),
            ),
            (
                self.t("prov_size"),
                self.t(
                    "prov_size_value",
                    customers=self.words.n.count(p["customers"]),
                    months=p["months"],
                    replications=p["replications"],
                    seed=p["seed"],
                ),
            ),
            (self.t("prov_executor"), executor_text(m["executor"], self.language)),
            (self.t("prov_versions"), ", ".join(f"{k} {v}" for k, v in m["versions"].items())),
        ]
        runs = [
            {
                "scenario": r["scenario"],
                "run_id": r["run_id"],
                "sha256": r["scenario_sha256"][:12],
                "fingerprint": r["scenario_fingerprint"],
                "seed": r["seed"],
                "status": status_text(r["status"], self.language),
            }
            for r in m["runs"]
        ]
        return {"facts": facts, "runs": runs, "rerun": self.t("prov_rerun", seed=p["seed"])}

    # --- rendering --------------------------------------------------------------------------------

    def html(self) -> str:
        """The whole page: self-contained HTML (styles inline, images as data URIs)."""
        return _environment().get_template("briefing.html").render(**self.context)

    def section(self, name: str) -> Section:
        """One section of the page, for a notebook to display (``decision``, ``key_numbers``,
        ``chart_frontier``, … ``provenance``)."""
        if name not in SECTIONS:
            raise InputError(f"no briefing section {name!r}; choose from {', '.join(SECTIONS)}")
        template = _environment().get_template("section.html")
        return Section(name, template.render(section=name, **self.context))

    def sections(self) -> list[Section]:
        """Every section in reading order."""
        return [self.section(name) for name in SECTIONS]

    def _repr_html_(self) -> str:
        return "".join(s.html for s in self.sections())

    def save_chart_data(self, folder: str | Path | None) -> Path | None:
        """Each chart's PNG and the CSV of the data it was drawn from, into ``folder``."""
        if not folder:
            return None
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for name, chart in self.charts().items():
            write_atomic(folder / f"{name}.csv", lambda p, chart=chart: chart.data.to_csv(p, index=False))
            write_atomic(folder / f"{name}.png", lambda p, chart=chart: Path(p).write_bytes(chart.png))
        return folder


#: A number as the sentences write it: sign, currency, digits, suffix, unit (``+€11k``, ``0.87 pp``).
_NUMBER = re.compile(r"[+\-−]?[€$£¥]?\d[\d,.]*(?:k|M|%| pp| 个百分点| 万| 亿)?(?:欧元)?")


def _keep_numbers_whole(text: str):
    """``text`` escaped, with every number in a span that never breaks across lines (a line must
    not end in "+" with "€11k" on the next). Numbers are found in the plain text, before escaping,
    so an entity such as ``&#39;`` is never taken for one."""
    from markupsafe import Markup, escape

    parts, last = [], 0
    for match in _NUMBER.finditer(text):
        parts.append(str(escape(text[last : match.start()])))
        parts.append(f'<span class="n">{escape(match.group(0))}</span>')
        last = match.end()
    parts.append(str(escape(text[last:])))
    return Markup("".join(parts))


def _environment():
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    environment = Environment(
        loader=PackageLoader("simlib.report", "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["numbers"] = _keep_numbers_whole
    return environment


@dataclass(frozen=True)
class BriefingFiles:
    """Where a briefing was written; ``pdf`` is None (and ``note`` says why) if it could not be."""

    html: Path
    pdf: Path | None
    data: Path
    note: str | None = None


def write_briefing(
    batch_dir: str | Path,
    *,
    language: str = "en",
    title: str | None = None,
    constraints: Constraints | None = None,
    objective: str = "npv_net_revenue",
    force: bool = False,
) -> BriefingFiles:
    """Write ``briefing.html``, ``briefing.pdf`` and ``briefing_files/`` into the batch folder
    (``briefing.zh.*`` for Chinese), rendered in this process.

    Existing briefing files are never overwritten: ``force`` moves them under ``previous/`` first.
    Everything is prepared in a staging folder and moved into place at the end, the page last.
    """
    from simlib.report.pdf import print_to_pdf

    folder = Path(batch_dir).resolve()
    if not (folder / MANIFEST).exists():
        raise InputError(f"{folder} is not a batch folder (no {MANIFEST}); run `simlib batch` first")
    briefing = Briefing(folder, language=language, title=title, constraints=constraints, objective=objective)
    stem = "briefing" if language == "en" else f"briefing.{language}"
    targets = {
        "html": folder / f"{stem}.html",
        "pdf": folder / f"{stem}.pdf",
        "data": folder / f"{stem}_files",
    }
    existing = [p for p in targets.values() if p.exists()]
    if existing and not force:
        raise InputError(
            f"{existing[0]} already exists; use --force to write a new briefing "
            "(the old one is kept under previous/)"
        )
    staging = folder / ".in-progress" / f"briefing-{uuid.uuid4().hex[:8]}"
    staging.mkdir(parents=True)
    try:
        briefing.save_chart_data(staging / "files")
        (staging / "briefing.html").write_text(briefing.html(), encoding="utf-8")
        note = None
        try:
            print_to_pdf(staging / "briefing.html", staging / "briefing.pdf")
        except (FileNotFoundError, RuntimeError) as exc:
            note = str(exc)
        if force and existing:
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
            for path in existing:
                target = folder / PREVIOUS / stamp / path.name
                target.parent.mkdir(parents=True, exist_ok=True)
                os.rename(path, target)
        os.rename(staging / "files", targets["data"])
        if (staging / "briefing.pdf").exists():
            os.rename(staging / "briefing.pdf", targets["pdf"])
        os.rename(staging / "briefing.html", targets["html"])  # last: the page marks a complete briefing
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return BriefingFiles(
        targets["html"], targets["pdf"] if targets["pdf"].exists() else None, targets["data"], note
    )
