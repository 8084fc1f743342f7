"""What the parameterized notebooks share: checking papermill parameters, charts, result files.

A notebook's ``parameters`` cell holds JSON-simple values only (paths, a mapping of overrides,
integers). :func:`check_parameters` turns them into a :class:`NotebookRun` — or stops with the same
one-line problems as `simlib validate` — before anything runs or is written.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from simlib import __version__
from simlib.errors import InputError, Problem, ScenarioError
from simlib.files import check_output_folder, write_atomic
from simlib.run.intervals import COVERAGE, interval
from simlib.run.metrics import CHURN_CAUSES, COMPLAINT_CAUSES, monthly_units
from simlib.run.results import SUMMARY_METRICS, Comparison, SimulationResult
from simlib.run.runner import RunSettings, compare, simulate
from simlib.scenario.describe import diff
from simlib.scenario.scenario import Scenario, load
from simlib.style.charts import BASELINE_COLOUR, HIGHLIGHT_COLOUR, PALETTE, ChartBook, fonts_for
from simlib.style.numbers import Numbers, kind_of

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


MISSING = "–"
"""What a table shows for a number that is missing or undefined (never "NaN")."""


def format_value(
    value: float | None,
    unit: str = "",
    *,
    low: float | None = None,
    high: float | None = None,
    difference: bool = False,
    language: str = "en",
) -> str:
    """A number as the notebooks show it: the briefing's style (:class:`simlib.style.numbers.Numbers`).

    Every number a notebook's tables and chart axes show passes through here, so notebooks, the
    command line and the briefing write numbers one way: "+€140k (€126k to €149k)", "+0.17 pp".

    Parameters
    ----------
    value : the number, in ``unit``; a share as a fraction (0.02 is 2%).
    unit : the metric's unit (a currency code is money; ``share…`` is a share, its differences in
        percentage points "pp"; see :func:`simlib.style.numbers.kind_of`).
    low, high : the ends of its 90% interval, shown after it when both are given.
    difference : a paired difference (policy − baseline): the value is signed, shares are in pp.
    language : "en" or "zh".

    Returns
    -------
    str
        Never scientific notation; a missing or undefined number (None, NaN, ±inf) is "–".
    """
    kind = kind_of(unit, difference=difference)
    head = (unit or "").split("/", 1)[0].strip()
    currency = head if kind == "money" and head != "{cur}" else "EUR"
    finite = [v for v in (value, low, high) if v is not None and math.isfinite(float(v))]
    if value is None or not math.isfinite(float(value)):
        return MISSING
    numbers = Numbers(language, currency)
    if len(finite) < 3:
        low = high = None
    return numbers.estimate(float(value), low, high, kind, signed=difference)


def _runs(run: SimulationResult | Comparison) -> list[SimulationResult]:
    return [run.baseline, run.reform] if isinstance(run, Comparison) else [run]


def run_labels(run: SimulationResult | Comparison, policy: str | None = None) -> list[str]:
    """What legends and tables call each run: the scenario names (the policy's ``policy`` if
    given), told apart when the policy is the baseline changed and so has the baseline's name."""
    names = [result.scenario.name for result in _runs(run)]
    if len(names) == 2:
        names[1] = policy or names[1]
        if names[1] == names[0]:
            names[1] = f"{names[1]} (changed)"
    return names


def run_colours(count: int) -> list[str]:
    """The baseline in the briefing's baseline grey, the policy in its highlight colour."""
    return [BASELINE_COLOUR, HIGHLIGHT_COLOUR] if count == 2 else [PALETTE[0]]


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


#: Title and vertical-axis label of the monthly charts; ``{currency}`` is the scenario's currency.
MONTHLY_CHARTS: dict[str, tuple[str, str]] = {
    "active": ("Active customers", "customers"),
    "net_revenue": ("Net revenue per month ({currency})", "{currency} a month"),
    "churn_rate": ("Monthly churn rate", "% of active customers a month"),
    "complaints_per_1000": ("Complaints per 1,000 customers a month", "per 1,000 active customers"),
}
MONTH_AXIS = "Month"


def chart_labels(metric: str, currency: str) -> tuple[str, str, str]:
    """A monthly metric's chart title, vertical-axis label and unit (for its tick labels)."""
    unit = monthly_units([metric], currency)[metric]
    title, axis = MONTHLY_CHARTS.get(metric, (metric.replace("_", " ").capitalize(), unit))
    return title.format(currency=currency), axis.format(currency=currency), unit


def chart_book(language: str, *texts: str) -> ChartBook:
    """The briefing's chart style with fonts that draw every one of ``texts``."""
    return ChartBook(fonts_for(language, "".join(texts)))


def format_axis(ax: Any, unit: str) -> None:
    """At most :data:`TICKS` labelled ticks a axis; vertical ticks as :func:`format_value` shows
    numbers (thousands separators, % for shares)."""
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(TICKS, integer=True))
    ax.yaxis.set_major_locator(MaxNLocator(TICKS))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: _tick(value, unit)))


