"""Global sensitivity analysis: which uncertain assumptions the decision actually depends on.

This module owns the question "if we are wrong about this behavioural parameter, does the answer
change?". It defines the problem (every parameter of a scenario given as a distribution, over its
5th–95th percentile range, or ranges the caller gives), draws the design and computes the indices
with SALib — Sobol' first- and total-order indices (Saltelli's scheme) or Morris elementary-effect
screening — plus the classic one-at-a-time tornado, and returns a :class:`SensitivityResult` with a
ranked table, charts, provenance and ``save``.

The decision is a comparison, so with a reform the outputs are paired differences reform − base of
metrics of :meth:`simlib.run.results.Comparison.summary`; without one, the base's own levels. At each
sample point both scenarios get the same fixed parameter values and are simulated on the same seed
(common random numbers); the model output is the mean over replications. Points are evaluated in
submission order on :func:`simlib.run.executors.open_executor`, so results do not depend on ``workers``
or ``scheduler``.

The generic core (:func:`sobol_indices`, :func:`morris_screening`) takes any function of the
parameters and is testable without the simulator; :func:`run_sensitivity` builds on the same steps.
"""

from __future__ import annotations

import difflib
import json
import math
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Executor
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel
from tqdm.auto import tqdm

from simlib.analysis.sweep import SHARE_METRICS, is_integer_parameter, parse_range
from simlib.errors import InputError, Problem, ScenarioError
from simlib.files import check_output_folder, write_atomic
from simlib.keypaths import split_key_path
from simlib.model.distributions import Beta, LogNormal, Normal, Triangular, Uniform
from simlib.model.parameters import schema_extra
from simlib.run.executors import describe, open_executor
from simlib.run.metrics import COSTS
from simlib.run.results import SUMMARY_METRICS
from simlib.run.runner import RunSettings, compare, simulate
from simlib.scenario.scenario import Scenario, load
from simlib.scenario.uncertainty import (
    FIELD,
    PRINCIPAL_RANGE,
    block_index,
    block_label,
    block_path,
    hold_blocks,
    joint_paths,
    principal_direction,
)

METHODS = ("sobol", "morris")
PERCENTILES = (0.05, 0.95)
"""Range of a parameter given as a distribution: its 5th and 95th percentiles. The central 90% is
the coverage of every interval simlib reports; it keeps the unbounded tails of normal and log-normal
distributions out, and the indices then say which assumptions matter over their plausible range."""
BOOTSTRAP_RESAMPLES = 100
CONFIDENCE = 0.95
"""Bootstrap resamples and confidence level of the ``*_conf`` half-widths (SALib's defaults)."""
ORIGIN = "sensitivity"
_DISTRIBUTIONS = (Uniform, Triangular, Normal, LogNormal, Beta)
_SOBOL_COLUMNS = ("S1", "S1_conf", "ST", "ST_conf")
_MORRIS_COLUMNS = ("mu", "mu_star", "mu_star_conf", "sigma")
_RANKED_BY = {"sobol": "ST", "morris": "mu_star"}


# --------------------------------------------------------------------------- problem definition


@dataclass(frozen=True)
class UncertainParameter:
    """One parameter of the analysis.

    Attributes
    ----------
    path : canonical key path (``behaviour.loss_aversion``, ``population.segments[0].churn_alpha``).
    low, high : the range varied over, in ``unit``.
    centre : where the tornado holds it while another parameter moves: the distribution's median
        for a parameter given as a distribution (when inside the range), else the midpoint (the
        median of the uniform the indices assume).
    label, unit : from the scenario schema.
    basis : where the range comes from (a distribution's percentiles, or given).
    """

    path: str
    low: float
    high: float
    centre: float
    label: str
    unit: str
    basis: str


def _locate(scenario: Scenario, key: str) -> tuple[str, Any] | None:
    """The canonical path of ``key`` and the value there, or None if it is not a leaf parameter.

    List items may be numbered or named (``population.segments.light.churn_alpha``).
    """
    node: Any = scenario.model
    walked = ""
    for part in split_key_path(key):
        if isinstance(node, tuple):
            names = [getattr(item, "name", None) for item in node]
            if part.isdigit() and int(part) < len(node):
                index = int(part)
            elif part in names:
                index = names.index(part)
            else:
                return None
            node, walked = node[index], f"{walked}[{index}]"
        elif isinstance(node, BaseModel) and not isinstance(node, _DISTRIBUTIONS):
            if part not in type(node).model_fields:
                return None
            node, walked = getattr(node, part), f"{walked}.{part}" if walked else part
        else:
            return None
    leaf = isinstance(node, _DISTRIBUTIONS) or not isinstance(node, BaseModel | tuple | dict)
    return (walked, node) if walked and leaf else None


def uncertain_parameters(scenario: Scenario) -> dict[str, tuple[float, float]]:
    """Every parameter of ``scenario`` given as a distribution, with its 5th–95th percentile range,
    then every joint block (``joint_uncertainty[i]``) as one factor: its principal score over the
    5th–95th percentiles of the standard normal (see :func:`simlib.scenario.uncertainty.principal_direction`).

    Parameters
    ----------
    scenario : a loaded scenario.

    Returns
    -------
    dict
        ``{key path: (low, high)}`` in schema order, in each parameter's unit (see
        ``simlib describe``). The central 90% (:data:`PERCENTILES`) matches the coverage of simlib's
        intervals and keeps unbounded tails out of the design.
    """
    ranges: dict[str, tuple[float, float]] = {}
    for parameter in scenario.parameters():
        found = _locate(scenario, parameter.path)
        if found is not None and isinstance(found[1], _DISTRIBUTIONS):
            low, high = (float(found[1].quantile(p)) for p in PERCENTILES)
            ranges[parameter.path] = (low, high)
    for index in range(len(scenario.model.joint_uncertainty)):
        ranges[block_path(index)] = PRINCIPAL_RANGE
    return ranges


