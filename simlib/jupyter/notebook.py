"""What the parameterized notebooks share: checking papermill parameters, charts, result files.

A notebook's ``parameters`` cell holds JSON-simple values only (paths, a mapping of overrides,
integers). :func:`check_parameters` turns them into a :class:`NotebookRun` — or stops with the same
one-line problems as `simlib validate` — before anything runs or is written.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from simlib import __version__
from simlib.errors import InputError, Problem, ScenarioError
from simlib.files import check_output_folder, write_atomic
from simlib.run.intervals import COVERAGE, interval
from simlib.run.metrics import CHURN_CAUSES, COMPLAINT_CAUSES
from simlib.run.results import Comparison, SimulationResult
from simlib.run.runner import RunSettings, compare, simulate
from simlib.scenario.describe import diff
from simlib.scenario.scenario import Scenario, load

RESULT_FILE = "result.json"


@dataclass(frozen=True)
class NotebookRun:
    """A checked set of notebook parameters, ready to simulate."""

    scenario: Scenario
    baseline: Scenario | None
    overrides: Mapping[str, Any]
    replications: int
    customers: int
    months: int
    seed: int
    output_dir: Path | None

    @property
    def paired(self) -> bool:
        return self.baseline is not None

    def describe(self) -> pd.DataFrame:
        """What is being run: the parameters that differ from the baseline, with units."""
        if self.baseline is None:
            return pd.DataFrame(
                [
                    (p.path, p.value, p.unit, p.origin)
                    for p in self.scenario.parameters()
                    if p.origin != "default"
                ],
                columns=["parameter", "value", "unit", "origin"],
            )
        rows = [
            (p.path, p.value, q.value if q else None, p.unit) for p, q in diff(self.baseline, self.scenario)
        ]
        return pd.DataFrame(rows, columns=["parameter", "baseline", "scenario", "unit"])

    def simulate(self) -> SimulationResult | Comparison:
        """The paired comparison with the baseline, or the scenario alone."""
        size = {
            "customers": self.customers,
            "months": self.months,
            "replications": self.replications,
            "seed": self.seed,
            "progress": False,
        }
        if self.baseline is None:
            return simulate(self.scenario, **size)
        return compare(self.baseline, self.scenario, **size)


def _whole_number(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value) or value < 1:
        raise InputError(f"parameter {name}: must be a whole number of at least 1 (got {value!r})")
    return int(value)


def check_parameters(
    *,
    scenario: str,
    baseline: str | None,
    overrides: Mapping[str, Any] | None,
    replications: int,
    customers: int,
    months: int,
    seed: int,
    output_dir: str | None,
) -> NotebookRun:
    """Validate notebook parameters; raise :class:`ScenarioError` / :class:`InputError` on problems.

    ``overrides`` apply to ``scenario`` (key paths as with ``--set``). An empty ``output_dir`` means
    nothing is written; a non-empty one must not already hold files (results are never replaced).
    """
    if not isinstance(scenario, str) or not scenario:
        raise InputError(f"parameter scenario: must be the path of a scenario file (got {scenario!r})")
    if overrides is not None and not isinstance(overrides, Mapping):
        raise InputError(f"parameter overrides: must be a mapping of key paths to values (got {overrides!r})")
    sizes = {
        "replications": _whole_number("replications", replications),
        "customers": _whole_number("customers", customers),
        "months": _whole_number("months", months),
    }
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InputError(f"parameter seed: must be a whole number ≥ 0 (got {seed!r})")
    problems: list[Problem] = []
    loaded: dict[str, Scenario | None] = {"baseline": None}
    for role, path, changes in (("scenario", scenario, overrides), ("baseline", baseline, None)):
        if not path:
            continue
        try:
            loaded[role] = load(path, changes or None)
        except ScenarioError as exc:
            problems += exc.problems
    if problems:
        raise ScenarioError(problems)
    run = NotebookRun(
        scenario=loaded["scenario"],
        baseline=loaded["baseline"],
        overrides=dict(overrides or {}),
        seed=seed,
        output_dir=Path(output_dir) if output_dir else None,
        **sizes,
    )
    for checked in (run.baseline, run.scenario):
        if checked is not None:
            RunSettings.resolve(checked, run.customers, run.months, run.replications, run.seed)
    if run.output_dir is not None:
        check_output_folder(run.output_dir)
    return run


SCREEN_DPI = 72
"""Resolution of the charts a notebook shows (pixels per inch): a screen's, not a print's."""

TICKS = 5
"""At most this many labelled ticks per axis: laying out tick labels is most of a chart's drawing."""


