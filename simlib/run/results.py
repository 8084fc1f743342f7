"""Results as data: tidy monthly frames, per-replication totals, summaries with 90% intervals, plots.

A :class:`SimulationResult` holds the exact counts of a run (replication × month × segment × metric)
and derives everything else on demand. A :class:`Comparison` holds a baseline and a reform run on the
same customers with the same draws, so its per-replication differences are the policy's effect.
Intervals are the 5th–95th percentiles across replications: they include the Monte Carlo noise and
the parameter uncertainty of any behavioural parameter given as a distribution.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from simlib.files import check_output_folder, write_atomic
from simlib.model.counts import COUNTED, INDEX
from simlib.model.lifetime import discounted_months, posterior_renewals
from simlib.run.intervals import COVERAGE, interval
from simlib.run.metrics import derive, monthly_units
from simlib.run.parquet import write_parquet
from simlib.scenario.scenario import Scenario

SUMMARY_METRICS: dict[str, tuple[str, str]] = {
    "net_revenue": ("Net revenue over the horizon (overcharges excluded)", "{cur}"),
    "npv_net_revenue": ("Net present value of net revenue", "{cur}"),
    "gross_revenue": ("Gross revenue (overcharges excluded)", "{cur}"),
    "refunds": ("Refunds and goodwill credits", "{cur}"),
    "overcharges_collected": ("Overcharges collected (owed to customers, not revenue)", "{cur}"),
    "overcharges_refunded": ("… refunded after audits and complaints", "{cur}"),
    "overcharges_owed": ("… still owed to customers at the end, leavers' included", "{cur}"),
    "overcharges_expected_payout": ("… expected to be reclaimed or fined", "{cur}"),
    "overcharge_expected_fines": ("Expected fines beyond repaying overcharges (in net revenue)", "{cur}"),
    "total_cost": ("Operating costs of the policy levers", "{cur}"),
    "fines": ("Compliance fines", "{cur}"),
    "monthly_churn_rate": ("Average monthly churn rate", "share/month"),
    "complaints_per_1000": ("Complaints per 1,000 customers per month", "per 1,000/month"),
    "escalations_per_100000_per_quarter": (
        "Complaints escalated to the regulator per 100,000 customers per quarter",
        "per 100,000/quarter",
    ),
    "active_end": ("Active customers in the last month", "customers"),
    "acquired": ("New customers over the horizon", "customers"),
    "churned": ("Customers lost over the horizon", "customers"),
    "churned_baseline": ("… lost for personal reasons (baseline)", "customers"),
    "churned_price": ("… lost because the price exceeded what they would pay", "customers"),
    "churned_price_rise": ("… lost because the price rose above their reference price", "customers"),
    "churned_complaint": ("… lost over complaints", "customers"),
    "complaints": ("Complaints", "complaints"),
    "complaints_surprise": ("… about a surprising bill", "complaints"),
    "complaints_billing_error": ("… about a billing error", "complaints"),
    "complaints_fee_increase": ("… about a fee increase", "complaints"),
    "complaints_penalty_fee": ("… about a penalty fee", "complaints"),
    "complaints_resolved": ("Complaints resolved", "complaints"),
    "complaints_unresolved": ("Complaints handled but not resolved", "complaints"),
    "complaints_escalated": ("Complaints escalated to the regulator", "cases"),
    "complaint_backlog_end": ("Complaints waiting at the end", "complaints"),
    "billing_errors_made": ("Overcharges made", "errors"),
    "billing_errors_found_by_audit": ("Overcharges found by audits", "errors"),
    "billing_errors_refunded_on_complaint": ("Overcharges refunded after a complaint", "errors"),
    "billing_errors_never_found": ("Overcharges never found (left with the customer or open)", "errors"),
    "compliance_breaches": ("Compliance breaches", "breaches"),
    "residual_value": ("Value of the customers left at the horizon (sBG, discounted)", "{cur}"),
    "customer_equity": ("Customer equity: NPV of net revenue plus residual value", "{cur}"),
    "customer_lifetime_value": ("Customer lifetime value (equity per customer served)", "{cur}/customer"),
}


def summarise(frame: pd.DataFrame, units: dict[str, str], coverage: float = COVERAGE) -> pd.DataFrame:
    """Mean, interval and Monte Carlo standard error of each column across replications (rows)."""
    rows = []
    for column in frame.columns:
        values = frame[column].to_numpy(dtype=float)
        values = values[~np.isnan(values)]
        if len(values) == 0:
            continue
        low, high = interval(values, coverage)
        rows.append(
            {
                "metric": column,
                "mean": float(values.mean()),
                "low": low,
                "high": high,
                "mc_standard_error": float(values.std(ddof=1) / np.sqrt(len(values)))
                if len(values) > 1
                else float("nan"),
                "unit": units.get(column, ""),
            }
        )
    return pd.DataFrame(rows).set_index("metric")


@dataclass(frozen=True)
class RunInfo:
    """Provenance of a run: enough to re-run it."""

    scenario: str
    scenario_fingerprint: str
    customers: int
    months: int
    replications: int
    seed: int
    chunk_size: int
    workers: int
    simlib_version: str
    rule_actions: list


class SimulationResult:
    """The outcome of simulating one scenario.

    Attributes
    ----------
    scenario : the resolved scenario.
    counts : array (replication, month, segment, counted metric) of exact counts (money in cents).
    """

    def __init__(self, scenario: Scenario, counts: np.ndarray, info: RunInfo):
        self.scenario = scenario
        self.counts = counts
        self.info = info
        self.segments = tuple(s.name for s in scenario.population.segments)
        self._monthly: pd.DataFrame | None = None
        self._by_month: pd.DataFrame | None = None
        self._totals: dict[str | None, pd.DataFrame] = {}
        self._summaries: dict[tuple[float, str | None], pd.DataFrame] = {}
        self._shapes: np.ndarray | None = None

    @property
    def currency(self) -> str:
        return self.scenario.simulation.currency

    @property
    def monthly(self) -> pd.DataFrame:
        """Tidy frame: one row per replication × month × segment, one column per metric."""
        if self._monthly is None:
            reps, months = self.counts.shape[:2]
            index = pd.MultiIndex.from_product(
                [range(reps), range(months), self.segments], names=["replication", "month", "segment"]
            )
            counts = pd.DataFrame(self.counts.reshape(-1, len(COUNTED)), index=index, columns=COUNTED)
            self._monthly = derive(counts, self.scenario.model).reset_index()
        return self._monthly

    def by_month(self) -> pd.DataFrame:
        """Population totals per replication and month (segments added up, rates recomputed)."""
        if self._by_month is None:
            summed = self.counts.sum(axis=2)
            reps, months, _ = summed.shape
            index = pd.MultiIndex.from_product([range(reps), range(months)], names=["replication", "month"])
            frame = pd.DataFrame(summed.reshape(-1, len(COUNTED)), index=index, columns=COUNTED)
            self._by_month = derive(frame, self.scenario.model).reset_index()
        # A copy: the cached frame must not change under a caller's feet.
        return self._by_month.copy()

    def totals(self, segment: str | None = None) -> pd.DataFrame:
        """One row per replication with the horizon's summary metrics (for one segment, or all)."""
        if segment not in self._totals:
            self._totals[segment] = self._compute_totals(segment)
        # A copy: the cached frame must not change under a caller's feet.
        return self._totals[segment].copy()

    def _compute_totals(self, segment: str | None) -> pd.DataFrame:
        counts = self.counts
        segments = list(range(len(self.segments)))
        if segment is not None:
            segments = [self.segments.index(segment)]
            counts = counts[:, :, segments, :]
        per_month = counts.sum(axis=2)
        reps = per_month.shape[0]
        index = pd.MultiIndex.from_product([range(reps), range(per_month.shape[1])])
        monthly = derive(
            pd.DataFrame(per_month.reshape(-1, len(COUNTED)), index=index, columns=COUNTED),
            self.scenario.model,
        )
        monthly.index.names = ["replication", "month"]
        months = per_month.shape[1]
        annual = self.scenario.simulation.discount_rate_annual
        discount = (1.0 + annual) ** (-(np.arange(months) + 1) / 12.0)
        sums = monthly.groupby(level="replication").sum(numeric_only=True)
        last = monthly.xs(months - 1, level="month")
        # Gathered in a dict and made a frame once (inserting columns one by one costs more than
        # the sums): a sweep or an optimisation computes these totals for every variant.
        out: dict[str, Any] = {
            name: sums[name]
            for name in (
                "net_revenue",
                "gross_revenue",
                "refunds",
                "total_cost",
                "fines",
                "acquired",
                "churned",
                "churned_baseline",
                "churned_price",
                "churned_price_rise",
                "churned_complaint",
                "complaints",
                "complaints_surprise",
                "complaints_billing_error",
                "complaints_fee_increase",
                "complaints_penalty_fee",
                "complaints_resolved",
                "complaints_unresolved",
                "complaints_escalated",
                "billing_errors_made",
                "billing_errors_found_by_audit",
                "billing_errors_refunded_on_complaint",
                "compliance_breaches",
                "overcharges_collected",
                "overcharges_refunded",
                "overcharges_owed",
                "overcharges_expected_payout",
                "overcharge_expected_fines",
            )
        }
        net = monthly["net_revenue"].unstack("month").to_numpy()
        out["npv_net_revenue"] = net @ discount
        customer_months = sums["active"]
        out["monthly_churn_rate"] = sums["churned"] / customer_months
        out["complaints_per_1000"] = sums["complaints"] / customer_months * 1000.0
        out["escalations_per_100000_per_quarter"] = sums["complaints_escalated"] / customer_months * 3e5
        out["active_end"] = last["active"]
        out["complaint_backlog_end"] = last["complaint_backlog"]
        out["billing_errors_never_found"] = (
            sums["billing_errors_lost_at_churn"] + last["billing_errors_outstanding"]
        )
        residual = self._residual_value(counts, segments)
        out["residual_value"] = residual
        out["customer_equity"] = out["npv_net_revenue"] + residual
        # Customers served: the base active in month 0 (month-0 arrivals included) and every later
        # arrival.
        served = per_month[:, 0, INDEX["active"]] + per_month[:, 1:, INDEX["acquired"]].sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            out["customer_lifetime_value"] = np.where(served > 0, out["customer_equity"] / served, np.nan)
        for cost in [c for c in monthly.columns if c.startswith("cost_")]:
            out[cost] = sums[cost]
        return pd.DataFrame(out, index=sums.index)

    def _churn_shapes(self) -> np.ndarray:
        """sBG (α, β) of every segment in every replication, shape (replication, segment, 2):
        the horizon policy's values, drawn per replication where they are distributions."""
        if self._shapes is not None:
            return self._shapes
        reps = self.counts.shape[0]
        segments = self.scenario.model.population.segments
        # A parameter given as a distribution is an object, not a number, until realised; one drawn
        # in a joint block (what `simlib calibrate` writes for α, β) holds its stated value until then.
        uncertain = bool(self.scenario.model.joint_uncertainty) or any(
            not isinstance(getattr(s, name), int | float)
            for s in segments
            for name in ("churn_alpha", "churn_beta")
        )
        models = (
            [self.scenario.realise(r, self.info.seed) for r in range(reps)]
            if uncertain
            else [self.scenario.model] * reps
        )
        self._shapes = np.array(
            [[(s.churn_alpha, s.churn_beta) for s in model.population.segments] for model in models],
            dtype=float,
        )
        return self._shapes

    def _residual_value(self, counts: np.ndarray, segments: list[int]) -> np.ndarray:
        """Discounted value at month 0 of the customers still active after the horizon, per
        replication (docs/model.md §6.1): per segment, survivors × margin × discounted months of
        the segment's posterior Beta(α, β + n̂ + 1), with n̂ matched to the baseline churn of the last
        month and the other causes of the last month held as a constant hazard.

        ``counts`` is (replication, month, segment, counted metric) for the ``segments`` (indices)
        given. NaN when the discount rate is 0 (the lifetime is then infinite when α ≤ 1).
        """
        months = counts.shape[1]
        shapes = self._churn_shapes()[:, segments, :]
        last = counts[:, -1]
        active = last[..., INDEX["active"]]
        churned = last[..., INDEX["churned"]]
        baseline = last[..., INDEX["churned_baseline"]]
        survivors = active - churned
        with np.errstate(divide="ignore", invalid="ignore"):
            # The baseline cause is u < p exactly (§3.12), so its rate is the mean p of the active.
            mean_churn = np.where(active > 0, baseline / active, 0.0)
            other = np.where(active > baseline, (churned - baseline) / (active - baseline), 0.0)
        renewals = posterior_renewals(shapes[..., 0], shapes[..., 1], mean_churn) + 1.0
        annual = self.scenario.simulation.discount_rate_annual
        monthly_discount = (1.0 + annual) ** (1.0 / 12.0) - 1.0
        if monthly_discount > 0:
            lifetime = discounted_months(monthly_discount, shapes[..., 0], shapes[..., 1], renewals, other)
        else:
            lifetime = np.full(survivors.shape, np.nan)  # undiscounted: infinite when α ≤ 1
        # Margin per active customer-month over the last year (periodic costs such as audits
        # averaged out); set-up fees are one-off, not earned again by those who stay.
        window = counts[:, -min(months, 12) :].sum(axis=1)
        frame = derive(pd.DataFrame(window.reshape(-1, len(COUNTED)), columns=COUNTED), self.scenario.model)
        earned = (frame["net_revenue"] - frame["revenue_setup"]).to_numpy().reshape(survivors.shape)
        exposure = window[..., INDEX["active"]]
        with np.errstate(divide="ignore", invalid="ignore"):
            margin = np.where(exposure > 0, earned / exposure, 0.0)
        at_horizon = (1.0 + monthly_discount) ** (-months)
        value = np.where(survivors > 0, survivors * margin * lifetime, 0.0)
        return value.sum(axis=1) * at_horizon

    def units(self) -> dict[str, str]:
        """Unit of each summary metric, with the currency filled in."""
        units = {k: u for k, (_, u) in SUMMARY_METRICS.items()}
        units.update({c: "{cur}" for c in self.totals().columns if c.startswith("cost_")})
        return {k: v.replace("{cur}", self.currency) for k, v in units.items()}

    def monthly_units(self) -> dict[str, str]:
        """Unit of each column of :attr:`monthly`, with the currency filled in."""
        return monthly_units(list(self.monthly.columns), self.currency)

    def to_xarray(self) -> Any:
        """The monthly cube as an ``xarray.DataArray`` (needs the ``xarray`` extra).

        Returns
        -------
        xarray.DataArray
            Dimensions (replication, month, segment, metric), the values of :attr:`monthly`; the
            coordinate ``unit`` along ``metric`` gives each metric's unit (money in the scenario's
            currency), and ``attrs`` the scenario, currency and simlib version.

        Raises
        ------
        simlib.extras.MissingExtraError
            xarray is not installed (one line naming ``pip install "simlib[xarray]"``).
        """
        from simlib.extras import require

        require("xarray", "SimulationResult.to_xarray()")
        import xarray as xr

        monthly = self.monthly
        metrics = [c for c in monthly.columns if c not in ("replication", "month", "segment")]
        reps, months = self.counts.shape[:2]
        # The monthly frame is built replication-major over (replication, month, segment), so a
        # reshape puts each value at its coordinates.
        values = (
            monthly[metrics].to_numpy(dtype=float).reshape(reps, months, len(self.segments), len(metrics))
        )
        units = self.monthly_units()
        return xr.DataArray(
            values,
            dims=("replication", "month", "segment", "metric"),
            coords={
                "replication": np.arange(reps),
                "month": np.arange(months),
                "segment": list(self.segments),
                "metric": metrics,
                "unit": ("metric", [units[m] for m in metrics]),
            },
            name=self.scenario.name,
            attrs={
                "scenario": self.scenario.name,
                "currency": self.currency,
                "simlib_version": self.info.simlib_version,
            },
        )

    def summary(self, coverage: float = COVERAGE, segment: str | None = None) -> pd.DataFrame:
        """Mean, 90% interval (5th–95th percentile across replications) and MC standard error."""
        key = (coverage, segment)
        if key not in self._summaries:
            # Cached: a base compared with many variants (sweeps, optimisation) is summarised once.
            self._summaries[key] = summarise(self.totals(segment), self.units(), coverage)
        return self._summaries[key].copy()

    def plot(
        self, metric: str = "active", ax: Any = None, coverage: float = COVERAGE, label: str | None = None
    ):
        """Monthly mean of a metric with its interval band across replications."""
        import matplotlib.pyplot as plt

        ax = ax or plt.subplots(figsize=(7, 3.5))[1]
        table = self.by_month().pivot(index="month", columns="replication", values=metric)
        tail = (1 - coverage) / 2
        ax.fill_between(
            table.index, table.quantile(tail, axis=1), table.quantile(1 - tail, axis=1), alpha=0.25
        )
        ax.plot(table.index, table.mean(axis=1), label=label or self.scenario.name)
        ax.set_xlabel("month")
        ax.set_ylabel(metric.replace("_", " "))
        return ax

    def provenance(self) -> dict[str, Any]:
        """Run settings, versions and the resolved scenario's fingerprint."""
        return asdict(self.info)

    def save(self, folder: str | Path, overwrite: bool = False) -> Path:
        """Write monthly (Parquet, CSV), summary (CSV), the resolved scenario and provenance.

        ``monthly.parquet`` carries each column's unit in its ``simlib`` metadata entry
        (:func:`simlib.run.parquet.read_units`). Refuses a folder that already holds files unless
        ``overwrite`` is set. Each file is written atomically; ``summary.csv`` is written last, so
        its presence marks a complete save.
        """
        folder = check_output_folder(folder, overwrite)
        monthly = self.monthly
        units, name = self.monthly_units(), self.scenario.name
        write_atomic(folder / "monthly.parquet", lambda p: write_parquet(monthly, p, units, scenario=name))
        write_atomic(folder / "monthly.csv", lambda p: monthly.to_csv(p, index=False))
        summary = self.summary()
        write_atomic(
            folder / "scenario.json",
            lambda p: Path(p).write_text(json.dumps(self.scenario.as_dict(), indent=2)),
        )
        write_atomic(
            folder / "provenance.json", lambda p: Path(p).write_text(json.dumps(self.provenance(), indent=2))
        )
        write_atomic(folder / "summary.csv", lambda p: summary.to_csv(p))
        return folder