def parse_parameters(items: Sequence[str]) -> dict[str, tuple[float, float] | None]:
    """Parse ``key.path=low:high`` strings (command line); a bare ``key.path`` asks for the range of
    that parameter's distribution (``None``).

    Raises
    ------
    InputError
        A malformed range or bounds that are not numbers with ``low < high`` (one line naming it).
    """
    parsed: dict[str, tuple[float, float] | None] = {}
    for text in items:
        if "=" in text:
            key, (low, high) = parse_range(text)
            parsed[key] = (float(low), float(high))
        else:
            parsed[text.strip()] = None
    return parsed


def salib_problem(parameters: Sequence[UncertainParameter] | Mapping[str, tuple[float, float]]) -> dict:
    """The SALib problem dict (``num_vars``, ``names``, ``bounds``): each parameter uniform on its range."""
    if isinstance(parameters, Mapping):
        names, bounds = list(parameters), [[float(lo), float(hi)] for lo, hi in parameters.values()]
    else:
        names, bounds = [p.path for p in parameters], [[p.low, p.high] for p in parameters]
    return {"num_vars": len(names), "names": names, "bounds": bounds}


def _bounds_problem(bounds: Any) -> str | None:
    try:
        low, high = bounds
    except (TypeError, ValueError):
        return f"a range is two numbers (low, high) (got {bounds!r})"
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (low, high)):
        return f"the bounds must be numbers (got {low!r}:{high!r})"
    if not (math.isfinite(low) and math.isfinite(high)):
        return f"the bounds must be finite (got {low}:{high})"
    if not low < high:
        return f"the low bound must be below the high bound (got {low}:{high})"
    return None


def resolve_parameters(
    base: Scenario,
    reform: Scenario | None = None,
    parameters: Mapping[str, tuple[float, float] | None] | Sequence[str] | None = None,
) -> list[UncertainParameter]:
    """Check the parameters of an analysis and describe them (labels, units, centres).

    Parameters
    ----------
    base, reform : the scenarios; every parameter must be the same in both (a shared assumption,
        not what the reform changes).
    parameters : ``None`` for every distribution of ``base`` over its 5th–95th percentiles; or
        ``{key.path: (low, high)}`` (``None`` instead of a range: that distribution's range); or
        strings ``key.path=low:high`` / ``key.path``.

    Raises
    ------
    ScenarioError
        Every problem at once, one line each naming the key path: an unknown key, a path that is
        not a single numeric parameter, a bad range, a bound the schema rejects, a whole-number
        parameter, a parameter the reform changes.
    InputError
        No parameters, or a malformed ``key.path=low:high`` string.
    """
    if parameters is None:
        given: dict[str, tuple[float, float] | None] = dict.fromkeys(uncertain_parameters(base))
        if not given:
            raise InputError(
                f"{base.name} gives no parameter as a distribution; pass parameters={{key.path: (low, high)}}"
            )
    elif isinstance(parameters, Mapping):
        given = dict(parameters)
    elif isinstance(parameters, str):
        given = parse_parameters([parameters])
    else:
        given = parse_parameters(list(parameters))
    if not given:
        raise InputError("a sensitivity analysis needs at least one parameter")
    described = {p.path: p for p in base.parameters()}
    other = {p.path: p for p in reform.parameters()} if reform is not None else {}
    problems: list[Problem] = []
    out: list[UncertainParameter] = []
    drawn = joint_paths(base.model)
    for key, bounds in given.items():
        index = block_index(base.model, key)
        if index is not None:
            found_block = _joint_factor(base, reform, index, bounds, [p.path for p in out])
            if isinstance(found_block, str):
                problems.append(Problem(ORIGIN, key, found_block))
            else:
                out.append(found_block)
            continue
        found = _locate(base, key)
        if found is not None and found[0] in drawn:
            problems.append(
                Problem(
                    ORIGIN,
                    key,
                    f"is drawn jointly in {drawn[found[0]]}; vary the block as a whole "
                    f"({drawn[found[0]].split(' ')[0]})",
                )
            )
            continue
        if found is None or found[0] not in described:
            try:  # the schema's own one-line message (unknown key, with the closest valid one)
                base.with_changes({key: bounds[0] if _bounds_problem(bounds) is None else 0.0}, origin=ORIGIN)
            except ScenarioError as exc:
                problems += exc.problems
                continue
            problems.append(Problem(ORIGIN, key, f"is not a single numeric parameter of {base.name}"))
            continue
        path, value = found
        distribution = value if isinstance(value, _DISTRIBUTIONS) else None
        judged = schema_extra(path).get("try_range") if distribution is None else None
        if bounds is None and distribution is None and judged is None:
            problems.append(
                Problem(
                    ORIGIN, key, f"is not a distribution in {base.name}; give its range as {key}=low:high"
                )
            )
            continue
        if bounds is None and distribution is not None:
            bounds = tuple(float(distribution.quantile(p)) for p in PERCENTILES)
            basis = f"5th–95th percentiles of {described[path].value}"
        elif bounds is None and judged is not None:
            # A value set by judgement: the range its documentation says to try (docs/model.md §10).
            relative = bool(schema_extra(path).get("try_relative")) and isinstance(value, int | float)
            bounds = tuple(float(b) * (float(value) if relative else 1.0) for b in judged)
            basis = "range to try, from its documentation"
        else:
            basis = "given range"
        shown = _bounds_problem(bounds)
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if shown is None and not (number or value is None or distribution is not None):
            shown = f"is not a numeric parameter (value {value!r})"
        if shown is None and is_integer_parameter(path):
            shown = "takes whole numbers; a sensitivity analysis varies parameters continuously"
        if shown is None and path in (p.path for p in out):
            shown = "is given twice"
        if shown is None and reform is not None:
            if path not in other:
                shown = f"is not a parameter of {reform.name}"
            elif other[path].value != described[path].value:
                shown = (
                    f"differs between {base.name} ({described[path].value}) and {reform.name} "
                    f"({other[path].value}): it is what the reform changes, not a shared assumption"
                )
        if shown is not None:
            problems.append(Problem(ORIGIN, key, shown))
            continue
        low, high = float(bounds[0]), float(bounds[1])
        rejected = []
        for scenario in (base, reform) if reform is not None else (base,):
            for bound in (low, high):
                try:
                    scenario.with_changes({path: bound}, origin=ORIGIN)
                except ScenarioError as exc:
                    rejected += [p for p in exc.problems if str(p) not in {str(r) for r in rejected}]
        if rejected:
            problems += rejected
            continue
        median = float(distribution.quantile(0.5)) if distribution is not None else None
        centre = median if median is not None and low <= median <= high else (low + high) / 2
        parameter = described[path]
        out.append(UncertainParameter(path, low, high, centre, parameter.label, parameter.unit, basis))
    if problems:
        raise ScenarioError(problems)
    return out


