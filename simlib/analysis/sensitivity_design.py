"""The factors of a sensitivity analysis and their designs: which parameters are varied over which
ranges (a distribution's 5th–95th percentiles, a documented range to try, or a given range; a joint
block as one factor along its principal direction), checked before anything runs, and the Sobol',
Morris and one-at-a-time (tornado) sample points over them."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import BaseModel

from simlib.analysis.sweep import is_integer_parameter, parse_range
from simlib.errors import InputError, Problem, ScenarioError
from simlib.model.distributions import SCALAR_DISTRIBUTIONS
from simlib.model.parameters import schema_extra
from simlib.scenario.scenario import Scenario
from simlib.scenario.schema import locate
from simlib.scenario.uncertainty import (
    PRINCIPAL_RANGE,
    block_index,
    block_label,
    block_path,
    joint_paths,
    principal_direction,
)

PERCENTILES = (0.05, 0.95)
"""Range of a parameter given as a distribution: its 5th and 95th percentiles. The central 90% is
the coverage of every interval simlib reports; it keeps the unbounded tails of normal and log-normal
distributions out, and the indices then say which assumptions matter over their plausible range."""
ORIGIN = "sensitivity"
"""How error lines and ``with_changes`` name a value the analysis sets."""


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
    found = locate(scenario.model, key)
    if isinstance(found, str):
        return None
    leaf = isinstance(found.value, SCALAR_DISTRIBUTIONS) or not isinstance(
        found.value, BaseModel | tuple | dict
    )
    return (found.path, found.value) if found.path and leaf else None


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
        if found is not None and isinstance(found[1], SCALAR_DISTRIBUTIONS):
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


def bounds_problem(bounds: Any) -> str | None:
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
                base.with_changes({key: bounds[0] if bounds_problem(bounds) is None else 0.0}, origin=ORIGIN)
            except ScenarioError as exc:
                problems += exc.problems
                continue
            problems.append(Problem(ORIGIN, key, f"is not a single numeric parameter of {base.name}"))
            continue
        path, value = found
        distribution = value if isinstance(value, SCALAR_DISTRIBUTIONS) else None
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
        shown = bounds_problem(bounds)
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
    shown = bounds_problem((low, high))
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


def check_problem(problem: Mapping[str, Any], seed: int) -> None:
    """Refuse a malformed SALib problem or design seed, one line naming what is wrong."""
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise InputError(f"the design seed must be a non-negative whole number (got {seed!r})")
    names, bounds = problem.get("names", []), problem.get("bounds", [])
    if not names or problem.get("num_vars") != len(names) or len(bounds) != len(names):
        raise InputError("a problem needs num_vars, and as many names and bounds")
    for name, pair in zip(names, bounds, strict=True):
        shown = bounds_problem(tuple(pair))
        if shown:
            raise InputError(f"{name}: {shown}")


def sobol_design(problem: dict, n: int, seed: int, second_order: bool) -> np.ndarray:
    """The Saltelli design of ``n`` base samples (a power of 2), scrambled with ``seed``."""
    from SALib.sample import sobol

    check_problem(problem, seed)
    if n < 2 or n & (n - 1):
        raise InputError(f"Sobol' samples must be a power of 2, at least 2 (got {n})")
    return sobol.sample(problem, n, calc_second_order=second_order, scramble=True, seed=seed)


def morris_design(problem: dict, trajectories: int, levels: int, seed: int) -> np.ndarray:
    """The Morris design of ``trajectories`` one-at-a-time trajectories on ``levels`` grid levels."""
    from SALib.sample import morris

    check_problem(problem, seed)
    if trajectories < 2:
        raise InputError(f"Morris screening needs at least 2 trajectories (got {trajectories})")
    if levels < 2 or levels % 2:
        raise InputError(f"Morris levels must be an even number, at least 2 (got {levels})")
    return morris.sample(problem, trajectories, num_levels=levels, seed=seed)


def tornado_design(parameters: Sequence[UncertainParameter]) -> np.ndarray:
    """Row 0: every parameter at its centre; then per parameter, it at its low and at its high end."""
    centre = np.array([p.centre for p in parameters])
    rows = [centre]
    for index, parameter in enumerate(parameters):
        for bound in (parameter.low, parameter.high):
            row = centre.copy()
            row[index] = bound
            rows.append(row)
    return np.array(rows)
