"""The lever explorer behind ``notebooks/explore.ipynb``: sliders and switches that re-run a small
paired simulation and redraw the key numbers and charts in place.

One :class:`Slider` per lever (a key path, its label and range); :class:`Explorer` keeps the
baseline's draws and reuses them for every setting of the levers, so a redraw simulates only the
reform.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from simlib.jupyter.notebook import (
    MONTH_AXIS,
    chart_book,
    chart_labels,
    comparison_table,
    format_axis,
    monthly_band,
    monthly_figure,
    run_colours,
)
from simlib.keypaths import value_at
from simlib.run.results import Comparison, SimulationResult
from simlib.run.runner import RunSettings
from simlib.scenario.scenario import Scenario


@dataclass(frozen=True)
class Slider:
    """A policy lever a slider or a switch moves: a key path, its label, and its range.

    ``{currency}`` in the label is the baseline's currency.
    """

    path: str
    label: str
    low: float = 0.0
    high: float = 1.0
    step: float = 1.0


DEFAULT_LEVERS = (
    Slider("fees.monthly_fee", "Subscription ({currency} a month)", 15, 40, 0.5),
    Slider("fees.penalty_fee", "Penalty fee ({currency})", 0, 25, 1),
    Slider("transparency.pre_deduction_notice_days", "Notice before a deduction (days)", 0, 14, 1),
    Slider("audits.every_months", "Audit every (months; 0 = never)", 0, 12, 1),
    Slider(
        "complaint_handling.capacity_per_1000_customers", "Complaints handled (per 1,000 a month)", 2, 20, 1
    ),
    Slider("transparency.itemised_bills", "Itemised bills"),
)


EXPLORER_METRICS = ("active", "net_revenue", "churn_rate", "complaints_per_1000")
EXPLORER_POLICY = "with these levers"
#: The rows of the explorer's key numbers.
KEY_NUMBERS = (
    "net_revenue",
    "monthly_churn_rate",
    "complaints_per_1000",
    "refunds",
    "overcharges_owed",
    "winners_share",
    "losers_share",
)
"""The explorer's name for the baseline with the levers as set, in its legend and table."""


class _LiveChart:
    """The explorer's chart: one figure built once, whose policy lines and bands are updated in
    place on every redraw (the baseline's are drawn once: it does not change) and rendered to one
    PNG at screen resolution, in the briefing's chart style."""

    def __init__(self, metrics: Sequence[str], baseline: str, currency: str):
        self.metrics = tuple(metrics)
        self.names = {"baseline": baseline, "reform": EXPLORER_POLICY}
        if baseline == EXPLORER_POLICY:
            self.names["baseline"] = f"{baseline} (baseline)"
        self.colours = dict(zip(self.names, run_colours(2), strict=True))
        self.labels = {metric: chart_labels(metric, currency) for metric in self.metrics}
        texts = [MONTH_AXIS, *self.names.values(), *(t + a for t, a, _ in self.labels.values())]
        self.book = chart_book("en", *texts)
        self.figure, self.axes = monthly_figure(math.ceil(len(self.metrics) / 2), self.book)
        for ax in self.axes[len(self.metrics) :]:
            ax.set_visible(False)
        self.artists: dict[tuple[str, str], tuple[Any, Any]] = {}
        self.limits: dict[tuple[str, str], tuple[float, float]] = {}
        self.baseline: SimulationResult | None = None
        self.legend: Any = None

    def _draw(self, ax: Any, metric: str, role: str, result: SimulationResult) -> None:
        mean, low, high = monthly_band(result, metric)
        months = np.arange(len(mean))
        if (metric, role) in self.artists and hasattr(self.artists[metric, role][1], "set_data"):
            line, band = self.artists[metric, role]
            line.set_data(months, mean)
            band.set_data(months, low, high)
        else:
            if (metric, role) in self.artists:  # matplotlib < 3.10: a band cannot be moved
                self.artists[metric, role][1].remove()
            colour = self.colours[role]
            band = ax.fill_between(months, low, high, alpha=0.15, color=colour, linewidth=0)
            if (metric, role) in self.artists:
                line = self.artists[metric, role][0]
                line.set_data(months, mean)
            else:
                (line,) = ax.plot(months, mean, color=colour, linewidth=1.8, label=self.names[role])
            self.artists[metric, role] = (line, band)
        values = np.concatenate([mean, low, high])
        values = values[np.isfinite(values)]
        self.limits[metric, role] = (values.min(), values.max()) if len(values) else (0.0, 1.0)

    def legend_labels(self) -> list[str]:
        """The names in the chart's legend, baseline first."""
        return [text.get_text() for text in self.legend.get_texts()] if self.legend else []

    def update(self, comparison: Comparison) -> bytes:
        """Redraw for ``comparison`` and return the chart as PNG bytes."""
        with self.book.style():
            return self._update(comparison)

    def _update(self, comparison: Comparison) -> bytes:
        fresh_baseline = comparison.baseline is not self.baseline
        for ax, metric in zip(self.axes, self.metrics, strict=False):
            if fresh_baseline:
                self._draw(ax, metric, "baseline", comparison.baseline)
            self._draw(ax, metric, "reform", comparison.reform)
            low = min(self.limits[metric, role][0] for role in ("baseline", "reform"))
            high = max(self.limits[metric, role][1] for role in ("baseline", "reform"))
            pad = (high - low) * 0.05 or abs(high) * 0.05 or 1.0
            ax.set_ylim(low - pad, high + pad)
            ax.set_xlim(0, max(len(self.artists[metric, "reform"][0].get_xdata()) - 1, 1))
            if fresh_baseline:
                title, axis, unit = self.labels[metric]
                self.book.title(ax, title)
                ax.set_xlabel(MONTH_AXIS)
                ax.set_ylabel(axis)
                format_axis(ax, unit)
        if fresh_baseline:
            if self.legend is not None:
                self.legend.remove()
            self.legend = self.figure.legend(
                *self.axes[0].get_legend_handles_labels(), loc="upper center", ncol=2
            )
        self.baseline = comparison.baseline
        return self.figure._repr_png_()


