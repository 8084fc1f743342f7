"""The generic core of a sensitivity analysis: Sobol' indices and Morris screening of any function of
the parameters, by SALib, with bootstrap confidence intervals. Testable without the simulator."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from simlib.analysis.sensitivity_design import morris_design, sobol_design
from simlib.errors import InputError

BOOTSTRAP_RESAMPLES = 100
CONFIDENCE = 0.95
"""Bootstrap resamples and confidence level of the ``*_conf`` half-widths (SALib's defaults)."""
SOBOL_COLUMNS = ("S1", "S1_conf", "ST", "ST_conf")
MORRIS_COLUMNS = ("mu", "mu_star", "mu_star_conf", "sigma")
#: The index each method ranks parameters by.
RANKED_BY = {"sobol": "ST", "morris": "mu_star"}


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


def evaluate(
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


def bootstrap_seed(seed: int) -> int:
    """The bootstrap's seed: SALib's Sobol' analysis treats a seed of 0 as "no seed", so one more."""
    return seed + 1


def sobol_analysis(
    problem: dict, samples: np.ndarray, outputs: np.ndarray, seed: int, second_order: bool
) -> IndexEstimate:
    """Sobol' indices per output column, with bootstrap half-widths; a constant output has every index 0."""
    from SALib.analyze import sobol

    names = list(problem["names"])
    tables, pairs = [], []
    for column in outputs.T:
        if np.ptp(column) == 0.0:  # no variance to apportion: SALib would divide by zero
            tables.append(pd.DataFrame(0.0, index=pd.Index(names, name="parameter"), columns=SOBOL_COLUMNS))
            pairs.append(_pairs(names, np.zeros((len(names),) * 2), np.zeros((len(names),) * 2)))
            continue
        result = sobol.analyze(
            problem,
            column,
            calc_second_order=second_order,
            num_resamples=BOOTSTRAP_RESAMPLES,
            conf_level=CONFIDENCE,
            seed=bootstrap_seed(seed),
        )
        frame = pd.DataFrame({c: np.asarray(result[c], dtype=float) for c in SOBOL_COLUMNS}, index=names)
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


def morris_analysis(
    problem: dict, samples: np.ndarray, outputs: np.ndarray, levels: int, seed: int
) -> IndexEstimate:
    """Morris elementary-effect statistics per output column, with bootstrap half-widths."""
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
            seed=bootstrap_seed(seed),
        )
        frame = pd.DataFrame({c: np.asarray(result[c], dtype=float) for c in MORRIS_COLUMNS})
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
    samples = sobol_design(problem, n, seed, second_order)
    outputs = evaluate(function, samples, executor)
    return sobol_analysis(problem, samples, outputs, seed, second_order)


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
    samples = morris_design(problem, trajectories, levels, seed)
    outputs = evaluate(function, samples, executor)
    return morris_analysis(problem, samples, outputs, levels, seed)
