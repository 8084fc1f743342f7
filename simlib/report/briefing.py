"""The policy briefing: what a pricing manager reads in five minutes and decides from.

:class:`Briefing` reads a finished batch folder and produces the briefing's sections — headline and
executive summary (sentences generated from the numbers), key-numbers table, charts with captions,
what each reform changes, assumptions and sources, provenance — each as an HTML fragment, in the
language of a message catalogue (:mod:`simlib.report.i18n`). ``notebooks/briefing.ipynb`` displays them;
:func:`write_briefing` executes that notebook with papermill and turns its outputs into one
self-contained HTML page (no code, images embedded, no external requests) and a PDF.
"""

from __future__ import annotations

import html
import json
import os
import shutil
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from simlib.analysis.frontier import frontier_table
from simlib.analysis.recommend import Candidate, Constraints, recommend
from simlib.batch.batch import MANIFEST, PREVIOUS, BatchResult
from simlib.errors import InputError
from simlib.files import write_atomic
from simlib.report.i18n import Messages, catalogue
from simlib.resources import shipped_notebook
from simlib.run.intervals import COVERAGE
from simlib.run.metrics import CHURN_CAUSES, COMPLAINT_CAUSES
from simlib.scenario.scenario import Scenario, from_dict
from simlib.style.charts import Chart, ChartBook, MissingFontError, fonts_for
from simlib.style.numbers import estimate, number

OBJECTIVES = ("npv_net_revenue", "net_revenue")
KEY_COLUMNS = (
    ("net_revenue", "money"),
    ("npv_net_revenue", "money"),
    ("monthly_churn_rate", "share"),
    ("complaints_per_1000", "plain"),
    # Overcharges still owed to customers: a liability, not revenue (docs/model.md §5).
    ("overcharges_owed", "money"),
)
#: Charts in reading order, with the page each one starts (None: same page as the one before).
CHARTS = ("frontier", "winners_losers", "active", "causes", "segments")


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


@dataclass(frozen=True)
class Section:
    """One part of the briefing as HTML; ``new_page`` starts a printed page with it."""

    name: str
    body: str
    new_page: bool = False

    @property
    def html(self) -> str:
        page = " new-page" if self.new_page else ""
        return f'<section class="briefing-section{page}" data-section="{_e(self.name)}">{self.body}</section>'

    def _repr_html_(self) -> str:
        return self.html


