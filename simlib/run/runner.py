"""Running scenarios: replications, chunks, workers, adjustment rules, and the paired comparison.

The engine simulates one chunk of one replication. This module fans those out (in-process or on a
pool of worker processes), streams the per-chunk counts into per-replication totals, and iterates
the adjustment rules: a rule reacts to a population-wide metric, so a run is repeated from the
start with the rule's action scheduled until the actions it implies no longer change. Because every
draw is keyed by customer and month, the repeated runs agree up to the action month exactly.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor
from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm

from simlib.errors import InputError
from simlib.model.counts import INDEX
from simlib.model.engine import ChunkResult, RunPlan, chunk_bounds, simulate_chunk
from simlib.model.parameters import AdjustmentRule, ScenarioModel
from simlib.model.schedule import RuleAction
from simlib.run.executors import open_executor
from simlib.run.results import Comparison, RunInfo, SimulationResult
from simlib.scenario.scenario import Scenario

DEFAULT_CHUNK_SIZE = 65_536
WINNER_LOSER_THRESHOLD = 0.05


#: With ``workers=0`` a run smaller than this (customers × months × replications) stays in-process.
PARALLEL_FROM_CUSTOMER_MONTHS = 10_000_000
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunSettings:
    """Size and seed of a run (command-line / API overrides of ``simulation``)."""

    customers: int
    months: int
    replications: int
    seed: int
    chunk_size: int = DEFAULT_CHUNK_SIZE
    workers: int = 1

    @classmethod
    def resolve(
        cls,
        scenario: Scenario,
        customers: int | None = None,
        months: int | None = None,
        replications: int | None = None,
        seed: int | None = None,
        chunk_size: int | None = None,
        workers: int | None = None,
    ) -> RunSettings:
        sim = scenario.simulation
        customers = sim.customers if customers is None else int(customers)
        months = sim.months if months is None else int(months)
        replications = sim.replications if replications is None else int(replications)
        if workers == 0:
            # "One per core": worth it only when the run outlasts starting the pool (a worker loads
            # the compiled engine in ~1.5 s; the engine does ~3 M customer-months a second).
            work = customers * months * replications
            workers = (os.cpu_count() or 1) if work >= PARALLEL_FROM_CUSTOMER_MONTHS else 1
        settings = cls(
            customers=customers,
            months=months,
            replications=replications,
            seed=sim.seed if seed is None else int(seed),
            chunk_size=DEFAULT_CHUNK_SIZE if chunk_size is None else int(chunk_size),
            workers=1 if workers is None else int(workers),
        )
        limits = {"customers": 1_000_000_000, "months": 600, "replications": 100_000}
        for name in ("customers", "months", "replications", "chunk_size", "workers"):
            value = getattr(settings, name)
            if value < 1:
                raise InputError(f"{name} must be at least 1 (got {value})")
            if value > limits.get(name, value):
                raise InputError(f"{name} must be at most {limits[name]:,} (got {value:,})")
        if settings.seed < 0:
            raise InputError(f"seed must be non-negative (got {settings.seed})")
        last_change = max((c.month for c in scenario.fee_changes), default=0)
        if last_change >= settings.months:
            raise InputError(
                f"{scenario.name}: a fee change takes effect in month {last_change}, beyond the "
                f"{settings.months}-month horizon; use more months"
            )
        return settings


@dataclass(frozen=True)
class _Task:
    """One chunk of one replication, for one scenario or a paired baseline and reform."""

    plans: tuple[RunPlan, ...]
    start: int
    stop: int
    paired: bool


@dataclass(frozen=True)
class _TaskResult:
    """Counts per scenario, and (paired) the chunk's winners and losers: nothing per customer, so
    what a finished chunk leaves in memory does not grow with the population."""

    counts: tuple[np.ndarray, ...]
    winners_losers: np.ndarray | None


def _run_task(task: _Task, on_month: Callable[[], None] | None = None) -> _TaskResult:
    results = [simulate_chunk(plan, task.start, task.stop, task.paired, on_month) for plan in task.plans]
    shares = _winners_losers(results[0], results[1]) if task.paired else None
    return _TaskResult(tuple(r.counts for r in results), shares)


def _monitored(counts: np.ndarray, metric: str) -> np.ndarray:
    """A population-wide monthly metric from (month, segment, metric) counts."""
    total = counts.sum(axis=1)
    active = np.maximum(total[:, INDEX["active"]], 1.0)
    if metric == "complaints_per_1000":
        return total[:, INDEX["complaints"]] / active * 1000.0
    if metric == "monthly_churn_percent":
        return total[:, INDEX["churned"]] / active * 100.0
    return total[:, INDEX["complaints_escalated"]] / active * 100_000.0


def implied_actions(rules: Iterable[AdjustmentRule], counts: np.ndarray) -> tuple[RuleAction, ...]:
    """The rule actions a trajectory implies: a rule acts at the end of the month in which its
    metric has been above the threshold for ``for_months`` months in a row, and its change applies
    from the next month. After acting, the streak starts again."""
    actions: list[RuleAction] = []
    months = counts.shape[0]
    for rule in rules:
        series = _monitored(counts, rule.metric)
        streak = acted = 0
        for month in range(months - 1):
            streak = streak + 1 if series[month] > rule.above else 0
            if streak >= rule.for_months and acted < rule.max_times:
                actions.append(
                    RuleAction(rule.name, month + 1, rule.parameter, 1.0 + rule.change_percent / 100)
                )
                acted += 1
                streak = 0
    return tuple(sorted(actions, key=lambda a: (a.month, a.rule)))


def next_actions(current: tuple[RuleAction, ...], implied: tuple[RuleAction, ...]) -> tuple[RuleAction, ...]:
    """Keep the actions both agree on up to their first disagreement, then take the implied one
    there. The trajectory before that month is unaffected, so each iteration fixes one more month."""
    if current == implied:
        return current
    first = min(
        [a.month for a in set(current) ^ set(implied)],
        default=0,
    )
    return tuple(a for a in implied if a.month <= first)


class _Pool:
    """Runs chunk tasks in-process, on worker processes or on a Dask cluster; yields results in
    task order, so per-replication sums are added in the same order everywhere."""

    def __init__(self, workers: int, scheduler: str | None = None):
        self.workers = workers
        self.scheduler = scheduler
        self._context = None
        self._executor: Executor | None = None

    def __enter__(self) -> _Pool:
        if self.workers > 1 or self.scheduler:
            self._context = open_executor(self.workers, self.scheduler)
            self._executor = self._context.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._context is not None:
            self._context.__exit__(*exc)

    def map(self, tasks: list[_Task], on_month: Callable[[], None]) -> Iterator[tuple[_TaskResult, bool]]:
        """Results in task order, each with whether its months were already reported."""
        if self._executor is None:
            return ((_run_task(task, on_month), True) for task in tasks)
        return ((result, False) for result in self._executor.map(_run_task, tasks))


@dataclass
class ReplicationOutcome:
    """Per replication: counts for each scenario, rule actions, and winner/loser shares."""

    counts: list[np.ndarray]
    actions: list[tuple[RuleAction, ...]]
    winners_losers: np.ndarray | None = None


def run_replications(
    scenarios: list[Scenario],
    settings: RunSettings,
    progress: bool = True,
    scheduler: str | None = None,
) -> list[ReplicationOutcome]:
    """Simulate one or two scenarios (paired) for every replication.

    With two scenarios, each chunk task simulates both on the same customers and counts the
    chunk's winners and losers from each first-cohort customer's mean monthly charge in both runs.
    """
    bounds = chunk_bounds(settings.customers, settings.chunk_size)
    paired = len(scenarios) == 2
    models = [[s.realise(r, settings.seed) for s in scenarios] for r in range(settings.replications)]
    outcomes: list[ReplicationOutcome] = []
    months_per_chunk = settings.months + max(s.simulation.warm_up_months for s in scenarios)
    bar = tqdm(
        total=settings.replications * len(bounds) * len(scenarios) * months_per_chunk,
        unit=" chunk-months",
        desc=f"{settings.replications} reps × {len(bounds)} chunks × {settings.months} months",
        disable=not progress,
        leave=False,
        smoothing=0.1,
    )
    logger.info(
        "%s: %d replications × %d chunks × %d months (+%d warm-up) on %s",
        " vs ".join(s.name for s in scenarios),
        settings.replications,
        len(bounds),
        settings.months,
        months_per_chunk - settings.months,
        f"Dask ({scheduler})" if scheduler else f"{settings.workers} worker(s)",
    )
    with bar, _Pool(settings.workers, scheduler) as pool:

        def execute(plans_per_rep: list[tuple[RunPlan, ...]], paired: bool) -> list[_TaskResult]:
            """Run every chunk; return per replication the summed counts and winners/losers."""
            tasks = [_Task(plans, start, stop, paired) for plans in plans_per_rep for start, stop in bounds]
            totals: list[_TaskResult | None] = [None] * len(plans_per_rep)
            for index, (result, reported) in enumerate(pool.map(tasks, lambda: bar.update(1))):
                rep = index // len(bounds)
                totals[rep] = result if totals[rep] is None else _add(totals[rep], result)
                if not reported:
                    bar.update(len(result.counts) * months_per_chunk)
            return totals

        actions: list[list[tuple[RuleAction, ...]]] = [[() for _ in scenarios] for _ in models]
        for position, scenario in enumerate(scenarios):
            if scenario.adjustment_rules:
                actions, confirmed = resolve_rules(
                    models, position, settings, actions, lambda plans: execute(plans, False)
                )
                if not paired and len(confirmed) == len(models):
                    # A lone scenario's confirming run is its result: no need to run it again.
                    return [
                        ReplicationOutcome([confirmed[rep]], list(actions[rep])) for rep in range(len(models))
                    ]
        plans = [
            tuple(
                run_plan(models[rep], position, settings, rep, actions[rep][position])
                for position in range(len(scenarios))
            )
            for rep in range(len(models))
        ]
        for rep, total in enumerate(execute(plans, paired)):
            outcomes.append(ReplicationOutcome(list(total.counts), list(actions[rep]), total.winners_losers))
    return outcomes


def _add(a: _TaskResult, b: _TaskResult) -> _TaskResult:
    shares = None if a.winners_losers is None else a.winners_losers + b.winners_losers
    return _TaskResult(tuple(x + y for x, y in zip(a.counts, b.counts, strict=True)), shares)


def run_plan(
    models: list[ScenarioModel], position: int, settings: RunSettings, replication: int, actions: tuple
) -> RunPlan:
    """The run of scenario ``position``; a reform's warm-up runs under the baseline (position 0), so
    both runs reach month 0 with the same customers in the same state."""
    return RunPlan(
        models[position],
        settings.customers,
        settings.months,
        settings.seed,
        replication,
        actions,
        warm_up_model=models[0] if position > 0 else None,
    )


def resolve_rules(
    models: list[list[ScenarioModel]],
    position: int,
    settings: RunSettings,
    actions: list[list[tuple[RuleAction, ...]]],
    execute: Callable[[list[tuple[RunPlan, ...]]], list[_TaskResult]],
) -> tuple[list[list[tuple[RuleAction, ...]]], dict[int, np.ndarray]]:
    """Iterate one scenario's rule actions to their fixed point, for all replications at once.

    Returns the actions and, per replication, the counts of the run that confirmed them.
    """
    actions = [list(a) for a in actions]
    confirmed: dict[int, np.ndarray] = {}
    pending = list(range(len(models)))
    for _ in range(settings.months + 1):
        if not pending:
            break
        plans = [(run_plan(models[rep], position, settings, rep, actions[rep][position]),) for rep in pending]
        still: list[int] = []
        for rep, total in zip(pending, execute(plans), strict=True):
            counts = total.counts[0]
            implied = implied_actions(models[rep][position].adjustment_rules, counts)
            current = actions[rep][position]
            if implied != current:
                actions[rep][position] = next_actions(current, implied)
                still.append(rep)
            else:
                confirmed[rep] = counts
        pending = still
    return [tuple(a) for a in actions], confirmed


def _winners_losers(base: ChunkResult, reform: ChunkResult) -> np.ndarray:
    """Per segment: [customers compared, bill fell by more than 5%, bill rose by more than 5%].

    Compares each initial customer's mean monthly charge (bill, overcharges and penalties) over the
    months it was active in each run.
    """
    segments = base.counts.shape[1]
    both = (base.months_active > 0) & (reform.months_active > 0)
    mean_base = base.charged_cents / np.maximum(base.months_active, 1)
    mean_reform = reform.charged_cents / np.maximum(reform.months_active, 1)
    change = np.divide(mean_reform - mean_base, mean_base, out=np.zeros_like(mean_base), where=mean_base > 0)
    segment = base.initial_segment
    out = np.zeros((segments, 3))
    out[:, 0] = np.bincount(segment[both], minlength=segments)
    out[:, 1] = np.bincount(segment[both & (change < -WINNER_LOSER_THRESHOLD)], minlength=segments)
    out[:, 2] = np.bincount(segment[both & (change > WINNER_LOSER_THRESHOLD)], minlength=segments)
    return out


def _as_scenario(scenario: Scenario | str | os.PathLike) -> Scenario:
    from simlib.scenario.scenario import load

    return scenario if isinstance(scenario, Scenario) else load(scenario)


def run_info(scenario: Scenario, settings: RunSettings, actions: list) -> RunInfo:
    """Provenance of a run: the scenario's fingerprint, sizes, seed, version and rule actions."""
    from simlib import __version__

    return RunInfo(
        scenario=scenario.name,
        scenario_fingerprint=scenario.fingerprint(),
        customers=settings.customers,
        months=settings.months,
        replications=settings.replications,
        seed=settings.seed,
        chunk_size=settings.chunk_size,
        workers=settings.workers,
        simlib_version=__version__,
        rule_actions=[[vars(a) for a in rep] for rep in actions],
    )