def _joint_factor(
    base: Scenario,
    reform: Scenario | None,
    index: int,
    bounds: tuple[float, float] | None,
    taken: list[str],
) -> UncertainParameter | str:
    """Block ``index`` of the base as one factor of the analysis (its principal score), or why not."""
    path = block_path(index)
    block = base.model.joint_uncertainty[index]
    if path in taken:
        return "is given twice"
    if reform is not None and block not in reform.model.joint_uncertainty:
        return (
            f"is not a block of {reform.name} as well: a joint block is varied as a shared assumption, "
            "the same in both scenarios"
        )
    low, high = PRINCIPAL_RANGE if bounds is None else bounds
    shown = _bounds_problem((low, high))
    if shown is not None:
        return shown
    direction = principal_direction(base.model, index)
    scale = "logarithms of " if direction.log_scale else ""
    basis = (
        f"principal direction of the {scale}{', '.join(direction.paths)} "
        f"({direction.explained:.1%} of their standardised variance), "
        + ("5th–95th percentiles" if bounds is None else "given range")
    )
    return UncertainParameter(
        path,
        float(low),
        float(high),
        0.0,
        block_label(block, index),
        "sd along the principal direction",
        basis,
    )


# --------------------------------------------------------------------------- generic core


@dataclass(frozen=True, eq=False)
class IndexEstimate:
    """Indices of one design and its outputs.

    Attributes
    ----------
    method : ``"sobol"`` or ``"morris"``.
    samples : the design, one row per evaluation, one column per parameter (problem order).
    outputs : the function's values, one row per evaluation, one column per output.
    tables : per output column, a frame indexed by parameter (problem order): Sobol' ``S1``,
        ``S1_conf``, ``ST``, ``ST_conf`` (shares of the output's variance, dimensionless; ``*_conf``
        the half-width of the 95% bootstrap interval), or Morris ``mu``, ``mu_star``,
        ``mu_star_conf``, ``sigma`` (the output's change over a parameter's whole range, in the
        output's unit).
    second_order : Sobol' with ``second_order=True``: per output, ``S2`` and ``S2_conf`` indexed by
        parameter pairs; otherwise None.
    """

    method: str
    samples: np.ndarray
    outputs: np.ndarray
    tables: tuple[pd.DataFrame, ...]
    second_order: tuple[pd.DataFrame, ...] | None = None


def _evaluate(
    function: Callable[[np.ndarray], Any],
    samples: np.ndarray,
    executor: Executor | None,
    progress: bool = False,
    description: str = "",
) -> np.ndarray:
    """Outputs as (rows, outputs): ``function(samples)`` once (vectorised) when there is no executor,
    else ``function(row)`` per row through ``executor.map`` (results in submission order)."""
    if executor is None:
        values = np.asarray(function(samples), dtype=float)
    else:
        rows = executor.map(function, list(samples))
        bar = tqdm(
            rows, total=len(samples), unit=" points", desc=description, disable=not progress, leave=False
        )
        values = np.array([np.atleast_1d(np.asarray(row, dtype=float)) for row in bar])
    if values.ndim == 1:
        values = values[:, None]
    if values.ndim != 2 or values.shape[0] != len(samples):
        raise InputError(
            f"the function returned shape {values.shape} for {len(samples)} sample rows; without an "
            "executor it is called once on the whole sample and must return one value (or row) per row"
        )
    return values


def _check_problem(problem: Mapping[str, Any], seed: int) -> None:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise InputError(f"the design seed must be a non-negative whole number (got {seed!r})")
    names, bounds = problem.get("names", []), problem.get("bounds", [])
    if not names or problem.get("num_vars") != len(names) or len(bounds) != len(names):
        raise InputError("a problem needs num_vars, and as many names and bounds")
    for name, pair in zip(names, bounds, strict=True):
        shown = _bounds_problem(tuple(pair))
        if shown:
            raise InputError(f"{name}: {shown}")


