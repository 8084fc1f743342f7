"""A base scenario simulated once and compared with many variants on its draws.

A sweep, an optimisation or the explorer compares one base with many variants. Pairing each variant
with its own run of the base, as :func:`simlib.run.runner.compare` does, costs two runs per variant. But
every draw is keyed by (seed, replication, customer, month, purpose), and the base's warm-up and
rule actions do not depend on the variant, so the base's counts are the same in every paired run
with the same sizes and seed. :func:`simulate_base` therefore runs the base once and keeps, per
replication, its counts and rule actions and, per chunk, each initial customer's mean monthly charge
(what winners and losers are judged on). :func:`compare_with_base` then simulates only the variant
(its warm-up under the base's policy, as in ``compare``) and returns a :class:`Comparison` with
exactly the numbers ``compare(base, variant)`` gives (tests/test_sweep.py checks it).

The kept charges cost 9 bytes per customer and replication; above :data:`MAX_KEPT` customer ×
replications they are not kept and each comparison falls back to pairing (two runs, same numbers).
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field

import numpy as np

from simlib.errors import InputError
from simlib.model.engine import ChunkResult, RunPlan, chunk_bounds, simulate_chunk
from simlib.run import runner
from simlib.run.results import Comparison, SimulationResult
from simlib.run.runner import WINNER_LOSER_THRESHOLD, RunSettings
from simlib.scenario.scenario import Scenario

MAX_KEPT = 16_000_000
"""Customer × replications up to which the base's per-customer charges are kept (~144 MB)."""


@dataclass(frozen=True)
class _Charges:
    """One chunk of the base: each initial customer's mean monthly charge (cents; NaN if never
    active) and initial segment."""

    mean: np.ndarray
    segment: np.ndarray


@dataclass(frozen=True)
class SharedBase:
    """The base's run, kept to be compared with any number of variants.

    Attributes
    ----------
    scenario : the base scenario.
    settings : sizes and seed every variant is run with.
    counts : exact counts, (replication, month, segment, counted metric); money in cents.
    actions : the base's adjustment-rule actions, per replication.
    charges : per replication and chunk, the initial customers' mean monthly charges; None when the
        population is too large to keep them (comparisons are then paired runs).
    """

    scenario: Scenario
    settings: RunSettings
    counts: np.ndarray
    actions: tuple[tuple, ...]
    charges: tuple[tuple[_Charges, ...], ...] | None
    token: str = field(default_factory=lambda: uuid.uuid4().hex)

    def result(self) -> SimulationResult:
        """The base as a :class:`SimulationResult`, built once per process (its totals and summary
        are then computed once, however many variants are compared with it)."""
        cached = _RESULTS.get(self.token)
        if cached is None:
            cached = SimulationResult(
                self.scenario, self.counts, runner.run_info(self.scenario, self.settings, list(self.actions))
            )
            _RESULTS[self.token] = cached
            while len(_RESULTS) > 4:
                _RESULTS.popitem(last=False)
        return cached

    def models(self) -> list:
        """The base's realised model per replication (its distributions drawn), built once per
        process: every variant's warm-up runs under them."""
        cached = _MODELS.get(self.token)
        if cached is None:
            cached = [self.scenario.realise(r, self.settings.seed) for r in range(self.settings.replications)]
            _MODELS[self.token] = cached
            while len(_MODELS) > 4:
                _MODELS.popitem(last=False)
        return cached


_RESULTS: OrderedDict[str, SimulationResult] = OrderedDict()
_MODELS: OrderedDict[str, list] = OrderedDict()


def _chunk(plan: RunPlan, start: int, stop: int, track: bool) -> ChunkResult:
    """One chunk of one replication (a top-level function: it travels to worker processes)."""
    return simulate_chunk(plan, start, stop, track)


def _run(
    plans: Sequence[RunPlan],
    bounds: Sequence[tuple[int, int]],
    track: bool,
    executor: Executor | None,
) -> list[list[ChunkResult]]:
    """Every chunk of every plan, per plan in chunk order (in-process without an executor)."""
    jobs = [(plan, start, stop) for plan in plans for start, stop in bounds]
    if executor is None:
        flat = [_chunk(plan, start, stop, track) for plan, start, stop in jobs]
    else:
        flat = list(
            executor.map(
                _chunk,
                [j[0] for j in jobs],
                [j[1] for j in jobs],
                [j[2] for j in jobs],
                [track] * len(jobs),
            )
        )
    return [flat[i * len(bounds) : (i + 1) * len(bounds)] for i in range(len(plans))]


def _summed(chunks: Sequence[ChunkResult]) -> np.ndarray:
    """Chunk counts added in chunk order, as the runner adds them (the same sums, bit for bit)."""
    total = chunks[0].counts
    for chunk in chunks[1:]:
        total = total + chunk.counts
    return total


class _Totals:
    """What ``runner.resolve_rules`` reads from a replication's run: ``counts[0]``."""

    def __init__(self, counts: np.ndarray):
        self.counts = (counts,)