def _tick(value: float, unit: str) -> str:
    """A tick label: :func:`format_value`, without decimals for a whole number (not a share)."""
    if not unit.startswith("share") and math.isfinite(value) and value == round(value):
        return format_value(round(value), unit).removesuffix(".0").removesuffix(".00")
    return format_value(value, unit)


def monthly_figure(rows: int, book: ChartBook) -> tuple[Any, list[Any]]:
    height = 3.0 * rows + 0.4
    with book.style():
        figure = screen_figure(figsize=(11, height))
        axes = list(figure.subplots(rows, 2, squeeze=False).flat)
    # Fixed margins (inches) rather than a layout engine, which would draw the figure twice.
    figure.subplots_adjust(
        left=0.95 / 11, right=1 - 0.2 / 11, bottom=0.55 / height, top=1 - 0.75 / height, wspace=0.26,
        hspace=0.45,
    )  # fmt: skip
    return figure, axes


def plot_over_time(run: SimulationResult | Comparison, metrics: Sequence[str], policy: str | None = None):
    """One panel per metric: the monthly mean of each run with its 90% band across replications,
    in the briefing's chart style (the baseline grey, the policy in the highlight colour).

    Parameters
    ----------
    run : a comparison (baseline and policy) or one run.
    metrics : monthly metrics (columns of ``by_month()``), e.g. ``"active"``, ``"net_revenue"``.
    policy : the policy's name in the legend (default: its scenario's name).

    Returns
    -------
    ScreenFigure
        A matplotlib figure a notebook shows once, at screen resolution.
    """
    names = run_labels(run, policy)
    currency = _runs(run)[0].currency
    labels = [chart_labels(metric, currency) for metric in metrics]
    book = chart_book("en", MONTH_AXIS, *names, *(t + a for t, a, _ in labels))
    figure, axes = monthly_figure(math.ceil(len(metrics) / 2), book)
    with book.style():
        for ax, metric, (title, axis, unit) in zip(axes, metrics, labels, strict=False):
            for result, name, colour in zip(_runs(run), names, run_colours(len(names)), strict=True):
                mean, low, high = monthly_band(result, metric)
                months = np.arange(len(mean))
                ax.fill_between(months, low, high, alpha=0.15, color=colour, linewidth=0)
                ax.plot(months, mean, color=colour, linewidth=1.8, label=name)
            book.title(ax, title)
            ax.set_xlabel(MONTH_AXIS)
            ax.set_ylabel(axis)
            format_axis(ax, unit)
        for ax in axes[len(metrics) :]:
            ax.set_visible(False)
        # One legend for every panel (the runs are the same in each): one to lay out, not one a panel.
        figure.legend(*axes[0].get_legend_handles_labels(), loc="upper center", ncol=2)
    return figure


#: The message keys :func:`plot_causes` reads: the panels' titles and units (the causes' names are
#: ``cause_<cause>``).
CAUSE_CHART_KEYS = (
    "chart_causes_churn",
    "chart_causes_complaints",
    "chart_causes_churn_unit",
    "chart_causes_complaints_unit",
)


def plot_causes(run: SimulationResult | Comparison, words: Callable[[str], str], policy: str | None = None):
    """Churn and complaints by cause over the horizon (mean across replications), per run, in the
    briefing's chart style and words.

    Parameters
    ----------
    run : a comparison (baseline and policy) or one run.
    words : the briefing's message catalogue, e.g. ``simlib.report.i18n.Messages("en")``: names
        each cause (``cause_churned_baseline`` is "usual churn") and titles the panels
        (:data:`CAUSE_CHART_KEYS`); its ``language`` attribute, if any, picks the fonts.
    policy : the policy's name (default: its scenario's name).

    Returns
    -------
    ScreenFigure
    """
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    results = _runs(run)
    names = run_labels(run, policy)
    panels = (
        (CHURN_CAUSES, words("chart_causes_churn"), words("chart_causes_churn_unit")),
        (COMPLAINT_CAUSES, words("chart_causes_complaints"), words("chart_causes_complaints_unit")),
    )
    causes = {cause: words(f"cause_{cause}") for cause in (*CHURN_CAUSES, *COMPLAINT_CAUSES)}
    book = chart_book(
        getattr(words, "language", "en"), *names, *causes.values(), *(t + u for _, t, u in panels)
    )
    with book.style():
        figure = screen_figure(figsize=(11, 4.2))
        axes = figure.subplots(1, 2)
        # Room for the longest name at 9 pt (about 0.08 in a character), fixed rather than found by
        # a layout engine (which would draw the figure twice); the right panel shares the names.
        left = min(0.45, (0.3 + 0.08 * max(len(n) for n in names)) / 11)
        figure.subplots_adjust(left=left, right=0.98, bottom=0.4, top=0.9, wspace=0.06)
        axes[1].tick_params(labelleft=False)
        for ax, (kinds, title, unit) in zip(axes, panels, strict=True):
            means = np.array([r.totals()[list(kinds)].mean().to_numpy() for r in results])
            start = np.zeros(len(results))
            for index, cause in enumerate(kinds):
                ax.barh(names, means[:, index], left=start, label=causes[cause], color=PALETTE[index])
                start = start + means[:, index]
            book.title(ax, title)
            ax.set_xlabel(unit)
            ax.invert_yaxis()
            ax.grid(axis="y", visible=False)
            ax.xaxis.set_major_locator(MaxNLocator(TICKS))
            ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: _tick(value, "count")))
            ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncols=2)
    return figure


