"""Sweeps: many policy variants of one base scenario, evaluated in parallel on the same random draws.

A variant is a set of ``{"key.path": value}`` changes to the base scenario, exactly as
:meth:`Scenario.with_changes` (or ``--set``) takes them. :func:`grid_variants` builds a full grid
of lever values, :func:`sample_variants` a space-filling sample (Latin hypercube) of lever ranges.
:func:`run_sweep` validates every variant before anything runs, then evaluates each one as a paired
comparison with the base — all with the same seed, so every variant is simulated on the same
customers with the same draws as the base and as every other variant — and collects one row per
variant: the levers, each metric's value under the variant and its paired difference to the base,
with 90% intervals (5th–95th percentiles across replications).

Money is in the base scenario's currency (``simulation.currency``); rates and counts are in the
units of :data:`simlib.run.results.SUMMARY_METRICS` (``SweepResult.units`` names them per metric).
"""

from __future__ import annotations

import itertools
import json
import math
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import BaseModel
from tqdm.auto import tqdm

from simlib.analysis.frontier import frontier_table, plot_frontier
from simlib.errors import InputError, Problem, ScenarioError
from simlib.keypaths import split_key_path
from simlib.model.parameters import Fees, ScenarioModel
from simlib.run.executors import open_executor
from simlib.run.metrics import KEY_METRICS
from simlib.run.parquet import write_parquet
from simlib.run.results import SUMMARY_METRICS, check_output_folder, write_atomic
from simlib.run.runner import RunSettings
from simlib.run.shared import SharedBase, compare_with_base, simulate_base
from simlib.scenario.scenario import Scenario, parse_assignment

SHARE_METRICS = ("winners_share", "losers_share")
"""Metrics that are already paired (shares of customers whose bill fell / rose by more than 5%):
the table holds their value and interval, with no difference columns."""

RUN_SETTINGS = ("simulation.customers", "simulation.months", "simulation.replications", "simulation.seed")
"""Key paths a variant may not change: every variant runs with the sweep's sizes and seed."""

# --------------------------------------------------------------------------- designs


