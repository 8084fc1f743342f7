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

The factors, their ranges and designs are in :mod:`simlib.analysis.sensitivity_design`; the generic
core (:func:`sobol_indices`, :func:`morris_screening`), which takes any function of the parameters
and is testable without the simulator, in :mod:`simlib.analysis.sensitivity_indices`; the result in
:mod:`simlib.analysis.sensitivity_result`. This module evaluates the simulator as that function and
runs the analysis (:func:`run_sensitivity`); every public name is importable from here.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np

from simlib.analysis.sensitivity_design import (
    ORIGIN,
    PERCENTILES,
    UncertainParameter,
    morris_design,
    parse_parameters,
    resolve_parameters,
    salib_problem,
    sobol_design,
    tornado_design,
    uncertain_parameters,
)
from simlib.analysis.sensitivity_indices import (
    BOOTSTRAP_RESAMPLES,
    CONFIDENCE,
    IndexEstimate,
    bootstrap_seed,
    evaluate,
    morris_analysis,
    morris_screening,
    sobol_analysis,
    sobol_indices,
)
from simlib.analysis.sensitivity_result import SensitivityResult, ranked_table, samples_frame
from simlib.analysis.sweep import SHARE_METRICS
from simlib.errors import InputError
from simlib.run.executors import describe, open_executor
from simlib.run.metrics import COSTS
from simlib.run.results import SUMMARY_METRICS
from simlib.run.runner import RunSettings, compare, simulate
from simlib.scenario.scenario import Scenario, load
from simlib.scenario.uncertainty import FIELD, hold_blocks

METHODS = ("sobol", "morris")


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
        design = sobol_design(problem, int(samples), int(seed), second_order=False)
    else:
        design = morris_design(problem, int(samples), int(levels), int(seed))
    tornado = tornado_design(described)
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
        values = evaluate(
            partial(_evaluate_point, model),
            unique,
            executor,
            progress,
            f"{method}: {len(unique)} points × {settings.replications} reps",
        )[np.asarray(inverse).reshape(-1)]
    found = values[: len(design)]
    if method == "sobol":
        estimate = sobol_analysis(problem, design, found, int(seed), second_order=False)
    else:
        estimate = morris_analysis(problem, design, found, int(levels), int(seed))
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
        "bootstrap_seed": bootstrap_seed(int(seed)),
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
        table=ranked_table(estimate, described, outputs, units, values[len(design) :]),
        samples=samples_frame(method, described, outputs, design, tornado, values),
        centre={name: float(values[len(design), index]) for index, name in enumerate(outputs)},
        settings=provenance,
    )


__all__ = [
    "BOOTSTRAP_RESAMPLES",
    "CONFIDENCE",
    "METHODS",
    "PERCENTILES",
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