def warm_up() -> None:
    """Import what a notebook run needs and load the chart fonts, before any run is handed over.

    A batch worker started ahead of its run (``simlib.jupyter.execution.serve``) has its fresh kernel call
    this while the previous run executes, so a run does not wait for imports. It leaves nothing in
    the kernel but loaded modules.
    """
    import io

    import scipy.stats  # noqa: F401  (the checks of distribution parameters use it)

    from simlib.model.engine import compile_engine
    from simlib.style import numbers  # noqa: F401

    # The compiled engine's machine code is loaded (or compiled) on its first call in a process.
    compile_engine()
    figure = screen_figure(figsize=(1, 1))
    figure.text(0.5, 0.5, "0")
    figure.savefig(io.BytesIO(), format="png", dpi=10)


@functools.cache
def _figure_class() -> type:
    from matplotlib.figure import Figure

    class ScreenFigure(Figure):
        """A figure a notebook shows as one PNG at :data:`SCREEN_DPI`, drawn once.

        Not registered with pyplot, so no backend draws it again at the end of the cell; a plain
        :class:`matplotlib.figure.Figure` otherwise (``savefig`` at any resolution).
        """

        def __init__(self, *args: Any, **kwargs: Any):
            from matplotlib.backends.backend_agg import FigureCanvasAgg

            super().__init__(*args, **kwargs)
            FigureCanvasAgg(self)

        def _repr_png_(self) -> bytes:
            import io

            buffer = io.BytesIO()
            self.savefig(buffer, format="png", dpi=SCREEN_DPI)
            return buffer.getvalue()

    return ScreenFigure


def screen_figure(**kwargs: Any):
    """A new :class:`ScreenFigure` (``Figure`` keyword arguments: ``figsize`` in inches, ...)."""
    return _figure_class()(**kwargs)


def __getattr__(name: str) -> Any:
    # matplotlib is imported when the first chart is drawn, not with this module.
    if name == "ScreenFigure":
        return _figure_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _runs(run: SimulationResult | Comparison) -> list[SimulationResult]:
    return [run.baseline, run.reform] if isinstance(run, Comparison) else [run]