def _sobol_design(problem: dict, n: int, seed: int, second_order: bool) -> np.ndarray:
    from SALib.sample import sobol

    _check_problem(problem, seed)
    if n < 2 or n & (n - 1):
        raise InputError(f"Sobol' samples must be a power of 2, at least 2 (got {n})")
    return sobol.sample(problem, n, calc_second_order=second_order, scramble=True, seed=seed)


def _morris_design(problem: dict, trajectories: int, levels: int, seed: int) -> np.ndarray:
    from SALib.sample import morris

    _check_problem(problem, seed)
    if trajectories < 2:
        raise InputError(f"Morris screening needs at least 2 trajectories (got {trajectories})")
    if levels < 2 or levels % 2:
        raise InputError(f"Morris levels must be an even number, at least 2 (got {levels})")
    return morris.sample(problem, trajectories, num_levels=levels, seed=seed)


def _bootstrap_seed(seed: int) -> int:
    """The bootstrap's seed: SALib's Sobol' analysis treats a seed of 0 as "no seed", so one more."""
    return seed + 1


def _sobol_analysis(
    problem: dict, samples: np.ndarray, outputs: np.ndarray, seed: int, second_order: bool
) -> IndexEstimate:
    from SALib.analyze import sobol

    names = list(problem["names"])
    tables, pairs = [], []
    for column in outputs.T:
        if np.ptp(column) == 0.0:  # no variance to apportion: SALib would divide by zero
            tables.append(pd.DataFrame(0.0, index=pd.Index(names, name="parameter"), columns=_SOBOL_COLUMNS))
            pairs.append(_pairs(names, np.zeros((len(names),) * 2), np.zeros((len(names),) * 2)))
            continue
        result = sobol.analyze(
            problem,
            column,
            calc_second_order=second_order,
            num_resamples=BOOTSTRAP_RESAMPLES,
            conf_level=CONFIDENCE,
            seed=_bootstrap_seed(seed),
        )
        frame = pd.DataFrame({c: np.asarray(result[c], dtype=float) for c in _SOBOL_COLUMNS}, index=names)
        frame.index.name = "parameter"
        tables.append(frame)
        if second_order:
            pairs.append(_pairs(names, result["S2"], result["S2_conf"]))
    return IndexEstimate("sobol", samples, outputs, tuple(tables), tuple(pairs) if second_order else None)


def _pairs(names: list[str], s2: np.ndarray, conf: np.ndarray) -> pd.DataFrame:
    rows = [
        (names[j], names[k], float(s2[j, k]), float(conf[j, k]))
        for j in range(len(names))
        for k in range(j + 1, len(names))
    ]
    frame = pd.DataFrame(rows, columns=["parameter", "other", "S2", "S2_conf"])
    return frame.set_index(["parameter", "other"])


def _morris_analysis(
    problem: dict, samples: np.ndarray, outputs: np.ndarray, levels: int, seed: int
) -> IndexEstimate:
    from SALib.analyze import morris

    tables = []
    for column in outputs.T:
        result = morris.analyze(
            problem,
            samples,
            np.ascontiguousarray(column),
            num_resamples=BOOTSTRAP_RESAMPLES,
            conf_level=CONFIDENCE,
            num_levels=levels,
            seed=_bootstrap_seed(seed),
        )
        frame = pd.DataFrame({c: np.asarray(result[c], dtype=float) for c in _MORRIS_COLUMNS})
        frame.index = pd.Index(problem["names"], name="parameter")
        tables.append(frame)
    return IndexEstimate("morris", samples, outputs, tuple(tables))


def sobol_indices(
    function: Callable[[np.ndarray], Any],
    problem: dict,
    n: int,
    seed: int,
    executor: Executor | None = None,
    *,
    second_order: bool = False,
) -> IndexEstimate:
    """Sobol' first- and total-order indices by SALib (Saltelli's scheme, scrambled Sobol' sequence).

    Parameters
    ----------
    function : without ``executor``, called once with the whole design (rows × parameters) and
        returning one value, or one row of outputs, per row (vectorised); with an ``executor``,
        called per row (a 1-D array of parameter values) through ``executor.map`` — then it must be
        picklable (a module-level function or a ``functools.partial`` of one).
    problem : SALib problem dict (see :func:`salib_problem`); each parameter uniform on its bounds.
    n : base sample size, a power of 2; the design has ``n·(D+2)`` rows (``n·(2D+2)`` with
        ``second_order``) for ``D`` parameters.
    seed : seed of the design's scrambling; the bootstrap of the confidence intervals uses
        ``seed + 1``. Same inputs, same numbers.
    executor : where rows are evaluated (see :func:`simlib.run.executors.open_executor`).
    second_order : also estimate second-order indices ``S2``.

    Returns
    -------
    IndexEstimate
        ``S1``, ``S1_conf``, ``ST``, ``ST_conf`` per output (``*_conf``: half-width of the 95%
        bootstrap interval). A constant output has every index 0.
    """
    samples = _sobol_design(problem, n, seed, second_order)
    outputs = _evaluate(function, samples, executor)
    return _sobol_analysis(problem, samples, outputs, seed, second_order)