class Comparison:
    """A reform against a baseline, simulated on the same customers with the same draws."""

    def __init__(self, baseline: SimulationResult, reform: SimulationResult, winners_losers: np.ndarray):
        self.baseline = baseline
        self.reform = reform
        self.winners_losers_counts = winners_losers
        self._summaries: dict[float, pd.DataFrame] = {}

    def differences(self) -> pd.DataFrame:
        """Reform minus baseline, per replication, for every summary metric."""
        return self.reform.totals() - self.baseline.totals()

    def summary(self, coverage: float = COVERAGE) -> pd.DataFrame:
        """Per metric: baseline, reform and paired difference (reform − baseline), each with its
        mean and interval, plus the shares of winners and losers."""
        if coverage not in self._summaries:
            # Cached: a notebook prints it, saves it and writes it into result.json.
            self._summaries[coverage] = self._summary(coverage)
        return self._summaries[coverage].copy()

    def _summary(self, coverage: float) -> pd.DataFrame:
        units = self.baseline.units()
        parts = []
        for prefix, frame in (
            ("baseline", None),
            ("reform", self.reform.totals()),
            ("difference", self.differences()),
        ):
            # The baseline's own summary is cached on it: one base shared by many comparisons.
            table = self.baseline.summary(coverage) if frame is None else summarise(frame, units, coverage)
            columns = ["mean", "low", "high"] + (["mc_standard_error"] if prefix == "difference" else [])
            parts.append(table[columns].add_prefix(f"{prefix}_"))
        out = pd.concat(parts, axis=1)
        out["unit"] = pd.Series(units)
        shares = self.winners_losers(coverage).loc["all segments"]
        extra = pd.DataFrame(
            {
                "reform_mean": [shares[f"{kind}_share"] for kind in ("winners", "losers")],
                "reform_low": [shares[f"{kind}_low"] for kind in ("winners", "losers")],
                "reform_high": [shares[f"{kind}_high"] for kind in ("winners", "losers")],
                "unit": "share of customers",
            },
            index=["winners_share", "losers_share"],
        )
        out = pd.concat([out, extra])
        out.index.name = "metric"
        return out

    def save(self, folder: str | Path, overwrite: bool = False) -> Path:
        """Write both runs (``baseline/``, ``reform/``), the per-replication differences, winners
        and losers, and the comparison summary (``summary.csv``, last: it marks a complete save).

        Refuses a folder that already holds files unless ``overwrite`` is set.
        """
        folder = check_output_folder(folder, overwrite)
        self.baseline.save(folder / "baseline", overwrite)
        self.reform.save(folder / "reform", overwrite)
        differences, shares, summary = self.differences(), self.winners_losers(), self.summary()
        write_atomic(folder / "differences.csv", lambda p: differences.to_csv(p))
        write_atomic(folder / "winners_losers.csv", lambda p: shares.to_csv(p))
        write_atomic(folder / "summary.csv", lambda p: summary.to_csv(p))
        return folder

    def winners_losers(self, coverage: float = COVERAGE) -> pd.DataFrame:
        """Share of initial customers whose average monthly charge fell (winners) or rose (losers)
        by more than 5% against the baseline, per segment and overall, with intervals."""
        counts = self.winners_losers_counts
        names = [*self.baseline.segments, "all segments"]
        counts = np.concatenate([counts, counts.sum(axis=1, keepdims=True)], axis=1)
        rows = []
        for index, name in enumerate(names):
            compared = np.maximum(counts[:, index, 0], 1.0)
            row: dict[str, Any] = {"segment": name, "customers_compared": counts[:, index, 0].mean()}
            for column, kind in ((1, "winners"), (2, "losers")):
                share = counts[:, index, column] / compared
                low, high = interval(share, coverage)
                row.update({f"{kind}_share": share.mean(), f"{kind}_low": low, f"{kind}_high": high})
            rows.append(row)
        return pd.DataFrame(rows).set_index("segment")

    def plot(self, metric: str = "net_revenue", ax: Any = None, coverage: float = COVERAGE):
        """The paired monthly difference of a metric with its interval band."""
        import matplotlib.pyplot as plt

        ax = ax or plt.subplots(figsize=(7, 3.5))[1]
        base = self.baseline.by_month().pivot(index="month", columns="replication", values=metric)
        reform = self.reform.by_month().pivot(index="month", columns="replication", values=metric)
        diff = reform - base
        tail = (1 - coverage) / 2
        ax.fill_between(diff.index, diff.quantile(tail, axis=1), diff.quantile(1 - tail, axis=1), alpha=0.25)
        ax.plot(
            diff.index,
            diff.mean(axis=1),
            label=f"{self.reform.scenario.name} − {self.baseline.scenario.name}",
        )
        ax.axhline(0.0, color="grey", linewidth=0.8)
        ax.set_xlabel("month")
        ax.set_ylabel(f"Δ {metric.replace('_', ' ')}")
        return ax