def simulate(
    scenario: Scenario | str | os.PathLike,
    *,
    customers: int | None = None,
    months: int | None = None,
    replications: int | None = None,
    seed: int | None = None,
    chunk_size: int | None = None,
    workers: int | None = None,
    progress: bool = True,
    scheduler: str | None = None,
) -> SimulationResult:
    """Simulate a scenario month by month over Monte Carlo replications.

    Parameters
    ----------
    scenario : a :class:`Scenario` or the path of a scenario file.
    customers : initial customers (seats); default ``simulation.customers``.
    months : horizon in months; default ``simulation.months``.
    replications : Monte Carlo replications; default ``simulation.replications``.
    seed : random seed; default ``simulation.seed``.
    chunk_size : customers simulated together (memory bound, rounded up to whole service pools of
        4,096); default 65,536. Results do not depend on it.
    workers : worker processes; default 1; 0: one per core for runs of at least
        :data:`PARALLEL_FROM_CUSTOMER_MONTHS` customer-months, else 1. Results do not depend on it.
    progress : show a progress bar (months and chunks done, time left).
    scheduler : run the chunks on Dask: ``"local"`` starts a ``LocalCluster`` of ``workers``
        processes, an address (``tcp://host:8786``) uses a running cluster. Results do not depend
        on it.

    Returns
    -------
    SimulationResult
        Exact counts per replication × month × segment; money in the scenario's currency.

    Raises
    ------
    ScenarioError, InputError
        Invalid scenario or run settings (nothing is run).
    """
    scenario = _as_scenario(scenario)
    settings = RunSettings.resolve(scenario, customers, months, replications, seed, chunk_size, workers)
    outcomes = run_replications([scenario], settings, progress, scheduler)
    counts = np.stack([o.counts[0] for o in outcomes])
    return SimulationResult(scenario, counts, run_info(scenario, settings, [o.actions[0] for o in outcomes]))