class Explorer:
    """Re-runs a small paired comparison whenever a lever moves, and redraws its key numbers.

    The baseline is simulated once (:func:`simlib.run.shared.simulate_base`) and every lever setting is
    compared with that run, so a redraw simulates only the reform; the same seed and draws make
    neighbouring settings differ by the policy. The chart is one figure updated in place.
    """

    def __init__(
        self,
        baseline: Scenario,
        levers: Sequence[Slider] = DEFAULT_LEVERS,
        customers: int = 4096,
        months: int = 12,
        replications: int = 4,
    ):
        self.baseline = baseline
        self.levers = tuple(levers)
        self.size = {
            "customers": customers,
            "months": months,
            "replications": replications,
            "progress": False,
        }
        self.last: Comparison | None = None
        """The comparison the widgets drew last."""
        self._shared: Any = None
        self.chart: _LiveChart | None = None
        """The chart the widgets update (its ``legend_labels()`` name the two runs)."""

    def run(self, settings: Mapping[str, Any]) -> Comparison:
        """The comparison of the baseline with the lever settings applied (the numbers of
        :func:`simlib.compare`; the baseline's run is reused from the first call)."""
        from simlib.run.shared import compare_with_base, simulate_base

        if self._shared is None:
            sizes = {k: v for k, v in self.size.items() if k != "progress"}
            self._shared = simulate_base(self.baseline, RunSettings.resolve(self.baseline, **sizes))
        changes = {path: value for path, value in settings.items() if value is not None}
        return compare_with_base(self._shared, self.baseline.with_changes(changes, origin="explorer"))

    def key_numbers(self, comparison: Comparison) -> pd.DataFrame:
        """The headline paired differences with their 90% intervals, as numbers (the baseline's
        mean and difference of the shares of winners and losers are NaN: they exist only paired)."""
        columns = [
            "baseline_mean",
            "reform_mean",
            "difference_mean",
            "difference_low",
            "difference_high",
            "unit",
        ]
        return comparison.summary().loc[list(KEY_NUMBERS), columns]

    def key_numbers_table(self, comparison: Comparison) -> pd.DataFrame:
        """:meth:`key_numbers` as text to read (:func:`comparison_table`): the policy is called
        "with these levers", no scientific notation, "–" where a number does not exist."""
        return comparison_table(comparison, KEY_NUMBERS, EXPLORER_POLICY)

    def widgets(self):
        """Sliders and switches for the levers, wired to re-run and redraw: the key numbers (a
        table) and the chart (one image, its figure updated in place) are replaced, not rebuilt."""
        import ipywidgets

        controls = {}
        currency = self.baseline.simulation.currency
        for lever in self.levers:
            current = value_at(self.baseline, lever.path)
            label = lever.label.format(currency=currency)
            if isinstance(current, bool):
                controls[lever.path] = ipywidgets.Checkbox(
                    value=current, description=label, style={"description_width": "initial"}
                )
            else:
                controls[lever.path] = ipywidgets.FloatSlider(
                    value=float(current),
                    min=lever.low,
                    max=lever.high,
                    step=lever.step,
                    description=label,
                    continuous_update=False,
                    # As wide as the label, never cut off; the slider takes the rest of the row.
                    style={"description_width": "initial"},
                    layout={"width": "46em"},
                )
        numbers = ipywidgets.HTML()
        image = ipywidgets.Image(format="png")
        chart = self.chart = _LiveChart(EXPLORER_METRICS, self.baseline.name, currency)

        def redraw(_change: Any = None) -> None:
            settings = {
                path: (
                    int(w.value)
                    if isinstance(value_at(self.baseline, path), int) and not isinstance(w.value, bool)
                    else w.value
                )
                for path, w in controls.items()
            }
            comparison = self.last = self.run(settings)
            numbers.value = self.key_numbers_table(comparison).to_html()
            image.value = chart.update(comparison)

        for control in controls.values():
            control.observe(redraw, names="value")
        redraw()
        return ipywidgets.VBox([*controls.values(), ipywidgets.VBox([numbers, image])])