class Briefing:
    """A briefing built from a finished batch folder.

    Parameters
    ----------
    batch_dir : a folder written by ``simlib batch``.
    language : ``"en"`` or ``"zh"``.
    title : the headline title; the catalogue's default if empty.
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
        if objective not in OBJECTIVES:
            raise InputError(f"objective must be one of {', '.join(OBJECTIVES)} (got {objective!r})")
        self.folder = Path(batch_dir)
        self.batch = BatchResult(self.folder)
        self.manifest = self.batch.manifest
        self.t = Messages(language)
        self.language = language
        self.title = title or self.t("title_default")
        self.constraints = constraints or Constraints()
        self.objective = objective
        self.runs = [r for r in self.manifest["runs"] if r["status"] == "succeeded"]
        if not self.runs:
            raise InputError(f"{self.folder}: no run of this batch succeeded, so there is nothing to brief")
        self.failed = [r for r in self.manifest["runs"] if r["status"] != "succeeded"]
        self.policies = [r["scenario"] for r in self.runs]
        self.table = self.batch.comparison.set_index(["scenario", "metric"])
        self._differences = {
            r["scenario"]: pd.read_csv(self.folder / r["folder"] / "differences.csv", index_col=0)
            for r in self.runs
        }
        first = self.folder / self.runs[0]["folder"]
        self.baseline = _scenario(first / "baseline" / "scenario.json")
        self.reforms = {
            r["scenario"]: _scenario(self.folder / r["folder"] / "reform" / "scenario.json")
            for r in self.runs
        }
        self.currency = self.baseline.simulation.currency
        self._check_same_baseline()
        self.recommendation = recommend(self.candidates(), self.constraints)
        self.fonts = self._fonts()
        self._charts: dict[str, Chart] = {}

    # --- numbers ----------------------------------------------------------------------------------

    def _row(self, policy: str, metric: str) -> pd.Series:
        return self.table.loc[(policy, metric)]

    def _check_same_baseline(self) -> None:
        """Every run must have simulated the same baseline on the same draws: their baseline
        columns agree exactly, or the batch is not one comparison."""
        reference = self.table.xs(self.policies[0], level="scenario")["baseline_mean"]
        for policy in self.policies[1:]:
            other = self.table.xs(policy, level="scenario")["baseline_mean"]
            if not np.allclose(reference.dropna(), other.reindex(reference.dropna().index), rtol=0, atol=0):
                raise InputError(
                    f"{self.folder}: the runs did not share one baseline; brief each batch alone"
                )

    def candidates(self) -> list[Candidate]:
        """The baseline (zero difference) and every succeeded policy, as the recommendation sees them."""
        replications = len(next(iter(self._differences.values())))
        first = self.policies[0]

        def level(policy: str, metric: str, prefix: str) -> tuple[float, float]:
            row = self._row(policy, metric)
            return float(row[f"{prefix}_mean"]), float(row[f"{prefix}_high"])

        baseline_complaints = level(first, "complaints_per_1000", "baseline")
        baseline_churn = level(first, "monthly_churn_rate", "baseline")
        out = [
            Candidate(
                self.baseline_name,
                np.zeros(replications),
                *baseline_complaints,
                *baseline_churn,
                float(self._row(first, "compliance_breaches")["baseline_mean"]),
                is_baseline=True,
            )
        ]
        for policy in self.policies:
            out.append(
                Candidate(
                    policy,
                    self._differences[policy][self.objective].to_numpy(dtype=float),
                    *level(policy, "complaints_per_1000", "reform"),
                    *level(policy, "monthly_churn_rate", "reform"),
                    float(self._row(policy, "compliance_breaches")["reform_mean"]),
                )
            )
        return out

    @property
    def baseline_name(self) -> str:
        return self.manifest["baseline"]["name"]

    def _estimate(self, policy: str, metric: str, kind: str, prefix: str = "difference") -> str:
        row = self._row(policy, metric)
        text = estimate(
            row[f"{prefix}_mean"],
            row[f"{prefix}_low"],
            row[f"{prefix}_high"],
            "share" if kind == "share" else "",
            signed=prefix == "difference",
        )
        return self.t("money", value=text, currency=self.currency) if kind == "money" else text

    def _margin(self) -> str:
        mean, low, high = self.recommendation.margin
        return self.t("money", value=estimate(mean, low, high, "", signed=True), currency=self.currency)

    # --- text -------------------------------------------------------------------------------------

    def _fonts(self) -> tuple[str, ...]:
        """The fonts for every character drawn; if none can draw some character, the error names
        which scenario, segment or title holds it (a batch made before names were checked)."""
        try:
            return fonts_for(self.language, self._all_text())
        except MissingFontError as exc:
            owners = [f"scenario {p!r}" for p in self.policies] + [f"baseline {self.baseline_name!r}"]
            owners += [f"segment {s.name!r}" for s in self.baseline.population.segments]
            texts = [*self.policies, self.baseline_name, *(s.name for s in self.baseline.population.segments)]
            owners.append("the title")
            texts.append(self.title)
            culprits = []
            for owner, text in zip(owners, texts, strict=True):
                try:
                    fonts_for(self.language, text)
                except MissingFontError:
                    culprits.append(owner)
            if not culprits:
                raise
            raise MissingFontError(f"{exc} (found in {', '.join(dict.fromkeys(culprits))})") from None

    def _all_text(self) -> str:
        """Every character the briefing may draw: catalogue, names, labels."""
        words = list(catalogue(self.language).values()) + self.policies + [self.baseline_name, self.title]
        words += [s.name for s in self.baseline.population.segments]
        return "".join(words)

    def _constraint_text(self) -> str:
        c = self.constraints
        parts = []
        if c.max_complaints_per_1000 is not None:
            parts.append(self.t("constraint_complaints", limit=number(c.max_complaints_per_1000)))
        if c.max_monthly_churn is not None:
            parts.append(
                self.t(
                    "constraint_churn",
                    limit=estimate(
                        c.max_monthly_churn, c.max_monthly_churn, c.max_monthly_churn, "share"
                    ).split(" ")[0],
                )
            )
        if not c.allow_compliance_breaches:
            parts.append(self.t("constraint_compliance"))
        if not parts:
            return self.t("constraints_none")
        return self.t("constraints", list=self.t("list_separator").join(parts))

    def _broken_text(self, policy: str) -> str:
        reasons = []
        for item in self.recommendation.broken(policy):
            if item.constraint == "compliance":
                reasons.append(self.t("broken_compliance", value=number(item.value)))
            elif item.constraint == "complaints":
                reasons.append(
                    self.t("broken_complaints", value=number(item.value), limit=number(item.limit))
                )
            else:
                reasons.append(self.t("broken_churn", value=f"{item.value:.2%}", limit=f"{item.limit:.2%}"))
        return self.t("list_separator").join(reasons)

    def headline(self) -> str:
        rec = self.recommendation
        if rec.chosen is None:
            return self.t("headline_none")
        if rec.keep_baseline:
            return self.t("headline_keep")
        return self.t("headline_recommend", policy=rec.chosen)

    def sentences(self) -> list[str]:
        """The executive summary, sentence by sentence, generated from the numbers."""
        rec = self.recommendation
        months = self.manifest["parameters"]["months"]
        out = []
        if rec.chosen is None:
            out.append(self.t("summary_none", closest=rec.closest, reasons=self._broken_text(rec.closest)))
        elif rec.keep_baseline:
            out.append(self.t("summary_keep", objective=self.t(f"objective_{self.objective}")))
        else:
            p = rec.chosen
            out.append(
                self.t(
                    "summary_recommend",
                    policy=p,
                    months=months,
                    revenue=self._estimate(p, "net_revenue", "money"),
                    npv=self._estimate(p, "npv_net_revenue", "money"),
                    churn=self._estimate(p, "monthly_churn_rate", "share"),
                    complaints=self._estimate(p, "complaints_per_1000", "plain"),
                )
            )
        if rec.chosen is not None and rec.runner_up is not None:
            key = "summary_tied" if rec.tied else "summary_runner_up"
            if rec.runner_up == self.baseline_name:
                key += "_baseline"
            out.append(
                self.t(
                    key,
                    policy=rec.chosen,
                    runner_up=rec.runner_up,
                    margin=self._margin(),
                    objective=self.t(f"objective_{self.objective}"),
                )
            )
        breakers = [p for p in [self.baseline_name, *self.policies] if rec.broken(p)]
        if breakers:
            details = self.t("list_separator").join(f"{p} ({self._broken_text(p)})" for p in breakers)
            out.append(self.t("summary_broken", details=details))
        at_risk = [p for p in [self.baseline_name, *self.policies] if rec.at_risk(p)]
        if at_risk and rec.chosen is not None:
            out.append(self.t("summary_at_risk", policies=self.t("list_separator").join(at_risk)))
        first = self.policies[0]
        out.append(
            self.t(
                "summary_baseline",
                baseline=self.baseline_name,
                months=months,
                revenue=self._estimate(first, "net_revenue", "money", "baseline"),
                churn=self._estimate(first, "monthly_churn_rate", "share", "baseline"),
                complaints=self._estimate(first, "complaints_per_1000", "plain", "baseline"),
            )
        )
        out.append(
            self.t(
                "summary_liability_baseline",
                owed=self._estimate(first, "overcharges_owed", "money", "baseline"),
                payout=self._estimate(first, "overcharges_expected_payout", "money", "baseline"),
            )
        )
        if rec.chosen is not None and not rec.keep_baseline:
            out.append(
                self.t(
                    "summary_liability_policy",
                    policy=rec.chosen,
                    owed=self._estimate(rec.chosen, "overcharges_owed", "money"),
                )
            )
        if self.failed:
            out.append(
                self.t(
                    "summary_failed",
                    policies=self.t("list_separator").join(r["scenario"] for r in self.failed),
                )
            )
        out.append(
            self.t(
                "summary_method",
                replications=self.manifest["parameters"]["replications"],
                coverage=f"{COVERAGE:.0%}",
            )
        )
        return out

    # --- sections ---------------------------------------------------------------------------------

    def header(self) -> Section:
        p = self.manifest["parameters"]
        subtitle = self.t(
            "subtitle",
            policies=len(self.policies),
            baseline=self.baseline_name,
            customers=f"{p['customers']:,}",
            months=p["months"],
            replications=p["replications"],
            date=datetime.now(UTC).strftime("%Y-%m-%d"),
        )
        body = (
            f'<p class="kicker">{_e(self.t("kicker"))}</p><h1>{_e(self.title)}</h1>'
            f'<p class="subtitle">{_e(subtitle)}</p>'
            f'<h2 class="headline">{_e(self.headline())}</h2>'
            f'<p class="constraints">{_e(self._constraint_text())}</p>'
        )
        return Section("header", body)

    def summary(self) -> Section:
        items = "".join(f"<li>{_e(s)}</li>" for s in self.sentences())
        return Section("summary", f"<h3>{_e(self.t('section_summary'))}</h3><ul class='summary'>{items}</ul>")

    def key_numbers(self) -> Section:
        rec = self.recommendation
        headers = [self.t("col_policy")] + [
            self.t(f"col_{metric}", currency=self.currency) for metric, _ in KEY_COLUMNS
        ]
        headers += [self.t("col_compliance_breaches"), self.t("col_verdict")]
        rows = []
        for policy in self.policies:
            marked = policy == rec.chosen
            # <wbr> lets a long snake_case name wrap at its underscores, and nowhere else.
            name = _e(policy).replace("_", "_<wbr>")
            cells = [f'<th scope="row">{"★ " if marked else ""}{name}</th>']
            for metric, kind in KEY_COLUMNS:
                row = self._row(policy, metric)
                mean, _, interval = self._estimate(
                    policy, metric, "share" if kind == "share" else ""
                ).partition(" ")
                cells.append(
                    f'<td class="num" data-metric="{metric}" data-mean="{float(row["difference_mean"])!r}" '
                    f'data-low="{float(row["difference_low"])!r}" '
                    f'data-high="{float(row["difference_high"])!r}">'
                    f'{_e(mean)}<br><span class="interval">{_e(interval)}</span></td>'
                )
            breaches = self._row(policy, "compliance_breaches")["reform_mean"]
            cells.append(
                f'<td class="num" data-metric="compliance_breaches" data-mean="{float(breaches)!r}">'
                f"{_e(number(breaches))}</td>"
            )
            broken = self._broken_text(policy)
            verdict = (
                self.t("verdict_recommended")
                if marked
                else (self.t("verdict_breaks", reasons=broken) if broken else self.t("verdict_meets"))
            )
            cells.append(f'<td class="verdict">{_e(verdict)}</td>')
            rows.append(
                f'<tr class="{"recommended" if marked else ""}" data-policy="{_e(policy)}">'
                f"{''.join(cells)}</tr>"
            )
        head = "".join(f'<th scope="col">{_e(h)}</th>' for h in headers)
        note = self.t("key_numbers_note", baseline=self.baseline_name, coverage=f"{COVERAGE:.0%}")
        body = (
            f"<h3>{_e(self.t('section_key_numbers'))}</h3>"
            f'<table class="key-numbers"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
            f'<p class="note">{_e(note)}</p>'
        )
        return Section("key_numbers", body)

    def chart(self, name: str) -> Section:
        chart = self.charts()[name]
        body = (
            f'<figure class="chart" data-chart="{_e(name)}">'
            f'<img src="{chart.data_uri()}" alt="{_e(chart.alt)}">'
            f"<figcaption>{_e(chart.caption)}</figcaption></figure>"
        )
        return Section(f"chart_{name}", body, new_page=name in ("frontier", "active", "segments"))

    def changes(self) -> Section:
        parts = [f"<h3>{_e(self.t('section_changes'))}</h3>"]
        head = "".join(
            f"<th>{_e(self.t(k))}</th>"
            for k in ("col_parameter", "col_baseline_value", "col_policy_value", "col_unit")
        )
        for policy in self.policies:
            changes = self.batch.result(policy).get("changes", [])
            label = self.reforms[policy].label or ""
            rows = (
                "".join(
                    f"<tr><td><code>{_e(c['parameter'])}</code></td><td>{_e(_shown(c.get('baseline')))}</td>"
                    f"<td>{_e(_shown(c.get('scenario')))}</td><td>{_e(c.get('unit') or '')}</td></tr>"
                    for c in changes
                )
                or f"<tr><td colspan='4'>{_e(self.t('no_changes'))}</td></tr>"
            )
            parts.append(
                f"<h4>{_e(policy)}</h4><p class='label'>{_e(label)}</p>"
                f"<table class='changes'><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"
            )
        return Section("changes", "".join(parts))

    def assumptions(self) -> Section:
        uncertain, fixed = [], []
        for parameter in self.baseline.parameters():
            if not parameter.path.startswith("behaviour."):
                continue
            value = _value_at(self.baseline, parameter.path)
            name = (
                f"<td><code>{_e(parameter.path)}</code><br><span class='label'>{_e(parameter.label)}</span>"
            )
            source = f"<td class='source'>{_e(parameter.source or '')}</td>"
            if hasattr(value, "quantile"):
                shown = self.t(
                    "uncertain_value",
                    low=number(value.quantile(0.05)),
                    high=number(value.quantile(0.95)),
                    distribution=str(parameter.value),
                )
                uncertain.append(
                    f"<tr>{name}</td><td>{_e(shown)}</td><td>{_e(parameter.unit)}</td>{source}</tr>"
                )
            else:
                shown = number(value) if isinstance(value, int | float) else str(value)
                fixed.append(
                    f"<tr><td><code>{_e(parameter.path)}</code></td><td>{_e(shown)}</td>"
                    f"<td>{_e(parameter.unit)}</td>{source}</tr>"
                )
        head = "".join(
            f"<th>{_e(self.t(k))}</th>" for k in ("col_parameter", "col_value", "col_unit", "col_source")
        )
        body = (
            f"<h3>{_e(self.t('section_assumptions'))}</h3><p>{_e(self.t('assumptions_intro'))}</p>"
            f"<h4>{_e(self.t('assumptions_uncertain'))}</h4>"
            f"<table class='assumptions'><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(uncertain)}</tbody></table>"
            f"<h4>{_e(self.t('assumptions_fixed'))}</h4>"
            f"<table class='assumptions compact'><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(fixed)}</tbody></table>"
        )
        return Section("assumptions", body, new_page=True)

    def provenance(self) -> Section:
        m = self.manifest
        p = m["parameters"]
        facts = [
            (self.t("prov_batch"), m["batch_id"]),
            (self.t("prov_generated"), datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")),
            (self.t("prov_batch_updated"), m["updated"]),
            (
                self.t("prov_baseline"),
                f"{m['baseline']['name']} · sha256 {m['baseline']['sha256'][:12]} · "
                f"fingerprint {m['baseline']['fingerprint']}",
            ),
            (
                self.t("prov_size"),
                f"{p['customers']:,} × {p['months']} × {p['replications']}, seed {p['seed']}",
            ),
            (self.t("prov_executor"), m["executor"]),
            (self.t("prov_versions"), ", ".join(f"{k} {v}" for k, v in m["versions"].items())),
        ]
        facts_html = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in facts)
        head = "".join(
            f"<th>{_e(self.t(k))}</th>"
            for k in (
                "col_policy",
                "col_run_id",
                "col_file_hash",
                "col_fingerprint",
                "col_seed",
                "col_status",
            )
        )
        runs = "".join(
            f"<tr><td>{_e(r['scenario'])}</td><td><code>{_e(r['run_id'])}</code></td>"
            f"<td><code>{_e(r['scenario_sha256'][:12])}</code></td><td><code>{_e(r['scenario_fingerprint'])}</code></td>"
            f"<td>{_e(r['seed'])}</td><td>{_e(r['status'])}</td></tr>"
            for r in m["runs"]
        )
        rerun = self.t("prov_rerun", seed=p["seed"])
        body = (
            f"<h3>{_e(self.t('section_provenance'))}</h3><table class='facts'>{facts_html}</table>"
            f"<table class='runs'><thead><tr>{head}</tr></thead><tbody>{runs}</tbody></table>"
            f"<p class='note'>{_e(rerun)}</p>"
        )
        return Section("provenance", body, new_page=True)

    def sections(self) -> list[Section]:
        """Every section in reading order (what the notebook displays)."""
        charts = [self.chart(name) for name in CHARTS]
        return [
            self.header(),
            self.summary(),
            self.key_numbers(),
            *charts[:2],
            *charts[2:4],
            charts[4],
            self.changes(),
            self.assumptions(),
            self.provenance(),
        ]

    # --- charts -----------------------------------------------------------------------------------

    def charts(self) -> dict[str, Chart]:
        """Every chart, drawn once."""
        if not self._charts:
            book = ChartBook(self.fonts)
            for name in CHARTS:
                self._charts[name] = getattr(self, f"_chart_{name}")(book)
        return self._charts

    def _chart_frontier(self, book: ChartBook) -> Chart:
        # The baseline is an option too: at the origin, with no interval (it is the reference).
        comparison = self.batch.comparison
        origin = comparison[comparison["scenario"] == self.policies[0]].assign(
            scenario=self.baseline_name, difference_mean=0.0, difference_low=0.0, difference_high=0.0
        )
        frame = frontier_table(pd.concat([origin, comparison]), "net_revenue", "complaints_per_1000")
        labels = {
            "title": self.t("chart_frontier_title"),
            "x": self.t("chart_frontier_x"),
            "y": self.t("chart_frontier_y", currency=self.currency),
            "frontier": self.t("chart_frontier_legend"),
        }
        png = book.frontier(frame, self.recommendation.chosen, labels)
        on_front = self.t("list_separator").join(frame.index[frame["on_frontier"]])
        return Chart(
            "frontier",
            png,
            frame.reset_index(),
            self.t("caption_frontier", policies=on_front),
            self.t("alt_frontier", count=len(frame)),
        )

    def _monthly(self, policy: str, run: str) -> pd.DataFrame:
        entry = next(r for r in self.runs if r["scenario"] == policy)
        return pd.read_parquet(self.folder / entry["folder"] / run / "monthly.parquet")

    def _chart_active(self, book: ChartBook) -> Chart:
        bands: dict[str, pd.DataFrame] = {}
        series = [(self.baseline_name, self._monthly(self.policies[0], "baseline"))]
        series += [(p, self._monthly(p, "reform")) for p in self.policies]
        tail = (1 - COVERAGE) / 2
        for name, monthly in series:
            per_rep = monthly.groupby(["replication", "month"])["active"].sum().unstack("replication")
            bands[name] = pd.DataFrame(
                {
                    "mean": per_rep.mean(axis=1),
                    "low": per_rep.quantile(tail, axis=1),
                    "high": per_rep.quantile(1 - tail, axis=1),
                }
            )
        highlight = {self.baseline_name} | ({self.recommendation.chosen} - {None})
        labels = {
            "title": self.t("chart_active_title"),
            "x": self.t("chart_month"),
            "y": self.t("chart_active_y"),
        }
        png = book.over_time(bands, highlight, labels)
        data = pd.concat(bands, names=["policy", "month"]).reset_index()
        return Chart("active", png, data, self.t("caption_active"), self.t("alt_active", count=len(bands)))

    def _chart_causes(self, book: ChartBook) -> Chart:
        def table(causes: Sequence[str]) -> pd.DataFrame:
            first = self.policies[0]
            rows = {self.baseline_name: [self._row(first, c)["baseline_mean"] for c in causes]}
            rows.update({p: [self._row(p, c)["reform_mean"] for c in causes] for p in self.policies})
            return pd.DataFrame.from_dict(
                rows, orient="index", columns=[self.t(f"cause_{c}") for c in causes]
            )

        churn, complaints = table(CHURN_CAUSES), table(COMPLAINT_CAUSES)
        labels = {
            "churn_title": self.t("chart_causes_churn"),
            "complaints_title": self.t("chart_causes_complaints"),
            "churn_unit": self.t("chart_causes_churn_unit"),
            "complaints_unit": self.t("chart_causes_complaints_unit"),
        }
        png = book.causes(churn, complaints, labels)
        data = pd.concat({"churn": churn, "complaints": complaints}, axis=1)
        data.index.name = "policy"
        return Chart("causes", png, data.reset_index(), self.t("caption_causes"), self.t("alt_causes"))

    def _chart_segments(self, book: ChartBook) -> Chart:
        tail = (1 - COVERAGE) / 2
        rows = []
        base = (
            self._monthly(self.policies[0], "baseline")
            .groupby(["replication", "segment"])["net_revenue"]
            .sum()
        )
        for policy in self.policies:
            reform = self._monthly(policy, "reform").groupby(["replication", "segment"])["net_revenue"].sum()
            difference = (reform - base).unstack("segment")
            for segment in difference.columns:
                values = difference[segment].to_numpy(dtype=float)
                rows.append(
                    (policy, segment, values.mean(), np.quantile(values, tail), np.quantile(values, 1 - tail))
                )
        table = pd.DataFrame(rows, columns=["policy", "segment", "mean", "low", "high"])
        labels = {
            "title": self.t("chart_segments_title"),
            "x": self.t("chart_segments_x", currency=self.currency),
            "legend": self.t("chart_segments_legend"),
        }
        png = book.segments(table, labels)
        return Chart("segments", png, table, self.t("caption_segments"), self.t("alt_segments"))

    def _chart_winners_losers(self, book: ChartBook) -> Chart:
        rows = {}
        for policy in self.policies:
            row = {}
            for kind in ("winners", "losers"):
                values = self._row(policy, f"{kind}_share")
                row.update(
                    {
                        f"{kind}_mean": values["reform_mean"],
                        f"{kind}_low": values["reform_low"],
                        f"{kind}_high": values["reform_high"],
                    }
                )
            rows[policy] = row
        table = pd.DataFrame.from_dict(rows, orient="index")
        table.index.name = "policy"
        labels = {
            "title": self.t("chart_winners_title"),
            "x": self.t("chart_winners_x"),
            "winners": self.t("chart_winners_legend"),
            "losers": self.t("chart_losers_legend"),
        }
        png = book.winners_losers(table, labels)
        return Chart(
            "winners_losers", png, table.reset_index(), self.t("caption_winners"), self.t("alt_winners")
        )

    def save_chart_data(self, folder: str | Path | None) -> Path | None:
        """Each chart's PNG and the CSV of the data it was drawn from, into ``folder``."""
        if not folder:
            return None
        folder = Path(folder)
        for name, chart in self.charts().items():
            write_atomic(folder / f"{name}.csv", lambda p, chart=chart: chart.data.to_csv(p, index=False))
            write_atomic(folder / f"{name}.png", lambda p, chart=chart: Path(p).write_bytes(chart.png))
        return folder