def grid_variants(grid: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every combination of lever values (the cartesian product), first key varying slowest.

    Parameters
    ----------
    grid : ``{"key.path": [value, ...]}``; values in the units of the parameter (see
        ``simlib describe``), e.g. ``{"fees.monthly_fee": [25, 27, 29]}`` in currency per month.

    Returns
    -------
    list of dict
        One ``{"key.path": value}`` mapping per variant, ``prod(len(values))`` of them, in the
        order of :func:`itertools.product` over the keys in their given order.

    Raises
    ------
    InputError
        An empty grid, a key with no values, or values given as one string.
    """
    if not grid:
        raise InputError("a grid needs at least one key.path with values")
    keys = list(grid)
    columns: list[list[Any]] = []
    for key in keys:
        values = grid[key]
        if isinstance(values, str | bytes) or not isinstance(values, Sequence):
            raise InputError(f"grid values of {key} must be a list (got {values!r})")
        if len(values) == 0:
            raise InputError(f"grid key {key} has no values")
        columns.append(list(values))
    return [dict(zip(keys, combination, strict=True)) for combination in itertools.product(*columns)]


def sample_variants(ranges: Mapping[str, tuple[float, float]], n: int, seed: int) -> list[dict[str, float]]:
    """``n`` variants spread over lever ranges by a scrambled Latin-hypercube design.

    Each lever's range is cut into ``n`` equal strata and every stratum holds exactly one variant
    (per lever), with the strata of different levers paired at random. Reproducible for a seed.

    Parameters
    ----------
    ranges : ``{"key.path": (low, high)}`` with ``low < high``, in the parameter's units. A
        whole-number parameter of the schema (e.g. ``fee_changes[0].notice_days``, in days) takes
        whole values from ``low`` to ``high`` inclusive, equally often; its bounds must be whole.
    n : number of variants (at least 1).
    seed : seed of the design (``scipy.stats.qmc.LatinHypercube``).

    Returns
    -------
    list of dict
        ``n`` mappings ``{"key.path": value}``; floats, or ints for whole-number parameters.

    Raises
    ------
    InputError
        No ranges, ``n < 1``, a range with ``low >= high`` or a non-finite bound, or fractional
        bounds for a whole-number parameter.
    """
    from scipy.stats import qmc

    if not ranges:
        raise InputError("a sample needs at least one key.path with a range")
    if int(n) < 1:
        raise InputError(f"the number of variants must be at least 1 (got {n})")
    keys = list(ranges)
    bounds = []
    for key in keys:
        low, high = _check_range(key, ranges[key], f"{key}={ranges[key]!r}")
        integer = is_integer_parameter(key)
        if integer and not (float(low).is_integer() and float(high).is_integer()):
            raise InputError(f"{key} takes whole numbers: give whole-number bounds (got {low}:{high})")
        bounds.append((low, high, integer))
    unit = qmc.LatinHypercube(d=len(keys), seed=seed).random(int(n))
    variants: list[dict[str, float]] = []
    for point in unit:
        variant: dict[str, Any] = {}
        for key, u, (low, high, integer) in zip(keys, point, bounds, strict=True):
            if integer:
                low_i, high_i = int(low), int(high)
                variant[key] = min(low_i + math.floor(u * (high_i - low_i + 1)), high_i)
            else:
                variant[key] = float(low + u * (high - low))
        variants.append(variant)
    return variants


def parse_grid(text: str) -> tuple[str, list]:
    """Parse ``key.path=v1,v2,v3`` (command line); each value is read as a YAML scalar, like
    ``--set`` values (``27.5``, ``true``, ``null``, ``monthly``).

    Returns
    -------
    (key path, list of values)

    Raises
    ------
    InputError
        No ``=``, an empty key path, or an empty value (one line naming ``text``).
    """
    key, _, values_text = text.partition("=")
    if "=" not in text or not key.strip():
        raise InputError(f"{text!r}: expected key.path=v1,v2,..., e.g. fees.monthly_fee=25,27,29")
    pieces = values_text.split(",")
    if any(not piece.strip() for piece in pieces):
        raise InputError(f"{text!r}: empty value in the list; expected key.path=v1,v2,...")
    return key.strip(), [parse_assignment(f"{key}={piece.strip()}")[1] for piece in pieces]


def parse_range(text: str) -> tuple[str, tuple[float, float]]:
    """Parse ``key.path=low:high`` (command line) with numbers ``low < high``.

    Returns
    -------
    (key path, (low, high))
        Bounds written as whole numbers are ints, others floats.

    Raises
    ------
    InputError
        Malformed text, bounds that are not finite numbers, or ``low >= high`` (one line naming
        ``text``).
    """
    key, _, bounds_text = text.partition("=")
    parts = bounds_text.split(":")
    if "=" not in text or not key.strip() or len(parts) != 2:
        raise InputError(f"{text!r}: expected key.path=low:high, e.g. fees.penalty_fee=0:12")
    numbers = [_number(part) for part in parts]
    if any(value is None for value in numbers):
        raise InputError(f"{text!r}: the bounds must be numbers, e.g. fees.penalty_fee=0:12")
    low, high = _check_range(key.strip(), tuple(numbers), repr(text))
    return key.strip(), (low, high)


def _number(text: str) -> int | float | None:
    text = text.strip()
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return None


def _check_range(key: str, bounds: Any, shown: str) -> tuple[float, float]:
    try:
        low, high = bounds
    except (TypeError, ValueError):
        raise InputError(f"{shown}: a range is two numbers (low, high)") from None
    if isinstance(low, bool) or isinstance(high, bool) or not all(isinstance(v, int | float) for v in bounds):
        raise InputError(f"{shown}: the bounds must be numbers")
    if not (math.isfinite(low) and math.isfinite(high)):
        raise InputError(f"{shown}: the bounds must be finite (got {low}:{high})")
    if not low < high:
        raise InputError(f"{shown}: the low bound must be below the high bound (got {low}:{high})")
    return low, high


def _number_types(annotation: Any) -> set[type]:
    """The plain types a field accepts, through Annotated[...] and unions."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _number_types(typing.get_args(annotation)[0])
    if origin is not None and typing.get_args(annotation) and origin not in (tuple, list, dict):
        return set().union(*(_number_types(a) for a in typing.get_args(annotation)))
    return {annotation} if isinstance(annotation, type) else set()


def is_integer_parameter(key: str) -> bool:
    """Whether the schema requires a whole number at ``key`` (ints, not floats: e.g. days, months)."""
    model: Any = ScenarioModel
    parts = split_key_path(key)
    for depth, part in enumerate(parts):
        if typing.get_origin(model) in (tuple, list):  # a list item, named or numbered
            args = [a for a in typing.get_args(model) if a is not Ellipsis]
            model = args[0] if args else None
            continue
        if model is dict or typing.get_origin(model) is dict:  # a fee change's `set`: keys of `fees`
            model = Fees
        if not (isinstance(model, type) and issubclass(model, BaseModel)) or part not in model.model_fields:
            return False
        annotation = model.model_fields[part].annotation
        if depth == len(parts) - 1:
            types = _number_types(annotation)
            return int in types and float not in types
        model = _container(annotation)
    return False


def _container(annotation: Any) -> Any:
    """The model, list or mapping type behind a field's annotation (Optional/Annotated removed)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _container(typing.get_args(annotation)[0])
    if origin in (tuple, list, dict):
        return annotation
    if origin is not None:
        inner = [_container(a) for a in typing.get_args(annotation) if a is not type(None)]
        return inner[0] if len(inner) == 1 else None
    return annotation


# --------------------------------------------------------------------------- running


@dataclass(frozen=True)
class _VariantTask:
    """One variant's comparison with the shared base, as handed to a worker (both pickle)."""

    shared: SharedBase
    variant: Scenario


def _evaluate(task: _VariantTask) -> pd.DataFrame:
    """Run one variant against the base's kept run; return only the summary (small), never the
    runs."""
    return compare_with_base(task.shared, task.variant).summary()


def _build_variants(
    base: Scenario, variants: Sequence[Mapping[str, Any]], settings: RunSettings
) -> list[Scenario]:
    """Every variant scenario, validated; all problems of all variants raised together."""
    problems: list[Problem] = []
    scenarios: list[Scenario] = []
    segments = [s.name for s in base.population.segments]
    for index, changes in enumerate(variants):
        source = f"variant {index}"
        if not isinstance(changes, Mapping):
            problems.append(Problem(source, "", f"must be a mapping of key.path to value (got {changes!r})"))
            continue
        fixed = [key for key in changes if ".".join(split_key_path(key)) in RUN_SETTINGS]
        problems += [
            Problem(source, key, "is a run setting shared by every variant; pass it to run_sweep instead")
            for key in fixed
        ]
        try:
            scenario = base.with_changes(changes, origin=source)
        except ScenarioError as exc:
            problems += exc.problems
            continue
        if fixed:
            continue
        if [s.name for s in scenario.population.segments] != segments:
            problems.append(Problem(source, "population.segments", "must keep the base's segments"))
            continue
        last_change = max((c.month for c in scenario.fee_changes), default=0)
        if last_change >= settings.months:
            problems.append(
                Problem(
                    source,
                    "fee_changes",
                    f"a fee change takes effect in month {last_change}, beyond the sweep's "
                    f"{settings.months}-month horizon; use more months",
                )
            )
            continue
        try:
            RunSettings.resolve(scenario, settings.customers, settings.months, settings.replications)
        except InputError as exc:
            problems.append(Problem(source, "", str(exc)))
            continue
        scenarios.append(scenario)
    if problems:
        raise ScenarioError(problems)
    return scenarios


def run_sweep(
    base: Scenario,
    variants: Sequence[Mapping[str, Any]],
    *,
    customers: int | None = None,
    months: int | None = None,
    replications: int | None = None,
    seed: int | None = None,
    workers: int | None = 1,
    scheduler: str | None = None,
    progress: bool = True,
) -> SweepResult:
    """Evaluate many variants of a base scenario, each paired with the base on the same draws.

    Every variant is built (``base.with_changes``) and checked before anything runs. The base is
    then simulated once (its chunks in parallel) and each variant is compared with that run
    (:func:`simlib.run.shared.compare_with_base`: the numbers of :func:`simlib.run.runner.compare` with the
    same sizes and seed, at the cost of one run), so all variants share the base's customers and
    draws; variants run in parallel, one per worker. Results do not depend on ``workers`` or
    ``scheduler``.

    Parameters
    ----------
    base : the base scenario (the "baseline" of every paired comparison).
    variants : one ``{"key.path": value}`` mapping per variant (see :func:`grid_variants`,
        :func:`sample_variants`); values in the parameters' units.
    customers : initial customers (seats); default the base's ``simulation.customers``.
    months : horizon in months; default the base's ``simulation.months``.
    replications : Monte Carlo replications; default the base's ``simulation.replications``.
    seed : random seed shared by every variant; default the base's ``simulation.seed``.
    workers : variants evaluated at once in worker processes (0: one per core); default 1.
    scheduler : ``"local"`` or a Dask scheduler address to run the variants on Dask
        (see :func:`simlib.run.executors.open_executor`).
    progress : show a progress bar over variants.

    Returns
    -------
    SweepResult
        One row per variant, in the order given.

    Raises
    ------
    ScenarioError
        Invalid changes, with every problem of every variant, each naming the variant and the key
        path; nothing is run.
    InputError
        Invalid run settings or no variants; nothing is run.
    """
    if not variants:
        raise InputError("a sweep needs at least one variant")
    settings = RunSettings.resolve(base, customers, months, replications, seed)
    scenarios = _build_variants(base, variants, settings)
    with open_executor(workers, scheduler, kind="process") as executor:
        shared = simulate_base(base, settings, executor)
        tasks = [_VariantTask(shared, scenario) for scenario in scenarios]
        summaries = list(
            tqdm(
                executor.map(_evaluate, tasks),
                total=len(tasks),
                unit=" variants",
                desc=f"{len(tasks)} variants of {base.name}",
                disable=not progress,
                leave=False,
            )
        )
    first = summaries[0]
    for index, summary in enumerate(summaries[1:], start=1):
        if not summary["baseline_mean"].equals(first["baseline_mean"]):
            raise RuntimeError(f"variant {index} was not run on the base's draws (baseline differs)")
    units = {str(k): str(v) for k, v in first["unit"].items()}
    baseline = first[["baseline_mean", "baseline_low", "baseline_high", "unit"]].rename(
        columns=lambda c: c.removeprefix("baseline_")
    )
    return SweepResult(
        base=base.name,
        base_fingerprint=base.fingerprint(),
        variants=[dict(v) for v in variants],
        table=sweep_table(variants, summaries),
        settings={
            "customers": settings.customers,
            "months": settings.months,
            "replications": settings.replications,
            "seed": settings.seed,
        },
        units=units,
        baseline=baseline.drop(index=[m for m in SHARE_METRICS if m in baseline.index]),
    )


def _lever_value(value: Any) -> Any:
    """A lever value as a table cell: scalars as they are, lists and mappings as JSON text."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return json.dumps(value, sort_keys=True, default=str)


def _ordered_metrics(metrics: Sequence[str]) -> list[str]:
    present = set(metrics)
    ordered = [m for m in KEY_METRICS if m in present]
    ordered += [m for m in SUMMARY_METRICS if m in present and m not in ordered]
    ordered += [m for m in metrics if m not in ordered and m not in SHARE_METRICS]
    return ordered + [m for m in SHARE_METRICS if m in present]


def sweep_table(variants: Sequence[Mapping[str, Any]], summaries: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """The tidy sweep table from each variant's :meth:`Comparison.summary`.

    One row per variant: ``variant`` (0..n-1), one column per lever key path, then per metric the
    variant's value ``<metric>`` (mean across replications), ``<metric>_low``, ``<metric>_high``
    (90% interval) and the paired difference to the base ``<metric>_difference``,
    ``<metric>_difference_low``, ``<metric>_difference_high``, in the metric's unit.
    """
    levers = list(dict.fromkeys(key for changes in variants for key in changes))
    metrics = _ordered_metrics([str(m) for m in summaries[0].index])
    rows = []
    for index, (changes, summary) in enumerate(zip(variants, summaries, strict=True)):
        row: dict[str, Any] = {"variant": index}
        row.update({key: _lever_value(changes.get(key)) for key in levers})
        for metric in metrics:
            values = summary.loc[metric]
            row[metric] = values["reform_mean"]
            row[f"{metric}_low"] = values["reform_low"]
            row[f"{metric}_high"] = values["reform_high"]
            if metric not in SHARE_METRICS:
                row[f"{metric}_difference"] = values["difference_mean"]
                row[f"{metric}_difference_low"] = values["difference_low"]
                row[f"{metric}_difference_high"] = values["difference_high"]
        rows.append(row)
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- results


@dataclass
class SweepResult:
    """The outcome of a sweep: one row per variant of the base scenario.

    Attributes
    ----------
    base : name of the base scenario.
    base_fingerprint : :meth:`Scenario.fingerprint` of the base.
    variants : the changes of each variant, in order (variant ``i`` is ``variants[i]``).
    table : one row per variant (see :func:`sweep_table`); money in the base's currency.
    settings : ``customers``, ``months``, ``replications`` and ``seed`` shared by every variant.
    units : unit of each metric (the same for its difference).
    baseline : the base's own value of each metric (``mean``, ``low``, ``high``, ``unit``), the
        same for every variant since all share its draws.
    """

    base: str
    base_fingerprint: str
    variants: list[dict[str, Any]]
    table: pd.DataFrame
    settings: dict[str, int]
    units: dict[str, str] = field(default_factory=dict)
    baseline: pd.DataFrame | None = None

    @property
    def levers(self) -> list[str]:
        """The key paths varied, in order of first appearance."""
        return list(dict.fromkeys(key for changes in self.variants for key in changes))

    def summary(self) -> pd.DataFrame:
        """The sweep table (a copy): one row per variant, levers, values and paired differences."""
        return self.table.copy()

    def frontier(self, revenue: str = "net_revenue", complaints: str = "complaints_per_1000") -> pd.DataFrame:
        """Per variant, the paired differences of revenue and complaint rate with 90% intervals
        (``revenue_mean/low/high``, ``complaints_mean/low/high`` and units), the levers, and
        ``on_frontier``: no other variant has at least as much revenue and at most as many
        complaints, and strictly better on one (Pareto)."""

        table = self.table.set_index("variant")
        parts = [
            pd.DataFrame(
                {
                    "variant": table.index,
                    "metric": metric,
                    "difference_mean": table[f"{metric}_difference"].to_numpy(),
                    "difference_low": table[f"{metric}_difference_low"].to_numpy(),
                    "difference_high": table[f"{metric}_difference_high"].to_numpy(),
                    "unit": self.units.get(metric, ""),
                }
            )
            for metric in (revenue, complaints)
        ]
        frame = frontier_table(pd.concat(parts, ignore_index=True), revenue, complaints, label="variant")
        levers = [key for key in self.levers if key in table.columns]
        return frame.join(table[levers])

    def plot_frontier(
        self, ax: Any = None, revenue: str = "net_revenue", complaints: str = "complaints_per_1000"
    ):
        """Revenue against complaint-rate differences with 90% intervals, each point labelled with
        its variant number, the frontier joined."""

        ax = plot_frontier(self.frontier(revenue, complaints), ax=ax, annotate=True)
        ax.set_title(f"{len(self.table)} variants of {self.base}: revenue against complaints")
        return ax

    def provenance(self) -> dict[str, Any]:
        """Base, levers, variants, run settings and version: enough to re-run the sweep."""
        from simlib import __version__

        return {
            "base": self.base,
            "base_fingerprint": self.base_fingerprint,
            "levers": self.levers,
            "variants": self.variants,
            "n_variants": len(self.variants),
            "settings": dict(self.settings),
            "simlib_version": __version__,
        }

    def save(self, folder: str | Path, overwrite: bool = False) -> Path:
        """Write ``sweep.csv``, ``sweep.parquet``, ``frontier.csv``, ``frontier.png`` and
        ``sweep.json`` (provenance; written last, so its presence marks a complete save).

        Refuses a folder that already holds files unless ``overwrite`` is set; each file is written
        atomically.
        """
        from matplotlib.figure import Figure

        folder = check_output_folder(folder, overwrite)
        table = self.table
        frontier = self.frontier()
        # Each metric's columns (mean, _low, _high, _difference…) carry the metric's unit.
        units = {
            column: unit
            for metric, unit in self.units.items()
            for column in table.columns
            if column == metric or column.startswith(f"{metric}_")
        }
        write_atomic(
            folder / "sweep.parquet",
            lambda p: write_parquet(table, p, units, scenario=self.base, levers=self.levers),
        )
        write_atomic(folder / "sweep.csv", lambda p: table.to_csv(p, index=False))
        write_atomic(folder / "frontier.csv", lambda p: frontier.to_csv(p))
        figure = Figure(figsize=(7.5, 5), layout="constrained")
        self.plot_frontier(ax=figure.subplots())
        write_atomic(folder / "frontier.png", lambda p: figure.savefig(p, format="png", dpi=120))
        provenance = json.dumps(self.provenance(), indent=2, default=str)
        write_atomic(folder / "sweep.json", lambda p: Path(p).write_text(provenance))
        return folder


__all__ = [
    "SweepResult",
    "grid_variants",
    "parse_grid",
    "parse_range",
    "run_sweep",
    "sample_variants",
    "sweep_table",
]