def morris_screening(
    function: Callable[[np.ndarray], Any],
    problem: dict,
    trajectories: int,
    levels: int,
    seed: int,
    executor: Executor | None = None,
) -> IndexEstimate:
    """Morris elementary-effects screening by SALib.

    Parameters
    ----------
    function, executor : as in :func:`sobol_indices`.
    problem : SALib problem dict (see :func:`salib_problem`).
    trajectories : number of one-at-a-time trajectories ``r``; the design has ``r·(D+1)`` rows.
    levels : grid levels per parameter (even); a step moves a parameter by
        ``levels / (2·(levels − 1))`` of its range.
    seed : seed of the trajectories; the bootstrap of ``mu_star_conf`` uses ``seed + 1``.

    Returns
    -------
    IndexEstimate
        Per output ``mu`` (mean elementary effect), ``mu_star`` (mean absolute effect: importance),
        ``mu_star_conf`` (half-width of its 95% bootstrap interval) and ``sigma`` (spread of the
        effects: non-linearity or interactions), each in the output's unit per whole range of the
        parameter: for a linear ``y = Σ cᵢ·xᵢ``, ``mu_star = |cᵢ|·(highᵢ − lowᵢ)``.
    """
    samples = _morris_design(problem, trajectories, levels, seed)
    outputs = _evaluate(function, samples, executor)
    return _morris_analysis(problem, samples, outputs, levels, seed)


# --------------------------------------------------------------------------- the simulator as a function


def output_units(outputs: Sequence[str], currency: str, paired: bool) -> dict[str, str]:
    """Unit of each output (a difference has its metric's unit).

    Raises
    ------
    InputError
        No outputs, or an unknown one (with the closest known name).
    """
    known = {name: unit for name, (_, unit) in SUMMARY_METRICS.items()}
    known.update(dict.fromkeys(COSTS, "{cur}"))
    if paired:
        known.update(dict.fromkeys(SHARE_METRICS, "share of customers"))
    if not outputs:
        raise InputError("a sensitivity analysis needs at least one output")
    for name in outputs:
        if name not in known:
            guess = difflib.get_close_matches(str(name), list(known), n=1, cutoff=0.6)
            hint = f"; did you mean {guess[0]}?" if guess else ""
            needs = " (it needs a reform)" if name in SHARE_METRICS else ""
            raise InputError(f"unknown output {name!r}{needs}{hint}")
    if len(set(outputs)) != len(outputs):
        raise InputError(f"an output is given twice: {list(outputs)}")
    return {name: known[name].replace("{cur}", currency) for name in outputs}


@dataclass(frozen=True)
class _Model:
    """Everything a worker needs to evaluate a point (scenarios pickle)."""

    base: Scenario
    reform: Scenario | None
    keys: tuple[str, ...]
    outputs: tuple[str, ...]
    customers: int
    months: int
    replications: int
    seed: int


def _evaluate_point(model: _Model, values: np.ndarray) -> tuple[float, ...]:
    """The outputs at one point: the mean over replications of each metric (paired difference
    reform − base with a reform), both scenarios with these parameter values and the same seed."""
    changes = {key: float(value) for key, value in zip(model.keys, values, strict=True)}
    scores = {
        int(key[len(FIELD) + 1 : -1]): changes.pop(key) for key in list(changes) if key.startswith(FIELD)
    }
    sizes = {
        "customers": model.customers,
        "months": model.months,
        "replications": model.replications,
        "seed": model.seed,
        "workers": 1,
        "progress": False,
    }
    base = model.base.with_changes({**changes, **_held(model.base, model.base, scores)}, origin=ORIGIN)
    if model.reform is None:
        totals = simulate(base, **sizes).totals()
        return tuple(float(totals[name].mean()) for name in model.outputs)
    reform = model.reform.with_changes({**changes, **_held(model.base, model.reform, scores)}, origin=ORIGIN)
    comparison = compare(base, reform, **sizes)
    differences = comparison.differences()
    shares = (
        comparison.winners_losers().loc["all segments"] if set(model.outputs) & set(SHARE_METRICS) else {}
    )
    return tuple(
        float(shares[name]) if name in SHARE_METRICS else float(differences[name].mean())
        for name in model.outputs
    )


def _held(base: Scenario, scenario: Scenario, scores: Mapping[int, float]) -> dict[str, Any]:
    """The changes holding the base's blocks at their principal scores in ``scenario`` (the base or
    the reform, whose equal block may sit at another index)."""
    if not scores:
        return {}
    blocks = scenario.model.joint_uncertainty
    mine = {blocks.index(base.model.joint_uncertainty[index]): score for index, score in scores.items()}
    return hold_blocks(scenario.model, mine)


def _tornado_design(parameters: Sequence[UncertainParameter]) -> np.ndarray:
    """Row 0: every parameter at its centre; then per parameter, it at its low and at its high end."""
    centre = np.array([p.centre for p in parameters])
    rows = [centre]
    for index, parameter in enumerate(parameters):
        for bound in (parameter.low, parameter.high):
            row = centre.copy()
            row[index] = bound
            rows.append(row)
    return np.array(rows)


# --------------------------------------------------------------------------- result


@contextmanager
def _style() -> Iterator[None]:
    """The project's chart style (simlib.style.charts): fonts, palette, spines, grid."""
    from simlib.style.charts import LATIN_FONT, ChartBook

    with ChartBook((LATIN_FONT,)).style():
        yield


def _tidy(ax: Any) -> None:
    """The style on axes made elsewhere too: no top/right spines, light grid along the values."""
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(True, axis="x", alpha=0.25)
    ax.grid(False, axis="y")