def _rules_executor(
    bounds: Sequence[tuple[int, int]], executor: Executor | None
) -> Callable[[list[tuple[RunPlan, ...]]], list[_Totals]]:
    def execute(plans_per_rep: list[tuple[RunPlan, ...]]) -> list[_Totals]:
        runs = _run([plans[0] for plans in plans_per_rep], bounds, False, executor)
        return [_Totals(_summed(chunks)) for chunks in runs]

    return execute


def simulate_base(base: Scenario, settings: RunSettings, executor: Executor | None = None) -> SharedBase:
    """Run ``base`` once with ``settings`` and keep what comparisons with it need.

    Parameters
    ----------
    base : the base scenario.
    settings : sizes and seed (:meth:`RunSettings.resolve`); every variant is run with them.
    executor : where the chunks run (e.g. a pool from :func:`simlib.run.executors.open_executor`);
        in this process if None. The numbers do not depend on it.
    """
    bounds = chunk_bounds(settings.customers, settings.chunk_size)
    reps = range(settings.replications)
    models = [[base.realise(r, settings.seed)] for r in reps]
    actions: list[list[tuple]] = [[()] for _ in reps]
    if base.adjustment_rules:
        actions, _ = runner.resolve_rules(models, 0, settings, actions, _rules_executor(bounds, executor))
    keep = settings.customers * settings.replications <= MAX_KEPT
    plans = [runner.run_plan(models[r], 0, settings, r, actions[r][0]) for r in reps]
    runs = _run(plans, bounds, keep, executor)
    charges = None
    if keep:
        charges = tuple(
            tuple(
                _Charges(
                    np.where(c.months_active > 0, c.charged_cents / np.maximum(c.months_active, 1), np.nan),
                    c.initial_segment.astype(np.int8 if c.counts.shape[1] < 128 else np.int64),
                )
                for c in chunks
            )
            for chunks in runs
        )
    shared = SharedBase(
        scenario=base,
        settings=settings,
        counts=np.stack([_summed(chunks) for chunks in runs]),
        actions=tuple(tuple(a[0]) for a in actions),
        charges=charges,
    )
    _MODELS[shared.token] = [m[0] for m in models]  # this process compares with it too, often
    return shared


def _winners_losers(base: _Charges, reform: ChunkResult, segments: int) -> np.ndarray:
    """Per segment: [customers compared, bill fell by more than 5%, bill rose by more than 5%];
    the same arithmetic as the runner's paired count, with the base's means kept from its run."""
    both = ~np.isnan(base.mean) & (reform.months_active > 0)
    mean_reform = reform.charged_cents / np.maximum(reform.months_active, 1)
    change = np.divide(mean_reform - base.mean, base.mean, out=np.zeros_like(base.mean), where=base.mean > 0)
    out = np.zeros((segments, 3))
    out[:, 0] = np.bincount(base.segment[both], minlength=segments)
    out[:, 1] = np.bincount(base.segment[both & (change < -WINNER_LOSER_THRESHOLD)], minlength=segments)
    out[:, 2] = np.bincount(base.segment[both & (change > WINNER_LOSER_THRESHOLD)], minlength=segments)
    return out


def compare_with_base(shared: SharedBase, variant: Scenario, executor: Executor | None = None) -> Comparison:
    """``compare(shared.scenario, variant)`` with the base's run reused: only the variant runs.

    Raises
    ------
    InputError
        The variant has other segments than the base, or cannot run with the base's settings.
    """
    base, settings = shared.scenario, shared.settings
    if [s.name for s in base.population.segments] != [s.name for s in variant.population.segments]:
        raise InputError("baseline and reform must have the same segments to be compared")
    RunSettings.resolve(variant, settings.customers, settings.months, settings.replications, settings.seed)
    if shared.charges is None:
        return runner.compare(
            base,
            variant,
            customers=settings.customers,
            months=settings.months,
            replications=settings.replications,
            seed=settings.seed,
            chunk_size=settings.chunk_size,
            progress=False,
        )
    bounds = chunk_bounds(settings.customers, settings.chunk_size)
    reps = range(settings.replications)
    base_models = shared.models()
    models = [[base_models[r], variant.realise(r, settings.seed)] for r in reps]
    actions: list[list[tuple]] = [[shared.actions[r], ()] for r in reps]
    if variant.adjustment_rules:
        actions, _ = runner.resolve_rules(models, 1, settings, actions, _rules_executor(bounds, executor))
    plans = [runner.run_plan(models[r], 1, settings, r, actions[r][1]) for r in reps]
    runs = _run(plans, bounds, True, executor)
    segments = shared.counts.shape[2]
    shares = []
    for rep, chunks in enumerate(runs):
        total = None
        for kept, chunk in zip(shared.charges[rep], chunks, strict=True):
            counted = _winners_losers(kept, chunk, segments)
            total = counted if total is None else total + counted
        shares.append(total)
    reform = SimulationResult(
        variant,
        np.stack([_summed(chunks) for chunks in runs]),
        runner.run_info(variant, settings, [a[1] for a in actions]),
    )
    return Comparison(shared.result(), reform, np.stack(shares))


__all__ = ["MAX_KEPT", "SharedBase", "compare_with_base", "simulate_base"]