def compare(
    baseline: Scenario | str | os.PathLike,
    reform: Scenario | str | os.PathLike,
    *,
    customers: int | None = None,
    months: int | None = None,
    replications: int | None = None,
    seed: int | None = None,
    chunk_size: int | None = None,
    workers: int | None = None,
    progress: bool = True,
    scheduler: str | None = None,
) -> Comparison:
    """Simulate a reform and its baseline on the same customers with the same random draws.

    Every customer's draws depend only on (seed, replication, customer, month, purpose), and the
    reform's warm-up runs under the baseline, so the two runs differ only through the policy.

    Parameters
    ----------
    baseline, reform : scenarios or paths; they must have the same segments.
    customers, months, replications, seed, chunk_size, workers, progress, scheduler : as in
        :func:`simulate`;
        sizes and seed default to the baseline's ``simulation`` section, and both runs share them.

    Returns
    -------
    Comparison
        Both results, paired per-replication differences (reform − baseline), winners and losers.
    """
    baseline, reform = _as_scenario(baseline), _as_scenario(reform)
    if [s.name for s in baseline.population.segments] != [s.name for s in reform.population.segments]:
        raise InputError("baseline and reform must have the same segments to be compared")
    settings = RunSettings.resolve(baseline, customers, months, replications, seed, chunk_size, workers)
    RunSettings.resolve(reform, settings.customers, settings.months, settings.replications, settings.seed)
    outcomes = run_replications([baseline, reform], settings, progress, scheduler)
    results = [
        SimulationResult(
            scenario,
            np.stack([o.counts[i] for o in outcomes]),
            run_info(scenario, settings, [o.actions[i] for o in outcomes]),
        )
        for i, scenario in enumerate((baseline, reform))
    ]
    return Comparison(results[0], results[1], np.stack([o.winners_losers for o in outcomes]))