@dataclass(frozen=True, eq=False)
class SensitivityResult:
    """The outcome of :func:`run_sensitivity`.

    Attributes
    ----------
    method : ``"sobol"`` or ``"morris"``.
    parameters : the parameters varied, in problem order, with ranges, centres, labels and units.
    outputs : the outputs analysed; with a reform each is the paired difference reform − base.
    units : unit of each output.
    paired : whether there is a reform.
    table : ranked indices and tornado ends, see :meth:`summary`.
    samples : the design and its outputs, one row per model evaluation (``design`` is the method's
        name for the sample points, ``tornado`` for the one-at-a-time points; ``varied`` is ``centre`` or
        ``key.path=low|high`` for a tornado point).
    centre : each output with every parameter at its centre.
    settings : the provenance (see :meth:`provenance`).
    """

    method: str
    parameters: tuple[UncertainParameter, ...]
    outputs: tuple[str, ...]
    units: Mapping[str, str]
    paired: bool
    table: pd.DataFrame
    samples: pd.DataFrame
    centre: Mapping[str, float]
    settings: Mapping[str, Any]

    def summary(self, output: str | None = None) -> pd.DataFrame:
        """The ranked table (a copy), for one output or all (index ``output``, ``parameter``).

        Per parameter, most important first (Sobol': total-order ``ST``; Morris: ``mu_star``):
        ``rank``, ``label``, ``unit``, the range ``low``/``high`` and ``centre`` in that unit, the
        indices (Sobol' ``S1``, ``S1_conf``, ``ST``, ``ST_conf``: shares of the output's variance;
        Morris ``mu``, ``mu_star``, ``mu_star_conf``, ``sigma``: in the output's unit per whole
        range), the tornado's ``output_at_low``/``output_at_high`` and ``swing`` (their absolute
        difference), and ``output_unit``.
        """
        return self.table.copy() if output is None else self.table.loc[self._output(output)].copy()

    def _output(self, output: str | None) -> str:
        if output is None:
            return self.outputs[0]
        if output not in self.outputs:
            raise InputError(f"unknown output {output!r}; this analysis has {', '.join(self.outputs)}")
        return output

    def _axis_label(self, output: str) -> str:
        return f"{'Δ ' if self.paired else ''}{output} ({self.units[output]})"

    def _what(self, output: str) -> str:
        return f"{output}, reform − base" if self.paired else output

    def tornado(self, output: str | None = None, ax: Any = None):
        """One-at-a-time tornado: the output with each parameter at the low and at the high end of
        its range, the others at their centres (medians); bars sorted by swing, largest on top.

        Returns the axes (on a new :class:`matplotlib.figure.Figure` when ``ax`` is None).
        """
        from simlib.style.charts import BASELINE_COLOUR, PALETTE

        output = self._output(output)
        rows = self.table.loc[output].sort_values("swing", ascending=False, kind="mergesort")
        centre = self.centre[output]
        with _style():
            if ax is None:
                ax = _figure(height=1.4 + 0.42 * len(rows)).subplots()
            positions = np.arange(len(rows))
            # Each end in its own half of the row: when both ends move the output the same way
            # (a non-monotone effect, or Monte Carlo noise), neither bar hides the other.
            for offset, column, colour, end in (
                (-0.19, "output_at_low", PALETTE[0], "low"),
                (0.19, "output_at_high", PALETTE[1], "high"),
            ):
                ax.barh(
                    positions + offset,
                    rows[column].to_numpy() - centre,
                    left=centre,
                    height=0.36,
                    color=colour,
                    label=f"parameter at the {end} end of its range",
                )
            ax.axvline(
                centre,
                color=BASELINE_COLOUR,
                linewidth=0.8,
                label=f"every parameter at its median: {centre:,.4g}",
            )
            ticks = [f"{path}\n{r.low:.3g}–{r.high:.3g} {r.unit}" for path, r in rows.iterrows()]
            ax.set_yticks(positions, ticks, fontsize=7)
            ax.set_ylim(len(rows) - 0.5, -0.5)
            ax.set_xlabel(self._axis_label(output))
            ax.set_title(f"Tornado: {self._what(output)}")
            ax.legend(loc="best", fontsize=7)
            _tidy(ax)
        return ax

    def plot(self, ax: Any = None, output: str | None = None):
        """Bar chart of the indices with their 95% bootstrap intervals, most important on top:
        Sobol' first-order and total-order, or Morris ``mu_star`` and ``sigma``.

        Returns the axes (on a new :class:`matplotlib.figure.Figure` when ``ax`` is None).
        """
        from simlib.style.charts import PALETTE

        output = self._output(output)
        rows = self.table.loc[output]
        if self.method == "sobol":
            bars = (("S1", "S1_conf", "first order S1"), ("ST", "ST_conf", "total order ST"))
            xlabel = f"share of the variance of {self._what(output)}"
        else:
            bars = (("mu_star", "mu_star_conf", "mu* (importance)"), ("sigma", None, "sigma (interactions)"))
            xlabel = f"effect over the whole range on {self._axis_label(output)}"
        with _style():
            if ax is None:
                ax = _figure(height=1.4 + 0.42 * len(rows)).subplots()
            positions = np.arange(len(rows))
            for index, (column, conf, label) in enumerate(bars):
                ax.barh(
                    positions + (index - 0.5) * 0.38,
                    rows[column],
                    height=0.38,
                    xerr=None if conf is None else rows[conf],
                    color=PALETTE[index],
                    label=label,
                    capsize=2,
                    error_kw={"linewidth": 0.8},
                )
            ax.set_yticks(positions, list(rows.index), fontsize=7)
            ax.set_ylim(len(rows) - 0.5, -0.5)
            ax.set_xlabel(xlabel)
            ax.set_title(f"{'Sobol′ indices' if self.method == 'sobol' else 'Morris screening'}: {output}")
            ax.legend(loc="best", fontsize=7)
            _tidy(ax)
        return ax

    def provenance(self) -> dict[str, Any]:
        """Method, sample size, number of model evaluations, seeds, run sizes, parameters and
        their ranges, outputs and units, base and reform fingerprints, versions."""
        return json.loads(json.dumps(dict(self.settings)))

    def save(self, folder: str | Path, overwrite: bool = False) -> Path:
        """Write ``sensitivity.csv`` (the ranked table), ``samples.csv`` (design and outputs),
        ``tornado.png``, ``indices.png`` (one panel per output) and ``sensitivity.json``
        (provenance; written last, so its presence marks a complete save).

        Refuses a folder that already holds files unless ``overwrite`` is set; each file is
        written atomically.
        """
        folder = check_output_folder(folder, overwrite)
        table, samples = self.table, self.samples
        write_atomic(folder / "sensitivity.csv", lambda p: table.to_csv(p))
        write_atomic(folder / "samples.csv", lambda p: samples.to_csv(p, index=False))
        for name, draw in (("tornado.png", self.tornado), ("indices.png", self.plot)):
            with _style():
                figure = _figure(height=(1.4 + 0.42 * len(self.parameters)) * len(self.outputs))
                axes = figure.subplots(len(self.outputs), 1, squeeze=False)[:, 0]
            for ax, output in zip(axes, self.outputs, strict=True):
                draw(output=output, ax=ax)
            write_atomic(folder / name, lambda p, f=figure: f.savefig(p, format="png", dpi=150))
        provenance = json.dumps(self.provenance(), indent=2)
        write_atomic(folder / "sensitivity.json", lambda p: Path(p).write_text(provenance))
        return folder