def _unit_shown(unit: str) -> str:
    """A unit as a table's unit column shows it: shares are shown in %."""
    return {"share/month": "% a month", "share of customers": "% of customers", "share": "%"}.get(unit, unit)


#: How the key-numbers tables name the shares of customers paying more or less under a policy.
SHARE_LABELS = {
    "winners_share": "Customers whose bill fell by more than 5%",
    "losers_share": "Customers whose bill rose by more than 5%",
}


def comparison_table(
    run: SimulationResult | Comparison,
    metrics: Sequence[str] | None = None,
    policy: str | None = None,
    words: Callable[[str], str] | None = None,
) -> pd.DataFrame:
    """Headline numbers as text to read, one row per metric, named in words.

    For a comparison: the baseline's and the policy's means and the paired difference (policy −
    baseline) with its 90% interval, plus the shares of customers whose bill fell or rose by more
    than 5% (in the difference column); for one run, its means with 90% intervals.

    Parameters
    ----------
    run : a comparison or one run.
    metrics : the rows, metrics of ``summary()`` (default: every one with a description).
    policy : the policy's column name (default: its scenario's name).
    words : the briefing's message catalogue (as for :func:`plot_causes`): if given, the rows of
        customers lost and complaints by cause are named by its cause names ("… usual churn").

    Returns
    -------
    pandas.DataFrame
        Strings, formatted by :func:`format_value`: no scientific notation, "–" where undefined.
    """
    summary = run.summary()
    paired = isinstance(run, Comparison)
    if metrics is None:
        metrics = [m for m in SUMMARY_METRICS if m in summary.index]
        metrics += list(SHARE_LABELS) if paired else []
    rows = []
    for metric in metrics:
        row = summary.loc[metric]
        unit = str(row["unit"])
        label = SHARE_LABELS.get(metric) or SUMMARY_METRICS.get(metric, (metric.replace("_", " "),))[0]
        if words is not None and metric in (*CHURN_CAUSES, *COMPLAINT_CAUSES):
            label = f"… {words(f'cause_{metric}')}"
        if not paired:
            cells = [format_value(row["mean"], unit, low=row["low"], high=row["high"])]
        elif metric in SHARE_LABELS:
            share = format_value(row["reform_mean"], unit, low=row["reform_low"], high=row["reform_high"])
            cells = [MISSING, MISSING, share]
        else:
            cells = [
                format_value(row["baseline_mean"], unit),
                format_value(row["reform_mean"], unit),
                format_value(
                    row["difference_mean"],
                    unit,
                    low=row["difference_low"],
                    high=row["difference_high"],
                    difference=True,
                ),
            ]
        rows.append([label, _unit_shown(unit), *cells])
    if paired:
        names = run_labels(run, policy)
        columns = ["unit", names[0], names[1], "difference (90% interval)"]
    else:
        columns = ["unit", "mean (90% interval)"]
    return pd.DataFrame(rows, columns=["metric", *columns]).set_index("metric")


#: The per-segment table's metrics and column names; ``{currency}`` is the scenario's currency.
SEGMENT_METRICS: dict[str, str] = {
    "net_revenue": "net revenue ({currency})",
    "monthly_churn_rate": "monthly churn",
    "complaints_per_1000": "complaints per 1,000 a month",
    "active_end": "active customers at the end",
}


def segment_numbers(run: SimulationResult | Comparison) -> pd.DataFrame:
    """Per segment: headline metrics (mean and 90% interval); for a comparison, the paired
    differences (policy − baseline). Numbers, indexed by segment and metric."""
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


def segment_table(run: SimulationResult | Comparison) -> pd.DataFrame:
    """:func:`segment_numbers` as text to read: a row per segment, a column per metric, each cell
    ``mean [low, high]`` (for a comparison the paired difference, "Δ" in the column name)."""
    numbers = segment_numbers(run)
    paired = isinstance(run, Comparison)
    units = _runs(run)[0].units()
    currency = _runs(run)[0].currency
    table = {}
    index = numbers.index.unique("segment")
    for metric, name in SEGMENT_METRICS.items():
        part = numbers.xs(metric, level="metric")
        column = ("Δ " if paired else "") + name.format(currency=currency)
        table[column] = [
            format_value(mean, units.get(metric, ""), low=low, high=high, difference=paired)
            for mean, low, high in part.to_numpy()
        ]
    return pd.DataFrame(table, index=index)


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
