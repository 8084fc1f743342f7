"""The numbers a briefing states, computed once from a finished batch folder: no words, no HTML.

:class:`Evidence` reads a batch (manifest, comparison table, each run's paired per-replication
differences and monthly tables) and answers the questions page one of the briefing answers:

- what to do: the recommendation (:mod:`simlib.analysis.recommend`) under the manager's limits;
- what it gains and costs: paired differences to the baseline with 90% intervals;
- how sure we are: over the replications (each one draw of every uncertain assumption, shared by
  all policies), how often the recommended policy has the best objective among the policies that
  meet the limits, how often it beats the runner-up and the baseline, and the expected regret of
  choosing it (the mean, over replications, of what the best policy of that replication would have
  earned more);
- the margin against every limit;
- who pays: the share of customers whose bill rises by more than 5%, overall and by segment;
- why a result looks surprising: the paired decomposition of net revenue by kind, churn by cause
  and complaints by cause (:class:`Decomposition`), and rules that say which results a manager would
  not expect (:func:`surprises`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from simlib.analysis.recommend import Candidate, Check, Constraints, Recommendation, recommend
from simlib.batch.batch import BatchResult
from simlib.errors import InputError
from simlib.jupyter.execution import SUCCEEDED
from simlib.run.intervals import COVERAGE, interval
from simlib.run.metrics import CHURN_CAUSES, COMPLAINT_CAUSES, COSTS
from simlib.run.runner import WINNER_LOSER_THRESHOLD
from simlib.scenario.scenario import Scenario, from_dict

OBJECTIVES = ("npv_net_revenue", "net_revenue")

#: Net revenue by kind: what adds to it (+1) and what is taken from it (−1). Their paired
#: differences sum to the net revenue difference (docs/model.md §5).
REVENUE_KINDS: tuple[tuple[str, int], ...] = (
    ("revenue_recurring", +1),
    ("revenue_penalty", +1),
    ("revenue_setup", +1),
    ("revenue_early_termination", +1),
    ("goodwill_credit", -1),
    *((cost, -1) for cost in COSTS),
    ("fines", -1),
    ("overcharge_expected_fines", -1),
)
#: Sections of a scenario whose levers are meant to cut complaints and errors, not to earn more.
SERVICE_SECTIONS = ("transparency", "complaint_handling", "education", "audits", "billing")


@dataclass(frozen=True)
class Estimate:
    """A mean with its 90% interval, in the metric's unit."""

    mean: float
    low: float
    high: float

    @classmethod
    def of(cls, values: np.ndarray) -> Estimate:
        """The mean and the central interval of per-replication values."""
        values = np.asarray(values, dtype=float)
        low, high = interval(values)
        return cls(float(values.mean()), float(low), float(high))

    @property
    def above_zero(self) -> bool:
        return self.low > 0.0

    @property
    def below_zero(self) -> bool:
        return self.high < 0.0


@dataclass(frozen=True)
class Decomposition:
    """One policy's paired differences (policy − baseline, per replication) by kind and cause.

    revenue : net revenue by kind (currency), signed as they add to net revenue (a cost that grows
        is negative); they sum to the net revenue difference.
    churn : customers lost by cause (count).
    complaints : complaints by cause (count).
    """

    revenue: Mapping[str, Estimate]
    churn: Mapping[str, Estimate]
    complaints: Mapping[str, Estimate]
    churn_all_zero: bool  # every replication lost exactly the same customers to every cause
    complaints_all_zero: bool

    def largest(self, part: str, count: int = 2) -> list[tuple[str, Estimate]]:
        """The ``count`` items of ``part`` with the largest absolute mean, largest first (zeros left out)."""
        items = [(k, e) for k, e in getattr(self, part).items() if abs(e.mean) > 0.0]
        return sorted(items, key=lambda item: -abs(item[1].mean))[:count]


@dataclass(frozen=True)
class Confidence:
    """How sure the recommendation is, over the replications (each a draw of every uncertainty).

    probability_best : share of replications in which the chosen policy has the best objective of
        the policies that meet the limits (the baseline included).
    beats_runner_up, beats_baseline : share of replications in which it does better than the
        runner-up (None without one) and than keeping today's fees.
    expected_regret : mean over replications of (best objective of that replication − chosen's),
        in currency; 0 when it is the best in every replication.
    replications : how many replications the shares are out of.
    """

    probability_best: float
    beats_runner_up: float | None
    beats_baseline: float
    expected_regret: float
    replications: int