def _figure(height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(7.6, max(height, 2.5)), layout="constrained", dpi=110)


def _ranked_table(
    estimate: IndexEstimate,
    parameters: Sequence[UncertainParameter],
    outputs: Sequence[str],
    units: Mapping[str, str],
    tornado_outputs: np.ndarray,
) -> pd.DataFrame:
    """The per-output tables joined with labels, ranges and the tornado's outputs (rows as from
    :func:`_tornado_design`), ranked within output."""
    columns = _SOBOL_COLUMNS if estimate.method == "sobol" else _MORRIS_COLUMNS
    parts = []
    for index, output in enumerate(outputs):
        frame = pd.DataFrame(
            {
                "label": [p.label for p in parameters],
                "unit": [p.unit for p in parameters],
                "low": [p.low for p in parameters],
                "high": [p.high for p in parameters],
                "centre": [p.centre for p in parameters],
            },
            index=pd.Index([p.path for p in parameters], name="parameter"),
        )
        frame = frame.join(estimate.tables[index][list(columns)])
        frame["output_at_low"] = tornado_outputs[1::2, index]
        frame["output_at_high"] = tornado_outputs[2::2, index]
        frame["swing"] = np.abs(frame["output_at_high"] - frame["output_at_low"])
        frame["output_unit"] = units[output]
        frame = frame.sort_values(_RANKED_BY[estimate.method], ascending=False, kind="mergesort")
        frame.insert(0, "rank", np.arange(1, len(frame) + 1))
        parts.append(frame)
    return pd.concat(parts, keys=list(outputs), names=["output", "parameter"])


def _samples_frame(
    method: str,
    parameters: Sequence[UncertainParameter],
    outputs: Sequence[str],
    design: np.ndarray,
    tornado: np.ndarray,
    values: np.ndarray,
) -> pd.DataFrame:
    varied = ["centre"] + [f"{p.path}={end}" for p in parameters for end in ("low", "high")]
    frame = pd.DataFrame(
        {
            "design": [method] * len(design) + ["tornado"] * len(tornado),
            "varied": [""] * len(design) + varied,
        }
    )
    points = np.vstack([design, tornado])
    for index, parameter in enumerate(parameters):
        frame[parameter.path] = points[:, index]
    for index, output in enumerate(outputs):
        frame[output] = values[:, index]
    return frame