def _shown(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _scenario(path: Path) -> Scenario:
    data = json.loads(path.read_text())
    return from_dict(data, name=data.get("name", path.parent.name))


def _value_at(scenario: Scenario, path: str) -> Any:
    value: Any = scenario.model
    for part in path.split("."):
        value = getattr(value, part)
    return value


# --- the page ----------------------------------------------------------------------------------------


def render_page(fragments: Sequence[str], language: str, title: str) -> str:
    """The self-contained page: the fragments in order, the stylesheet inline, nothing external."""
    from jinja2 import Environment, PackageLoader, select_autoescape

    environment = Environment(
        loader=PackageLoader("simlib.report", "templates"), autoescape=select_autoescape(["html"])
    )
    template = environment.get_template("briefing.html")
    lang = {"en": "en", "zh": "zh-CN"}[language]
    return template.render(lang=lang, title=title, fragments=list(fragments))


def notebook_fragments(notebook: Path) -> list[str]:
    """The HTML outputs of an executed briefing notebook, in order (code and other outputs left out)."""
    import nbformat

    executed = nbformat.read(notebook, as_version=4)
    fragments = []
    for cell in executed.cells:
        if cell.cell_type != "code":
            continue
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                raise InputError(f"{notebook}: the notebook ended with {output['ename']}: {output['evalue']}")
            text = output.get("data", {}).get("text/html")
            if text:
                fragments.append(text if isinstance(text, str) else "".join(text))
    return fragments


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
    notebook: str | Path | None = None,
) -> BriefingFiles:
    """Execute the briefing notebook over a batch with papermill; write ``briefing.html`` (one
    self-contained page, no code), ``briefing.pdf`` and ``briefing_files/`` (each chart's PNG and
    CSV, the executed notebook) into the batch folder; ``briefing.zh.*`` for Chinese.

    Existing briefing files are never overwritten: ``force`` moves them under ``previous/`` first.
    Everything is prepared in a staging folder and moved into place at the end.
    """
    from simlib.jupyter.execution import SUCCEEDED, ExecutionSpec, execute
    from simlib.report.pdf import print_to_pdf

    folder = Path(batch_dir).resolve()  # the notebook runs in notebooks/: relative paths would break
    if not (folder / MANIFEST).exists():
        raise InputError(f"{folder} is not a batch folder (no {MANIFEST}); run `simlib batch` first")
    constraints = constraints or Constraints()
    Briefing(
        folder, language=language, title=title, constraints=constraints, objective=objective
    )  # checks inputs
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
    data = staging / "files"
    data.mkdir(parents=True)
    try:
        parameters = {
            "batch_dir": str(folder.resolve()),
            "title": title or "",
            "language": language,
            "max_complaints_per_1000": constraints.max_complaints_per_1000,
            "max_monthly_churn": constraints.max_monthly_churn,
            "allow_compliance_breaches": constraints.allow_compliance_breaches,
            "objective": objective,
            "output_dir": str(data),
        }
        source = Path(notebook or shipped_notebook("briefing.ipynb")).resolve()
        outcome = execute(
            ExecutionSpec(
                notebook=str(source),
                output_notebook=str(data / "briefing.ipynb"),
                parameters=parameters,
                cwd=str(source.parent),
                stdout_log=str(staging / "stdout.log"),
                stderr_log=str(staging / "stderr.log"),
                kernel_pid_file=str(staging / "kernel.pid"),
                outcome_file=str(staging / "outcome.json"),
            )
        )
        if outcome.status != SUCCEEDED:
            where = f" at cell {outcome.cell}" if outcome.cell else ""
            log = folder / f"{stem}-failed.log"
            shutil.copyfile(staging / "stderr.log", log)
            raise InputError(f"the briefing notebook {outcome.status}{where}: {outcome.error} (log: {log})")
        page = render_page(
            notebook_fragments(data / "briefing.ipynb"),
            language,
            title or Messages(language)("title_default"),
        )
        (staging / "briefing.html").write_text(page, encoding="utf-8")
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
        os.rename(data, targets["data"])
        if (staging / "briefing.pdf").exists():
            os.rename(staging / "briefing.pdf", targets["pdf"])
        os.rename(staging / "briefing.html", targets["html"])  # last: the page marks a complete briefing
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return BriefingFiles(
        targets["html"], targets["pdf"] if targets["pdf"].exists() else None, targets["data"], note
    )


__all__ = ["Briefing", "BriefingFiles", "Section", "write_briefing"]
