"""The briefing's charts: one message per chart, stated in its title and computed from the numbers.

Each policy keeps one colour in every chart (the baseline grey, the recommended policy the accent
colour and a ★ before its name); axes carry units and thousands separators. The data behind every
chart is kept as a table next to it (``briefing_files/<chart>.csv``).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from simlib.analysis.frontier import frontier_table
from simlib.report.evidence import Evidence
from simlib.report.i18n import currency_name
from simlib.report.words import Words
from simlib.run.metrics import CHURN_CAUSES, COMPLAINT_CAUSES
from simlib.style.charts import BASELINE_COLOUR, HIGHLIGHT_COLOUR, Chart, ChartBook

#: Colours for policies other than the baseline and the recommended one (the accent is left out).
POLICY_COLOURS = (
    "#1f5fa8", "#2e933c", "#edae49", "#66a182", "#8d6a9f", "#00798c", "#b56576", "#3d5a80",
    "#a47148", "#6b9080", "#9c6644", "#5c677d", "#c08497", "#4a6fa5", "#7f5539", "#588157",
)  # fmt: skip
CHARTS = ("frontier", "winners_losers", "active", "causes", "segments")
STAR = "★ "


class Figures:
    """Draws every chart of a briefing once, with the words of one language."""

    def __init__(self, evidence: Evidence, words: Words, book: ChartBook):
        self.evidence = evidence
        self.words = words
        self.t = words.t
        self.n = words.n
        self.book = book
        self._charts: dict[str, Chart] = {}

    @property
    def colours(self) -> dict[str, str]:
        """One colour per policy (by name), the same in every chart."""
        ev = self.evidence
        out = {ev.baseline_name: BASELINE_COLOUR}
        others = iter(POLICY_COLOURS * (1 + len(ev.names) // len(POLICY_COLOURS)))
        for name in ev.names:
            out[name] = HIGHLIGHT_COLOUR if name == ev.recommendation.chosen else next(others)
        return out

    def name(self, policy: str) -> str:
        """A policy's name in a chart: its short label, starred when recommended."""
        star = STAR if policy == self.evidence.recommendation.chosen else ""
        return star + self.words.short(policy)

    def all(self) -> dict[str, Chart]:
        """Every chart, in reading order, drawn once."""
        if not self._charts:
            for chart in CHARTS:
                self._charts[chart] = getattr(self, f"_{chart}")()
        return self._charts

    def _named_colours(self) -> Mapping[str, str]:
        return {self.name(p): c for p, c in self.colours.items()}

    # --- the charts -------------------------------------------------------------------------------

    def _frontier(self) -> Chart:
        ev = self.evidence
        comparison = ev.batch.comparison
        comparison = comparison[comparison["scenario"].isin(ev.names)]
        origin = comparison[comparison["scenario"] == ev.names[0]].assign(
            scenario=ev.baseline_name, difference_mean=0.0, difference_low=0.0, difference_high=0.0
        )
        frame = frontier_table(pd.concat([origin, comparison]), "net_revenue", "complaints_per_1000")
        best = frame["revenue_mean"].idxmax()
        fewest = frame["complaints_mean"].idxmin()
        shown = frame.rename(index=self.name)
        labels = {
            "title": self.t(
                "chart_frontier_title", best=self.words.short(best), fewest=self.words.short(fewest)
            ),
            "x": self.t("chart_frontier_x"),
            "y": self.t(
                "chart_frontier_y", currency=currency_name(self.evidence.currency, self.words.language)
            ),
            "frontier": self.t("chart_frontier_legend"),
        }
        chosen = ev.recommendation.chosen
        png = self.book.frontier(
            shown,
            None if chosen is None else self.name(chosen),
            labels,
            colours=self._named_colours(),
            money=self.n.money,
        )
        on_front = self.words.join([self.words.short(p) for p in frame.index[frame["on_frontier"]]])
        return Chart(
            "frontier",
            png,
            frame.reset_index(),
            self.t("caption_frontier", policies=on_front),
            self.t("alt_frontier", count=len(frame)),
        )

    def _winners_losers(self) -> Chart:
        ev = self.evidence
        rows = {}
        for policy in ev.names:
            up, down = ev.payers(policy), ev.gainers(policy)
            rows[policy] = {
                "winners_mean": down.mean,
                "winners_low": down.low,
                "winners_high": down.high,
                "losers_mean": up.mean,
                "losers_low": up.low,
                "losers_high": up.high,
            }
        table = pd.DataFrame.from_dict(rows, orient="index")
        table.index.name = "policy"
        most = table["losers_mean"].idxmax()
        title = (
            self.t(
                "chart_winners_title",
                policy=self.words.short(most),
                share=self.n.percent(table.loc[most, "losers_mean"], digits=0),
            )
            if table.loc[most, "losers_mean"] >= 0.005
            else self.t("chart_winners_title_nobody")
        )
        labels = {
            "title": title,
            "x": self.t("chart_winners_x"),
            "winners": self.t("chart_winners_legend"),
            "losers": self.t("chart_losers_legend"),
        }
        png = self.book.winners_losers(table.rename(index=self.name), labels)
        return Chart(
            "winners_losers", png, table.reset_index(), self.t("caption_winners"), self.t("alt_winners")
        )

    def _active(self) -> Chart:
        ev = self.evidence
        bands: dict[str, pd.DataFrame] = {}
        ends: dict[str, float] = {}
        tail = (1 - ev.coverage) / 2
        for policy in [ev.baseline_name, *ev.names]:
            monthly = ev.monthly(policy)
            per_rep = monthly.groupby(["replication", "month"])["active"].sum().unstack("replication")
            bands[policy] = pd.DataFrame(
                {
                    "mean": per_rep.mean(axis=1),
                    "low": per_rep.quantile(tail, axis=1),
                    "high": per_rep.quantile(1 - tail, axis=1),
                }
            )
            ends[policy] = float(per_rep.iloc[-1].mean())
        fewest = min(ev.names, key=lambda p: ends[p])
        title = self.t(
            "chart_active_title",
            policy=self.words.short(fewest),
            change=self.n.count(ends[fewest] - ends[ev.baseline_name], signed=True),
        )
        highlight = {self.name(ev.baseline_name)} | (
            {self.name(ev.recommendation.chosen)} if ev.recommendation.chosen else set()
        )
        labels = {"title": title, "x": self.t("chart_month"), "y": self.t("chart_active_y")}
        png = self.book.over_time(
            {self.name(p): band for p, band in bands.items()},
            highlight,
            labels,
            colours=self._named_colours(),
            values=self.n.count,
        )
        data = pd.concat(bands, names=["policy", "month"]).reset_index()
        return Chart("active", png, data, self.t("caption_active"), self.t("alt_active", count=len(bands)))

    def _causes(self) -> Chart:
        ev = self.evidence
        policies = [ev.baseline_name, *ev.names]

        def table(causes: tuple[str, ...]) -> pd.DataFrame:
            rows = {self.name(p): [ev.policies[p].level[c].mean for c in causes] for p in policies}
            return pd.DataFrame.from_dict(
                rows, orient="index", columns=[self.t(f"cause_{c}") for c in causes]
            )

        churn, complaints = table(CHURN_CAUSES), table(COMPLAINT_CAUSES)
        base = ev.policies[ev.baseline_name].level
        top_churn = max(CHURN_CAUSES, key=lambda c: base[c].mean)
        top_complaint = max(COMPLAINT_CAUSES, key=lambda c: base[c].mean)
        labels = {
            "title": self.t(
                "chart_causes_title",
                churn=self.t(f"cause_{top_churn}"),
                complaints=self.t(f"cause_{top_complaint}"),
            ),
            "churn_title": self.t("chart_causes_churn"),
            "complaints_title": self.t("chart_causes_complaints"),
            "churn_unit": self.t("chart_causes_churn_unit"),
            "complaints_unit": self.t("chart_causes_complaints_unit"),
        }
        png = self.book.causes(churn, complaints, labels, values=self.n.count)
        data = pd.concat({"churn": churn, "complaints": complaints}, axis=1)
        data.index = policies
        data.index.name = "policy"
        return Chart("causes", png, data.reset_index(), self.t("caption_causes"), self.t("alt_causes"))

    def _segments(self) -> Chart:
        ev = self.evidence
        tail = (1 - ev.coverage) / 2
        rows = []
        base = ev.monthly(ev.baseline_name).groupby(["replication", "segment"])["net_revenue"].sum()
        for policy in ev.names:
            reform = ev.monthly(policy).groupby(["replication", "segment"])["net_revenue"].sum()
            difference = (reform - base).unstack("segment")
            for segment in difference.columns:
                values = difference[segment].to_numpy(dtype=float)
                rows.append(
                    (policy, segment, values.mean(), np.quantile(values, tail), np.quantile(values, 1 - tail))
                )
        table = pd.DataFrame(rows, columns=["policy", "segment", "mean", "low", "high"])
        focus = ev.recommendation.chosen if ev.recommendation.chosen in ev.names else ev.ordered()[0]
        part = table[table["policy"] == focus].set_index("segment")["mean"]
        top = part.abs().idxmax()
        title = self.t(
            "chart_segments_title",
            segment=self.words.segment(top),
            policy=self.words.short(focus),
            change=self.n.money(part[top], signed=True),
        )
        labels = {
            "title": title,
            "x": self.t(
                "chart_segments_x", currency=currency_name(self.evidence.currency, self.words.language)
            ),
            "legend": self.t("chart_segments_legend"),
        }
        shown = table.assign(
            policy=table["policy"].map(self.name), segment=table["segment"].map(self.words.segment)
        )
        png = self.book.segments(shown, labels, money=self.n.money)
        return Chart("segments", png, table, self.t("caption_segments"), self.t("alt_segments"))


__all__ = ["CHARTS", "POLICY_COLOURS", "Figures"]