def run_sensitivity(
    base: Scenario | str | os.PathLike,
    reform: Scenario | str | os.PathLike | None = None,
    *,
    parameters: Mapping[str, tuple[float, float] | None] | Sequence[str] | None = None,
    outputs: Sequence[str] = ("npv_net_revenue",),
    method: str = "sobol",
    samples: int = 64,
    levels: int = 4,
    seed: int = 0,
    customers: int | None = None,
    months: int | None = None,
    replications: int | None = None,
    sim_seed: int | None = None,
    workers: int | None = 1,
    scheduler: str | None = None,
    progress: bool = True,
) -> SensitivityResult:
    """Global sensitivity of the decision's outputs to the uncertain parameters.

    Every input is checked before anything runs. Each sample point fixes the parameters at its
    values in both scenarios (``with_changes`` replaces a distribution by the number), compares
    them with :func:`simlib.run.runner.compare` on the same seed (common random numbers) and takes the
    mean over replications. Points run in parallel, in submission order: the numbers do not depend
    on ``workers`` or ``scheduler``, and the same inputs give identical numbers.

    Parameters
    ----------
    base : the base scenario or its file.
    reform : the reform, or None to analyse the base's own levels.
    parameters : None for every parameter the base gives as a distribution, over its 5th–95th
        percentile range; or ``{key.path: (low, high)}`` in the parameter's unit (``None`` for the
        distribution's range); or strings ``key.path=low:high`` / ``key.path``. Each is varied
        uniformly over its range. Parameters not listed keep their value or distribution.
    outputs : metrics of :meth:`simlib.run.results.Comparison.summary` (paired differences reform −
        base with a reform), e.g. ``npv_net_revenue`` (currency), ``net_revenue`` (currency),
        ``complaints_per_1000`` (per 1,000/month), ``monthly_churn_rate`` (share/month).
    method : ``"sobol"`` (first- and total-order indices; ``samples`` is the base sample size N, a
        power of 2, for ``N·(D+2)`` evaluations) or ``"morris"`` (screening; ``samples`` is the
        number of trajectories r, for ``r·(D+1)`` evaluations). The tornado adds ``2D+1``.
    samples : N (Sobol') or trajectories (Morris).
    levels : Morris grid levels (even).
    seed : seed of the design; the bootstrap uses ``seed + 1``.
    customers, months, replications : run sizes; default the base's ``simulation`` section.
    sim_seed : simulation seed shared by every point and both scenarios; default the base's.
    workers : points evaluated at once in worker processes (0: one per core).
    scheduler : ``"local"`` or a Dask scheduler address (see :func:`simlib.run.executors.open_executor`).
    progress : show a progress bar over points.

    Returns
    -------
    SensitivityResult

    Raises
    ------
    ScenarioError
        Parameters that cannot be analysed (one line each, naming the key path); nothing is run.
    InputError
        Bad method, sizes, outputs or run settings; nothing is run.
    """
    base = base if isinstance(base, Scenario) else load(base)
    if reform is not None and not isinstance(reform, Scenario):
        reform = load(reform)
    if method not in METHODS:
        raise InputError(f"method must be one of {', '.join(METHODS)} (got {method!r})")
    outputs = tuple(outputs) if not isinstance(outputs, str) else (outputs,)
    units = output_units(outputs, base.simulation.currency, reform is not None)
    settings = RunSettings.resolve(base, customers, months, replications, sim_seed)
    if reform is not None:
        if [s.name for s in base.population.segments] != [s.name for s in reform.population.segments]:
            raise InputError("base and reform must have the same segments to be compared")
        RunSettings.resolve(reform, settings.customers, settings.months, settings.replications, settings.seed)
    described = resolve_parameters(base, reform, parameters)
    problem = salib_problem(described)
    if method == "sobol":
        design = _sobol_design(problem, int(samples), int(seed), second_order=False)
    else:
        design = _morris_design(problem, int(samples), int(levels), int(seed))
    tornado = _tornado_design(described)
    model = _Model(
        base,
        reform,
        tuple(p.path for p in described),
        outputs,
        settings.customers,
        settings.months,
        settings.replications,
        settings.seed,
    )
    points = np.vstack([design, tornado])
    # A point met twice (Morris trajectories cross on the grid; a tornado row may be a design point)
    # is simulated once: on common random numbers its outputs are the same both times.
    unique, inverse = np.unique(points, axis=0, return_inverse=True)
    with open_executor(workers, scheduler, kind="process") as executor:
        values = _evaluate(
            partial(_evaluate_point, model),
            unique,
            executor,
            progress,
            f"{method}: {len(unique)} points × {settings.replications} reps",
        )[np.asarray(inverse).reshape(-1)]
    found = values[: len(design)]
    if method == "sobol":
        estimate = _sobol_analysis(problem, design, found, int(seed), second_order=False)
    else:
        estimate = _morris_analysis(problem, design, found, int(levels), int(seed))
    from importlib.metadata import version

    from simlib import __version__

    provenance = {
        "method": method,
        "samples": int(samples),
        "samples_meaning": "base sample size N" if method == "sobol" else "trajectories",
        "levels": int(levels) if method == "morris" else None,
        "second_order": False if method == "sobol" else None,
        "evaluations": len(points),
        "design_evaluations": len(design),
        "tornado_evaluations": len(tornado),
        "points_simulated": len(unique),
        "seed": int(seed),
        "bootstrap_seed": _bootstrap_seed(int(seed)),
        "bootstrap_resamples": BOOTSTRAP_RESAMPLES,
        "confidence": CONFIDENCE,
        "customers": settings.customers,
        "months": settings.months,
        "replications": settings.replications,
        "sim_seed": settings.seed,
        "base": base.name,
        "base_fingerprint": base.fingerprint(),
        "reform": reform.name if reform is not None else None,
        "reform_fingerprint": reform.fingerprint() if reform is not None else None,
        "outputs": {name: {"unit": unit, "paired": reform is not None} for name, unit in units.items()},
        "parameters": [
            {
                "path": p.path,
                "low": p.low,
                "high": p.high,
                "centre": p.centre,
                "unit": p.unit,
                "basis": p.basis,
            }
            for p in described
        ],
        "executed_on": describe(workers, scheduler),
        "simlib_version": __version__,
        "salib_version": version("SALib"),
    }
    return SensitivityResult(
        method=method,
        parameters=tuple(described),
        outputs=outputs,
        units=units,
        paired=reform is not None,
        table=_ranked_table(estimate, described, outputs, units, values[len(design) :]),
        samples=_samples_frame(method, described, outputs, design, tornado, values),
        centre={name: float(values[len(design), index]) for index, name in enumerate(outputs)},
        settings=provenance,
    )


__all__ = [
    "IndexEstimate",
    "SensitivityResult",
    "UncertainParameter",
    "morris_screening",
    "output_units",
    "parse_parameters",
    "resolve_parameters",
    "run_sensitivity",
    "salib_problem",
    "sobol_indices",
    "uncertain_parameters",
]
