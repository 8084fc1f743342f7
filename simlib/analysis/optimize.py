"""Optimisation: the lever values that maximise an objective under constraints, on paired draws.

Every evaluation simulates the candidate policy against the base on the same customers with the same
random draws (common random numbers), so the objective moves with the levers, not with sampling
noise, and a derivative-free local search can follow it. The search starts from a coarse grid over
the levers (evaluated in parallel), because objectives such as revenue in price can have more than
one local maximum once constraints bite, then polishes the best feasible grid point with
scipy's bounded Nelder–Mead (one lever: bounded Brent). Constraints enter the local search as an
exact penalty: a point that breaks one is worse than every point that does not.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import yaml

from simlib.errors import InputError, ScenarioError
from simlib.files import check_output_folder, write_atomic
from simlib.keypaths import split_key_path
from simlib.run.executors import open_executor
from simlib.run.intervals import estimate
from simlib.scenario.scenario import Scenario

if TYPE_CHECKING:
    from simlib.run.shared import SharedBase

OBJECTIVES = ("npv_net_revenue", "net_revenue", "gross_revenue")
CONSTRAINT_METRICS = {
    "max_complaints_per_1000": "complaints_per_1000",
    "max_monthly_churn": "monthly_churn_rate",
}
GRID_LIMIT = 125


@dataclass(frozen=True)
class Lever:
    """A parameter the optimiser may move, within [low, high]; whole numbers if ``integer``."""

    path: str
    low: float
    high: float
    integer: bool = False


def parse_lever(text: str) -> Lever:
    """``key.path=lo:hi`` → :class:`Lever` (one-line :class:`InputError` otherwise)."""
    path, separator, bounds = text.partition("=")
    low_text, colon, high_text = bounds.partition(":")
    try:
        low, high = float(low_text), float(high_text)
    except ValueError:
        low = high = math.nan
    if not (separator and colon and path.strip()) or not (math.isfinite(low) and math.isfinite(high)):
        raise InputError(
            f"--lever {text!r}: expected KEY.PATH=LOW:HIGH with numbers, e.g. fees.monthly_fee=20:35"
        )
    if low >= high:
        raise InputError(f"--lever {text!r}: the low end must be below the high end")
    return Lever(path.strip(), low, high)


@dataclass(frozen=True)
class PointResult:
    """One evaluated point: the objective per replication (paired against the base) and the mean
    level of each constrained metric."""

    objective: np.ndarray
    metrics: Mapping[str, float]


@dataclass(frozen=True)
class Constraint:
    """``metric`` must stay at or below ``limit`` (mean over replications)."""

    name: str
    metric: str
    limit: float


@dataclass
class Trace:
    """Every point evaluated, in order: lever values, mean objective, metrics, feasibility."""

    rows: list[dict[str, Any]] = field(default_factory=list)

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows)


def _violation(result: PointResult, constraints: Sequence[Constraint]) -> float:
    """How far a point is outside its constraints, relative to each limit (0: feasible)."""
    total = 0.0
    for constraint in constraints:
        excess = result.metrics[constraint.metric] - constraint.limit
        if excess > 0:
            total += excess / max(abs(constraint.limit), 1e-12)
    return total


def _grid(levers: Sequence[Lever], points: int) -> list[tuple[float, ...]]:
    """An even grid, at most GRID_LIMIT points (fewer per lever as levers are added)."""
    per_lever = max(2, min(points, round(GRID_LIMIT ** (1.0 / len(levers)))))
    axes = []
    for lever in levers:
        values = np.linspace(lever.low, lever.high, per_lever)
        if lever.integer:
            values = np.unique(np.round(values))
        axes.append([float(v) for v in values])
    return list(itertools.product(*axes))


@dataclass
class _Search:
    """Evaluations with a cache (the local search revisits points) and their trace."""

    evaluate: Callable[[tuple[float, ...]], PointResult]
    levers: Sequence[Lever]
    constraints: Sequence[Constraint]
    trace: Trace = field(default_factory=Trace)
    cache: dict[tuple[float, ...], PointResult] = field(default_factory=dict)

    def key(self, x: Sequence[float]) -> tuple[float, ...]:
        values = []
        for lever, value in zip(self.levers, x, strict=True):
            value = min(max(float(value), lever.low), lever.high)
            values.append(float(round(value)) if lever.integer else value)
        return tuple(values)

    def record(self, key: tuple[float, ...], result: PointResult, stage: str) -> None:
        self.cache[key] = result
        row = {lever.path: value for lever, value in zip(self.levers, key, strict=True)}
        row.update(stage=stage, objective=float(np.mean(result.objective)), **result.metrics)
        row["feasible"] = _violation(result, self.constraints) == 0.0
        self.trace.rows.append(row)

    def __call__(self, x: Sequence[float], stage: str = "search") -> PointResult:
        key = self.key(x)
        if key not in self.cache:
            self.record(key, self.evaluate(key), stage)
        return self.cache[key]

    def score(self, key: tuple[float, ...]) -> float:
        """What the local search minimises: −objective, and any infeasible point above every
        feasible one (an exact penalty scaled by the objective's spread)."""
        result = self.cache[key]
        mean = float(np.mean(result.objective))
        violation = _violation(result, self.constraints)
        if violation == 0.0:
            return -mean
        spread = max((abs(r["objective"]) for r in self.trace.rows), default=1.0) + 1.0
        return -mean + spread * (1.0 + violation) * 10.0


@dataclass(frozen=True)
class Optimum:
    """The best lever values found, the objective there with its interval, and the constraints."""

    levers: tuple[Lever, ...]
    values: tuple[float, ...]
    objective: str
    objective_estimate: tuple[float, float, float]  # mean, low, high (paired difference to the base)
    constraints: tuple[Constraint, ...]
    metrics: Mapping[str, float]
    feasible: bool
    trace: pd.DataFrame
    evaluations: int

    def constraint_table(self) -> pd.DataFrame:
        """Each constraint's value at the optimum, its limit, the slack and whether it binds
        (slack within 2% of the limit: relaxing it would let the objective grow)."""
        rows = []
        for c in self.constraints:
            value = self.metrics[c.metric]
            slack = c.limit - value
            rows.append(
                {
                    "constraint": c.name,
                    "metric": c.metric,
                    "value": value,
                    "limit": c.limit,
                    "slack": slack,
                    "binding": abs(slack) <= 0.02 * abs(c.limit),
                }
            )
        return pd.DataFrame(rows, columns=["constraint", "metric", "value", "limit", "slack", "binding"])

    def plot(self, ax: Any = None):
        """Every evaluated point: with one lever, the objective against it (infeasible points
        hollow); with more, the first two levers coloured by the objective. The optimum is starred."""
        import matplotlib.pyplot as plt

        ax = ax or plt.subplots(figsize=(7, 4))[1]
        trace = self.trace
        feasible = trace["feasible"].astype(bool)
        first = self.levers[0].path
        if len(self.levers) == 1:
            ax.scatter(trace.loc[feasible, first], trace.loc[feasible, "objective"], s=14, label="feasible")
            ax.scatter(
                trace.loc[~feasible, first],
                trace.loc[~feasible, "objective"],
                s=14,
                facecolors="none",
                edgecolors="tab:red",
                label="breaks a constraint",
            )
            ax.scatter(
                [self.values[0]],
                [self.objective_estimate[0]],
                marker="*",
                s=200,
                color="black",
                label="optimum",
                zorder=3,
            )
            ax.set_ylabel(f"Δ {self.objective} vs base")
        else:
            second = self.levers[1].path
            points = ax.scatter(trace[first], trace[second], c=trace["objective"], s=16, cmap="viridis")
            ax.scatter([self.values[0]], [self.values[1]], marker="*", s=200, color="black", label="optimum")
            ax.figure.colorbar(points, ax=ax, label=f"Δ {self.objective} vs base")
            ax.set_ylabel(second)
        ax.set_xlabel(first)
        ax.set_title(f"{len(trace)} paired evaluations")
        ax.legend(fontsize=8)
        return ax

    def summary(self) -> pd.DataFrame:
        """Lever values and the objective's estimate, one row each."""
        rows = [
            {"item": lever.path, "value": value}
            for lever, value in zip(self.levers, self.values, strict=True)
        ]
        mean, low, high = self.objective_estimate
        rows.append(
            {"item": f"{self.objective} (difference to base)", "value": mean, "low": low, "high": high}
        )
        return pd.DataFrame(rows).set_index("item")


def maximise(
    evaluate: Callable[[tuple[float, ...]], PointResult],
    levers: Sequence[Lever],
    constraints: Sequence[Constraint] = (),
    *,
    grid_points: int = 9,
    map_points: Callable[[Callable, list], list] | None = None,
    tolerance: float = 1e-4,
    max_evaluations: int = 200,
    objective: str = "objective",
) -> Optimum:
    """Maximise the mean of ``evaluate(x).objective`` over the lever box under ``constraints``.

    Parameters
    ----------
    evaluate : lever values → :class:`PointResult`; deterministic (common random numbers).
    levers : the box searched.
    constraints : metric limits; a point is feasible when every mean metric is within its limit.
    grid_points : points per lever of the starting grid (capped so the grid has at most 125).
    map_points : how to evaluate the grid (e.g. an executor's ``map``); in order, sequential if None.
    tolerance : stopping tolerance of the local search, as a share of each lever's range.
    """
    from scipy import optimize

    levers = tuple(levers)
    search = _Search(evaluate, levers, tuple(constraints))
    grid = [search.key(point) for point in _grid(levers, grid_points)]
    results = (map_points or (lambda f, xs: [f(x) for x in xs]))(evaluate, grid)
    for key, result in zip(grid, results, strict=True):
        search.record(key, result, "grid")
    start = min(grid, key=search.score)
    spans = np.array([lever.high - lever.low for lever in levers])
    lows = np.array([lever.low for lever in levers])
    if len(levers) == 1 and not levers[0].integer:
        # Brent on the bracket around the best grid point (grid neighbours).
        step = spans[0] / max(len(grid) - 1, 1)
        low = max(levers[0].low, start[0] - step)
        high = min(levers[0].high, start[0] + step)

        def scalar_score(value: float) -> float:
            key = search.key([value])
            search(key)
            return search.score(key)

        optimize.minimize_scalar(
            scalar_score,
            bounds=(low, high),
            method="bounded",
            options={"xatol": tolerance * spans[0], "maxiter": max_evaluations},
        )
    else:
        # Nelder–Mead in the unit box, so one tolerance suits every lever.
        def unit_score(u: np.ndarray) -> float:
            x = lows + np.clip(u, 0.0, 1.0) * spans
            search(x)
            return search.score(search.key(x))

        simplex_start = (np.array(start) - lows) / spans
        optimize.minimize(
            unit_score,
            simplex_start,
            method="Nelder-Mead",
            bounds=[(0.0, 1.0)] * len(levers),
            options={
                "xatol": tolerance,
                "fatol": 1e-9,
                "maxfev": max_evaluations,
                "initial_simplex": _simplex(simplex_start, 0.5 / max(grid_points - 1, 1)),
            },
        )
    best = min(search.cache, key=search.score)
    result = search.cache[best]
    return Optimum(
        levers=levers,
        values=best,
        objective=objective,
        objective_estimate=estimate(np.asarray(result.objective, dtype=float)),
        constraints=tuple(constraints),
        metrics=dict(result.metrics),
        feasible=_violation(result, constraints) == 0.0,
        trace=search.trace.frame(),
        evaluations=len(search.cache),
    )


def _simplex(start: np.ndarray, step: float) -> np.ndarray:
    """A starting simplex of grid-cell size around ``start``, inside the unit box."""
    points = [start]
    for axis in range(len(start)):
        point = start.copy()
        point[axis] = point[axis] + step if point[axis] + step <= 1.0 else point[axis] - step
        points.append(point)
    return np.array(points)


# --- the simulator as the function to optimise -------------------------------------------------------


@dataclass(frozen=True)
class _PolicyPoint:
    """One candidate policy to simulate against the base's kept run (plain data: it may travel to
    a worker)."""

    shared: SharedBase
    changes: Mapping[str, Any]
    objective: str
    metrics: tuple[str, ...]


def _simulate_point(point: _PolicyPoint) -> PointResult:
    from simlib.run.shared import compare_with_base

    # Only the candidate runs: the base was simulated once for the whole search (same numbers as
    # a paired run; the base's totals are computed once per process).
    comparison = compare_with_base(point.shared, point.shared.scenario.with_changes(point.changes))
    totals = comparison.reform.totals()
    objective = (totals[point.objective] - comparison.baseline.totals()[point.objective]).to_numpy(
        dtype=float
    )
    return PointResult(objective, {m: float(totals[m].mean()) for m in point.metrics})


def _integer_lever(base: Scenario, path: str) -> bool:
    value: Any = base.as_dict()
    for part in split_key_path(path):
        value = value[part]
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class PolicyOptimum:
    """An optimum of the simulator: the :class:`Optimum` plus the optimal scenario."""

    optimum: Optimum
    base: Scenario
    scenario: Scenario
    settings: Mapping[str, Any]

    def yaml_diff(self) -> str:
        """The optimal policy as a scenario file extending the base: only the levers change."""
        data = self.scenario.as_dict()
        diff: dict[str, Any] = {}
        if self.base.path is not None:
            diff["extends"] = self.base.path.name
        diff["name"] = self.scenario.name
        diff["label"] = data["label"]  # plain data: a mapping when given per language
        for lever in self.optimum.levers:
            parts = split_key_path(lever.path)
            # A lever inside a list (fee_changes[0]...) takes the whole list: lists merge whole.
            stop = next((i for i, p in enumerate(parts) if isinstance(p, int)), len(parts))
            keys = parts[: max(stop, 1)] if stop < len(parts) else parts
            source, target = data, diff
            for key in keys[:-1]:
                source = source[key]
                target = target.setdefault(key, {})
            target[keys[-1]] = source[keys[-1]]
        lines = [
            f"# Optimised by simlib optimize: {self.optimum.objective} maximised over "
            + ", ".join(f"{lever.path} in [{lever.low:g}, {lever.high:g}]" for lever in self.optimum.levers),
            f"# {self.optimum.evaluations} paired evaluations at "
            + ", ".join(f"{k} {v}" for k, v in self.settings.items()),
        ]
        return "\n".join(lines) + "\n" + yaml.safe_dump(diff, sort_keys=False, allow_unicode=True)

    def save(self, folder: str | Path) -> Path:
        """Write ``optimum.yaml`` (the scenario diff), ``trace.csv``, ``constraints.csv`` and
        ``optimum.json``; refuses a non-empty folder."""
        folder = check_output_folder(folder)
        if self.base.path is not None:
            # The diff extends the base by file name: place a copy of the base path beside it.
            diff = self.yaml_diff().replace(
                f"extends: {self.base.path.name}", f"extends: {json.dumps(str(self.base.path.resolve()))}"
            )
        else:
            diff = self.yaml_diff()
        write_atomic(folder / "optimum.yaml", lambda p: Path(p).write_text(diff, encoding="utf-8"))
        write_atomic(folder / "trace.csv", lambda p: self.optimum.trace.to_csv(p, index=False))
        table = self.optimum.constraint_table()
        write_atomic(folder / "constraints.csv", lambda p: table.to_csv(p, index=False))
        mean, low, high = self.optimum.objective_estimate
        record = {
            "objective": self.optimum.objective,
            "estimate": {"mean": mean, "low": low, "high": high},
            "levers": {
                lever.path: value
                for lever, value in zip(self.optimum.levers, self.optimum.values, strict=True)
            },
            "feasible": self.optimum.feasible,
            "evaluations": self.optimum.evaluations,
            "settings": dict(self.settings),
            "base_fingerprint": self.base.fingerprint(),
        }
        write_atomic(folder / "optimum.json", lambda p: Path(p).write_text(json.dumps(record, indent=2)))
        return folder


def check_levers(base: Scenario, levers: Sequence[Lever]) -> list[Lever]:
    """Every lever's key path and both ends of its range checked against the schema (all
    problems at once); integer parameters marked so the search moves in whole numbers."""
    if not levers:
        raise InputError("give at least one --lever KEY.PATH=LOW:HIGH")
    checked = []
    problems = []
    for lever in levers:
        try:
            integer = _integer_lever(base, lever.path)
        except (KeyError, IndexError, TypeError):
            integer = False
        for value in (lever.low, lever.high):
            try:
                base.with_changes({lever.path: int(value) if integer else value}, origin="--lever")
            except ScenarioError as exc:
                problems += exc.problems
                break
        checked.append(Lever(lever.path, lever.low, lever.high, integer))
    if problems:
        raise ScenarioError(problems)
    return checked


def optimise_policy(
    base: Scenario,
    levers: Sequence[Lever],
    *,
    objective: str = "npv_net_revenue",
    max_complaints_per_1000: float | None = None,
    max_monthly_churn: float | None = None,
    customers: int | None = None,
    months: int | None = None,
    replications: int | None = None,
    seed: int | None = None,
    grid_points: int = 7,
    workers: int | None = 1,
    scheduler: str | None = None,
) -> PolicyOptimum:
    """Find the lever values that maximise ``objective`` (paired difference to ``base``) under
    the complaint and churn limits. Every lever is checked against the schema before anything runs.
    """
    if objective not in OBJECTIVES:
        raise InputError(f"--objective must be one of {', '.join(OBJECTIVES)} (got {objective!r})")
    checked = check_levers(base, levers)
    constraints = [
        Constraint(name, CONSTRAINT_METRICS[name], limit)
        for name, limit in (
            ("max_complaints_per_1000", max_complaints_per_1000),
            ("max_monthly_churn", max_monthly_churn),
        )
        if limit is not None
    ]
    size = {
        k: v
        for k, v in (
            ("customers", customers),
            ("months", months),
            ("replications", replications),
            ("seed", seed),
        )
        if v is not None
    }
    metrics = ("complaints_per_1000", "monthly_churn_rate")

    def changes(x: tuple[float, ...]) -> dict[str, Any]:
        return {lever.path: (int(v) if lever.integer else v) for lever, v in zip(checked, x, strict=True)}

    from simlib.run.runner import RunSettings
    from simlib.run.shared import simulate_base

    settings = RunSettings.resolve(base, **size)
    with open_executor(workers, scheduler) as executor:
        # The base is simulated once (its chunks on the pool); every candidate is compared with it.
        shared = simulate_base(base, settings, executor)

        def evaluate(x: tuple[float, ...]) -> PointResult:
            return _simulate_point(_PolicyPoint(shared, changes(x), objective, metrics))

        def map_points(_: Callable, xs: list) -> list:
            return list(
                executor.map(
                    _simulate_point, [_PolicyPoint(shared, changes(x), objective, metrics) for x in xs]
                )
            )

        optimum = maximise(
            evaluate,
            checked,
            constraints,
            grid_points=grid_points,
            map_points=map_points,
            objective=objective,
        )
    scenario = base.with_changes(changes(optimum.values)).with_changes(
        {
            "name": f"{base.name}_optimised",
            "label": f"{base.label or base.name}, levers optimised for {objective}",
        }
    )
    settings = {"customers": customers, "months": months, "replications": replications, "seed": seed}
    return PolicyOptimum(optimum, base, scenario, {k: v for k, v in settings.items() if v is not None})