def monthly_band(result: SimulationResult, metric: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A metric's monthly mean and 90% band across replications: (mean, low, high), one value
    per month, in the metric's unit (months where it is undefined in every replication are NaN)."""
    import warnings

    frame = result.by_month()
    months = int(frame["month"].max()) + 1
    values = frame[metric].to_numpy(dtype=float).reshape(-1, months)  # (replication, month)
    tail = (1.0 - COVERAGE) / 2.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a month undefined everywhere stays NaN
        low, high = np.nanquantile(values, [tail, 1.0 - tail], axis=0)
        return np.nanmean(values, axis=0), low, high


def plot_over_time(run: SimulationResult | Comparison, metrics: Sequence[str]):
    """One panel per metric: the monthly mean of each run with its 90% band across replications.

    Returns a :class:`ScreenFigure` (a matplotlib figure a notebook shows once, at screen
    resolution).
    """
    columns = 2
    rows = math.ceil(len(metrics) / columns)
    height = 3.2 * rows
    figure = screen_figure(figsize=(11, height))
    axes = figure.subplots(rows, columns, squeeze=False)
    # Fixed margins (inches) rather than a layout engine, which would draw the figure twice.
    figure.subplots_adjust(
        left=0.8 / 11, right=1 - 0.2 / 11, bottom=0.55 / height, top=1 - 0.6 / height, wspace=0.22,
        hspace=0.38,
    )  # fmt: skip
    for ax, metric in zip(axes.flat, metrics, strict=False):
        for result in _runs(run):
            mean, low, high = monthly_band(result, metric)
            months = np.arange(len(mean))
            ax.fill_between(months, low, high, alpha=0.2)
            ax.plot(months, mean, label=result.scenario.name)
        ax.set_title(metric.replace("_", " "))
        ax.set_xlabel("month")
        _few_ticks(ax)
    for ax in list(axes.flat)[len(metrics) :]:
        ax.set_visible(False)
    # One legend for every panel (the runs are the same in each): one to lay out, not one a panel.
    figure.legend(*axes.flat[0].get_legend_handles_labels(), loc="upper center", ncol=2, fontsize=8)
    return figure


def _few_ticks(ax: Any, axis: str = "both") -> None:
    from matplotlib.ticker import MaxNLocator

    if axis in ("both", "x"):
        ax.xaxis.set_major_locator(MaxNLocator(TICKS, integer=True))
    if axis in ("both", "y"):
        ax.yaxis.set_major_locator(MaxNLocator(TICKS))


def plot_causes(run: SimulationResult | Comparison):
    """Churn and complaints by cause over the horizon (mean across replications), per run.

    Returns a :class:`ScreenFigure`.
    """
    results = _runs(run)
    names = [r.scenario.name for r in results]
    figure = screen_figure(figsize=(11, 3.5))
    axes = figure.subplots(1, 2)
    # Room for the longest name at 10 pt (about 0.085 in a character), fixed rather than found by a
    # layout engine (which would draw the figure twice); the right panel shares the left's names.
    left = min(0.45, (0.25 + 0.085 * max(len(n) for n in names)) / 11)
    figure.subplots_adjust(left=left, right=0.98, bottom=0.12, top=0.9, wspace=0.05)
    axes[1].tick_params(labelleft=False)
    for ax, causes, title in (
        (axes[0], CHURN_CAUSES, "customers lost, by cause"),
        (axes[1], COMPLAINT_CAUSES, "complaints, by cause"),
    ):
        means = np.array([r.totals()[list(causes)].mean().to_numpy() for r in results])
        left = np.zeros(len(results))
        for index, cause in enumerate(causes):
            label = cause.split("_", 1)[1].replace("_", " ")
            ax.barh(names, means[:, index], left=left, label=label)
            left = left + means[:, index]
        ax.set_title(title)
        ax.legend(fontsize=8)
        _few_ticks(ax, "x")
    return figure


SEGMENT_METRICS = ("net_revenue", "monthly_churn_rate", "complaints_per_1000", "active_end")


def segment_table(run: SimulationResult | Comparison) -> pd.DataFrame:
    """Per segment: headline metrics (mean and 90% interval); for a comparison, the paired
    differences (reform − baseline)."""
    rows = []
    for segment in _runs(run)[0].segments:
        if isinstance(run, Comparison):
            frame = run.reform.totals(segment) - run.baseline.totals(segment)
        else:
            frame = run.totals(segment)
        for metric in SEGMENT_METRICS:
            values = frame[metric].to_numpy(dtype=float)
            low, high = interval(values)
            rows.append((segment, metric, values.mean(), low, high))
    kind = "difference" if isinstance(run, Comparison) else "value"
    return pd.DataFrame(rows, columns=["segment", "metric", f"{kind}_mean", "low", "high"]).set_index(
        ["segment", "metric"]
    )


def _plain(value: Any) -> Any:
    """JSON-safe: NaN becomes null, numpy scalars become numbers."""
    if isinstance(value, float | np.floating):
        return None if math.isnan(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


def write_run(run: SimulationResult | Comparison, settings: NotebookRun) -> Path | None:
    """Write the run's tables and, last, ``result.json`` (summary and provenance): a folder with a
    valid ``result.json`` holds a complete result. Returns the folder, or None if none was given."""
    folder = settings.output_dir
    if folder is None:
        print("no output_dir given: nothing written")
        return None
    run.save(folder)
    summary = run.summary()
    result = {
        "scenario": settings.scenario.name,
        "scenario_path": str(settings.scenario.path),
        "scenario_fingerprint": settings.scenario.fingerprint(),
        "baseline": settings.baseline.name if settings.baseline else None,
        "baseline_path": str(settings.baseline.path) if settings.baseline else None,
        "baseline_fingerprint": settings.baseline.fingerprint() if settings.baseline else None,
        "parameters": {
            "overrides": dict(settings.overrides),
            "replications": settings.replications,
            "customers": settings.customers,
            "months": settings.months,
            "seed": settings.seed,
        },
        "simlib_version": __version__,
        "changes": [
            {column: _plain(value) for column, value in row.items()}
            for row in settings.describe().to_dict(orient="records")
        ],
        "provenance": [r.provenance() for r in _runs(run)],
        "summary": {
            metric: {column: _plain(value) for column, value in row.items()}
            for metric, row in summary.to_dict(orient="index").items()
        },
    }
    write_atomic(folder / RESULT_FILE, lambda p: Path(p).write_text(json.dumps(result, indent=2)))
    return folder


@dataclass(frozen=True)
class Lever:
    """A policy lever a slider or a switch moves: a key path, its label, and its range."""

    path: str
    label: str
    low: float = 0.0
    high: float = 1.0
    step: float = 1.0


DEFAULT_LEVERS = (
    Lever("fees.monthly_fee", "subscription (€/month)", 15, 40, 0.5),
    Lever("fees.penalty_fee", "penalty fee (€)", 0, 25, 1),
    Lever("transparency.pre_deduction_notice_days", "pre-deduction notice (days)", 0, 14, 1),
    Lever("audits.every_months", "audit every (months, 0 = never)", 0, 12, 1),
    Lever("complaint_handling.capacity_per_1000_customers", "complaint capacity (/1,000/month)", 2, 20, 1),
    Lever("transparency.itemised_bills", "itemised bills"),
)


EXPLORER_METRICS = ("active", "net_revenue", "churn_rate", "complaints_per_1000")


class _LiveChart:
    """The explorer's chart: one figure built once, whose reform lines and bands are updated in
    place on every redraw (the baseline's are drawn once: it does not change) and rendered to one
    PNG at screen resolution."""

    def __init__(self, metrics: Sequence[str]):
        self.metrics = tuple(metrics)
        rows = math.ceil(len(self.metrics) / 2)
        height = 3.0 * rows
        self.figure = screen_figure(figsize=(11, height))
        self.axes = list(self.figure.subplots(rows, 2, squeeze=False).flat)
        self.figure.subplots_adjust(
            left=0.8 / 11, right=1 - 0.2 / 11, bottom=0.55 / height, top=1 - 0.6 / height, wspace=0.22,
            hspace=0.38,
        )  # fmt: skip
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
            color = "tab:blue" if role == "baseline" else "tab:orange"
            band = ax.fill_between(months, low, high, alpha=0.2, color=color)
            if (metric, role) in self.artists:
                line = self.artists[metric, role][0]
                line.set_data(months, mean)
            else:
                label = result.scenario.name if role == "baseline" else "with the levers as set"
                (line,) = ax.plot(months, mean, color=color, label=label)
            self.artists[metric, role] = (line, band)
        values = np.concatenate([mean, low, high])
        values = values[np.isfinite(values)]
        self.limits[metric, role] = (values.min(), values.max()) if len(values) else (0.0, 1.0)

    def update(self, comparison: Comparison) -> bytes:
        """Redraw for ``comparison`` and return the chart as PNG bytes."""
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
                ax.set_title(metric.replace("_", " "))
                ax.set_xlabel("month")
                _few_ticks(ax)
        if fresh_baseline:
            if self.legend is not None:
                self.legend.remove()
            self.legend = self.figure.legend(
                *self.axes[0].get_legend_handles_labels(), loc="upper center", ncol=2, fontsize=8
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
        levers: Sequence[Lever] = DEFAULT_LEVERS,
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
        """The headline paired differences with their 90% intervals."""
        rows = [
            "net_revenue",
            "monthly_churn_rate",
            "complaints_per_1000",
            "refunds",
            "overcharges_owed",
            "winners_share",
            "losers_share",
        ]
        columns = [
            "baseline_mean",
            "reform_mean",
            "difference_mean",
            "difference_low",
            "difference_high",
            "unit",
        ]
        return comparison.summary().loc[rows, columns]

    def widgets(self):
        """Sliders and switches for the levers, wired to re-run and redraw: the key numbers (a
        table) and the chart (one image, its figure updated in place) are replaced, not rebuilt."""
        import ipywidgets

        controls = {}
        for lever in self.levers:
            current = _value_at(self.baseline, lever.path)
            if isinstance(current, bool):
                controls[lever.path] = ipywidgets.Checkbox(value=current, description=lever.label)
            else:
                controls[lever.path] = ipywidgets.FloatSlider(
                    value=float(current),
                    min=lever.low,
                    max=lever.high,
                    step=lever.step,
                    description=lever.label,
                    continuous_update=False,
                    style={"description_width": "16em"},
                    layout={"width": "40em"},
                )
        numbers = ipywidgets.HTML()
        image = ipywidgets.Image(format="png")
        chart = _LiveChart(EXPLORER_METRICS)

        def redraw(_change: Any = None) -> None:
            settings = {
                path: (
                    int(w.value)
                    if isinstance(_value_at(self.baseline, path), int) and not isinstance(w.value, bool)
                    else w.value
                )
                for path, w in controls.items()
            }
            comparison = self.last = self.run(settings)
            numbers.value = self.key_numbers(comparison).to_html(float_format=lambda v: f"{v:,.4g}")
            image.value = chart.update(comparison)

        for control in controls.values():
            control.observe(redraw, names="value")
        redraw()
        return ipywidgets.VBox([*controls.values(), ipywidgets.VBox([numbers, image])])


def _value_at(scenario: Scenario, path: str) -> Any:
    value: Any = scenario.model
    for part in path.split("."):
        value = getattr(value, part)
    return value
