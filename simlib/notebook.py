"""What the parameterized notebooks share: checking papermill parameters, charts, result files.

A notebook's ``parameters`` cell holds JSON-simple values only (paths, a mapping of overrides,
integers). :func:`check_parameters` turns them into a :class:`NotebookRun` — or stops with the same
one-line problems as `simlib validate` — before anything runs or is written.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import __version__
from .errors import InputError, Problem, ScenarioError
from .files import check_output_folder, write_atomic
from .metrics import CHURN_CAUSES, COMPLAINT_CAUSES
from .results import COVERAGE, Comparison, SimulationResult
from .runner import RunSettings, compare, simulate
from .scenario import Scenario, diff, load

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


def _band(ax: Any, frame: pd.DataFrame, label: str) -> None:
    tail = (1.0 - COVERAGE) / 2.0
    ax.fill_between(frame.index, frame.quantile(tail, axis=1), frame.quantile(1 - tail, axis=1), alpha=0.2)
    ax.plot(frame.index, frame.mean(axis=1), label=label)


def _runs(run: SimulationResult | Comparison) -> list[SimulationResult]:
    return [run.baseline, run.reform] if isinstance(run, Comparison) else [run]


def plot_over_time(run: SimulationResult | Comparison, metrics: Sequence[str]):
    """One panel per metric: the monthly mean of each run with its 90% band across replications."""
    import matplotlib.pyplot as plt

    columns = 2
    rows = math.ceil(len(metrics) / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(11, 3.2 * rows), squeeze=False)
    for ax, metric in zip(axes.flat, metrics, strict=False):
        for result in _runs(run):
            table = result.by_month().pivot(index="month", columns="replication", values=metric)
            _band(ax, table, result.scenario.name)
        ax.set_title(metric.replace("_", " "))
        ax.set_xlabel("month")
        ax.legend(fontsize=8)
    for ax in list(axes.flat)[len(metrics) :]:
        ax.set_visible(False)
    figure.tight_layout()
    return figure


def plot_causes(run: SimulationResult | Comparison):
    """Churn and complaints by cause over the horizon (mean across replications), per run."""
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(11, 3.5))
    for ax, causes, title in (
        (axes[0], CHURN_CAUSES, "customers lost, by cause"),
        (axes[1], COMPLAINT_CAUSES, "complaints, by cause"),
    ):
        results = _runs(run)
        means = pd.DataFrame({r.scenario.name: r.totals()[list(causes)].mean() for r in results}).T
        means.columns = [c.split("_", 1)[1].replace("_", " ") for c in causes]
        means.plot.barh(stacked=True, ax=ax)
        ax.set_title(title)
        ax.legend(fontsize=8)
    figure.tight_layout()
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
            low, high = np.quantile(values, [(1 - COVERAGE) / 2, 1 - (1 - COVERAGE) / 2])
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


class Explorer:
    """Re-runs a small paired comparison whenever a lever moves, and redraws its key numbers.

    The population is small (a few thousand customers, a few replications) so that a change shows
    in seconds; the same seed and paired draws make neighbouring settings differ by the policy.
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

    def run(self, settings: Mapping[str, Any]) -> Comparison:
        """The comparison of the baseline with the lever settings applied."""
        changes = {path: value for path, value in settings.items() if value is not None}
        return compare(self.baseline, self.baseline.with_changes(changes, origin="explorer"), **self.size)

    def key_numbers(self, comparison: Comparison) -> pd.DataFrame:
        """The headline paired differences with their 90% intervals."""
        rows = [
            "net_revenue",
            "monthly_churn_rate",
            "complaints_per_1000",
            "refunds",
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
        """Sliders and switches for the levers, wired to re-run and redraw."""
        import ipywidgets
        from IPython.display import display

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
        output = ipywidgets.Output()

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
            with output:
                output.clear_output(wait=True)
                display(self.key_numbers(comparison))
                plot_over_time(comparison, ["active", "net_revenue", "churn_rate", "complaints_per_1000"])
                import matplotlib.pyplot as plt

                plt.show()

        for control in controls.values():
            control.observe(redraw, names="value")
        redraw()
        return ipywidgets.VBox([*controls.values(), output])


def _value_at(scenario: Scenario, path: str) -> Any:
    value: Any = scenario.model
    for part in path.split("."):
        value = getattr(value, part)
    return value