@dataclass(frozen=True)
class Surprise:
    """A result a manager would not expect, and which rule says so.

    kind : ``"no_behaviour_change"`` (churn and complaints exactly unchanged in every replication),
        ``"costs_outweigh"`` (revenue rises but costs and fines take more: net revenue falls, or the
        reverse), ``"complaints_rise"`` / ``"churn_rises"`` (a service policy, raising nobody's bill,
        raises complaints or churn beyond its interval).
    """

    policy: str
    kind: str


@dataclass(frozen=True)
class Policy:
    """One option of the decision: a reform of the batch, or the baseline (zero differences)."""

    name: str
    scenario: Scenario
    is_baseline: bool
    level: Mapping[str, Estimate]  # the policy's own level of each metric
    difference: Mapping[str, Estimate]  # paired difference to the baseline
    objective_draws: np.ndarray  # per replication, the objective's paired difference
    winners_by_segment: pd.DataFrame | None = field(default=None, compare=False)


class Evidence:
    """Everything a briefing states about a batch, as numbers.

    Parameters
    ----------
    batch_dir : a folder written by ``simlib batch``.
    constraints : limits the recommended policy must respect.
    objective : ``"npv_net_revenue"`` (default) or ``"net_revenue"``.
    """

    def __init__(
        self,
        batch_dir: str | Path,
        *,
        constraints: Constraints | None = None,
        objective: str = "npv_net_revenue",
    ):
        if objective not in OBJECTIVES:
            raise InputError(f"objective must be one of {', '.join(OBJECTIVES)} (got {objective!r})")
        self.folder = Path(batch_dir)
        self.batch = BatchResult(self.folder)
        self.manifest = self.batch.manifest
        self.constraints = constraints or Constraints()
        self.objective = objective
        self.runs = [r for r in self.manifest["runs"] if r["status"] == SUCCEEDED]
        if not self.runs:
            raise InputError(f"{self.folder}: no run of this batch succeeded, so there is nothing to brief")
        self.failed = [r for r in self.manifest["runs"] if r["status"] != SUCCEEDED]
        self.names = [r["scenario"] for r in self.runs]
        self.table = self.batch.comparison.set_index(["scenario", "metric"])
        self._check_same_baseline()
        first = self.folder / self.runs[0]["folder"]
        self.baseline_scenario = _scenario(first / "baseline" / "scenario.json")
        self.baseline_name = self.manifest["baseline"]["name"]
        self.differences = {
            r["scenario"]: pd.read_csv(self.folder / r["folder"] / "differences.csv", index_col=0)
            for r in self.runs
        }
        self._monthly: dict[str, pd.DataFrame] = {}
        self.policies: dict[str, Policy] = {self.baseline_name: self._baseline_policy()}
        for run in self.runs:
            self.policies[run["scenario"]] = self._reform_policy(run)
        self.recommendation: Recommendation = recommend(self.candidates(), self.constraints)

    # --- reading ----------------------------------------------------------------------------------

    def _check_same_baseline(self) -> None:
        """Every run must have simulated the same baseline on the same draws."""
        reference = self.table.xs(self.runs[0]["scenario"], level="scenario")["baseline_mean"].dropna()
        for run in self.runs[1:]:
            other = self.table.xs(run["scenario"], level="scenario")["baseline_mean"]
            if not np.array_equal(reference.to_numpy(), other.reindex(reference.index).to_numpy()):
                raise InputError(
                    f"{self.folder}: the runs did not share one baseline; brief each batch alone"
                )

    def _estimates(self, policy: str, prefix: str) -> dict[str, Estimate]:
        part = self.table.xs(policy, level="scenario")
        return {
            metric: Estimate(
                float(row[f"{prefix}_mean"]), float(row[f"{prefix}_low"]), float(row[f"{prefix}_high"])
            )
            for metric, row in part.iterrows()
        }

    @property
    def replications(self) -> int:
        return len(next(iter(self.differences.values())))

    def _baseline_policy(self) -> Policy:
        level = self._estimates(self.runs[0]["scenario"], "baseline")
        zero = Estimate(0.0, 0.0, 0.0)
        return Policy(
            self.baseline_name,
            self.baseline_scenario,
            True,
            level,
            {metric: zero for metric in level},
            np.zeros(self.replications),
        )

    def _reform_policy(self, run: Mapping) -> Policy:
        name = run["scenario"]
        folder = self.folder / run["folder"]
        segments = folder / "winners_losers.csv"
        return Policy(
            name,
            _scenario(folder / "reform" / "scenario.json"),
            False,
            self._estimates(name, "reform"),
            self._estimates(name, "difference"),
            self.differences[name][self.objective].to_numpy(dtype=float),
            pd.read_csv(segments).set_index("segment") if segments.exists() else None,
        )

    def monthly(self, policy: str) -> pd.DataFrame:
        """A policy's monthly table (replication, month, segment rows); the baseline's from the first
        run. Read once: the decomposition and three charts use it."""
        if policy not in self._monthly:
            if policy == self.baseline_name:
                path = self.folder / self.runs[0]["folder"] / "baseline" / "monthly.parquet"
            else:
                entry = next(r for r in self.runs if r["scenario"] == policy)
                path = self.folder / entry["folder"] / "reform" / "monthly.parquet"
            self._monthly[policy] = pd.read_parquet(path)
        return self._monthly[policy]

    # --- the decision -----------------------------------------------------------------------------

    def candidates(self) -> list[Candidate]:
        """The baseline and every succeeded policy, as the recommendation sees them."""
        out = []
        for policy in self.policies.values():
            out.append(
                Candidate(
                    policy.name,
                    policy.objective_draws,
                    policy.level["complaints_per_1000"].mean,
                    policy.level["complaints_per_1000"].high,
                    policy.level["monthly_churn_rate"].mean,
                    policy.level["monthly_churn_rate"].high,
                    policy.level["compliance_breaches"].mean,
                    is_baseline=policy.is_baseline,
                )
            )
        return out

    @property
    def chosen(self) -> Policy | None:
        name = self.recommendation.chosen
        return None if name is None else self.policies[name]

    @cached_property
    def confidence(self) -> Confidence | None:
        """How sure the choice is (None when no policy meets the limits)."""
        rec = self.recommendation
        if rec.chosen is None:
            return None
        feasible = np.vstack([self.policies[name].objective_draws for name in rec.ranking])
        chosen = self.policies[rec.chosen].objective_draws
        best = feasible.max(axis=0)
        # Ties (equal objectives in a replication, e.g. two policies that change nothing) count as best.
        runner_up = None
        if rec.runner_up is not None:
            runner_up = float(np.mean(chosen > self.policies[rec.runner_up].objective_draws))
        return Confidence(
            probability_best=float(np.mean(chosen >= best)),
            beats_runner_up=runner_up,
            beats_baseline=float(np.mean(chosen > 0.0)) if rec.chosen != self.baseline_name else 1.0,
            expected_regret=float(np.mean(best - chosen)),
            replications=len(chosen),
        )

    def checks(self, policy: str) -> tuple[Check, ...]:
        """Every limit checked for ``policy``: value, limit, met."""
        return self.recommendation.checks.get(policy, ())

    # --- who pays ---------------------------------------------------------------------------------

    def payers(self, policy: str) -> Estimate:
        """Share of compared customers whose bill rises by more than 5% (``WINNER_LOSER_THRESHOLD``)."""
        return self.policies[policy].level.get("losers_share", Estimate(0.0, 0.0, 0.0))

    def gainers(self, policy: str) -> Estimate:
        """Share of compared customers whose bill falls by more than 5%."""
        return self.policies[policy].level.get("winners_share", Estimate(0.0, 0.0, 0.0))

    def payers_by_segment(self, policy: str) -> pd.Series:
        """Per segment, the share of its customers whose bill rises by more than 5% (mean)."""
        table = self.policies[policy].winners_by_segment
        if table is None:
            return pd.Series(dtype=float)
        segments = [s.name for s in self.baseline_scenario.population.segments]  # not the total row
        return table["losers_share"].astype(float).reindex(segments).dropna()

    # --- why --------------------------------------------------------------------------------------

    def decomposition(self, policy: str) -> Decomposition:
        """Paired differences of ``policy`` by revenue kind, churn cause and complaint cause."""
        if policy == self.baseline_name:
            raise ValueError("the baseline has no difference to decompose")
        return self._decompositions[policy]

    @cached_property
    def _decompositions(self) -> dict[str, Decomposition]:
        base = _totals(self.monthly(self.baseline_name))
        out = {}
        for name in self.names:
            difference = _totals(self.monthly(name)) - base
            revenue = {
                kind: Estimate.of(sign * difference[kind].to_numpy())
                for kind, sign in REVENUE_KINDS
                if kind in difference
            }
            churn = {cause: Estimate.of(difference[cause].to_numpy()) for cause in CHURN_CAUSES}
            complaints = {cause: Estimate.of(difference[cause].to_numpy()) for cause in COMPLAINT_CAUSES}
            out[name] = Decomposition(
                revenue,
                churn,
                complaints,
                churn_all_zero=bool((difference[list(CHURN_CAUSES)] == 0).all().all()),
                complaints_all_zero=bool((difference[list(COMPLAINT_CAUSES)] == 0).all().all()),
            )
        return out

    def surprises(self) -> list[Surprise]:
        """The results a manager would not expect, by the rules of :class:`Surprise`, in batch order."""
        out = []
        for name in self.names:
            policy = self.policies[name]
            parts = self.decomposition(name)
            net, gross = policy.difference["net_revenue"], policy.difference["gross_revenue"]
            if parts.churn_all_zero and parts.complaints_all_zero:
                out.append(Surprise(name, "no_behaviour_change"))
            elif (gross.above_zero and net.below_zero) or (gross.below_zero and net.above_zero):
                out.append(Surprise(name, "costs_outweigh"))
            elif self._is_service_policy(name) and policy.difference["complaints_per_1000"].above_zero:
                out.append(Surprise(name, "complaints_rise"))
            elif self._is_service_policy(name) and policy.difference["monthly_churn_rate"].above_zero:
                out.append(Surprise(name, "churn_rises"))
        return out

    def _is_service_policy(self, name: str) -> bool:
        """A policy that changes only service levers (no fee) and raises almost nobody's bill."""
        changed = {change.split(".")[0].split("[")[0] for change in self._changed_paths(name)}
        return bool(changed) and changed <= set(SERVICE_SECTIONS) and self.payers(name).mean < 0.01

    def _changed_paths(self, name: str) -> list[str]:
        base = {p.path: p.value for p in self.baseline_scenario.parameters()}
        return [p.path for p in self.policies[name].scenario.parameters() if base.get(p.path) != p.value]

    # --- provenance -------------------------------------------------------------------------------

    @property
    def parameters(self) -> Mapping:
        """The batch's size: customers, months, replications, seed."""
        return self.manifest["parameters"]

    @property
    def coverage(self) -> float:
        return COVERAGE

    @property
    def currency(self) -> str:
        return self.baseline_scenario.simulation.currency

    def ordered(self) -> Sequence[str]:
        """Reforms in the order a reader meets them: the recommended first, then by objective."""
        rec = self.recommendation
        return sorted(
            self.names, key=lambda n: (n != rec.chosen, -self.policies[n].difference[self.objective].mean, n)
        )


def _scenario(path: Path) -> Scenario:
    import json

    data = json.loads(path.read_text())
    return from_dict(data, name=data.get("name", path.parent.name))


def _totals(monthly: pd.DataFrame) -> pd.DataFrame:
    """Per replication, every numeric column summed over months and segments."""
    numeric = monthly.select_dtypes("number").drop(columns=["month"], errors="ignore")
    return numeric.groupby(monthly["replication"]).sum().drop(columns=["replication"], errors="ignore")


__all__ = [
    "REVENUE_KINDS",
    "WINNER_LOSER_THRESHOLD",
    "Confidence",
    "Decomposition",
    "Estimate",
    "Evidence",
    "Policy",
    "Surprise",
]
