"""Counts → money, costs and rates; summaries, intervals, NPV and lifetime value; saving results."""

from __future__ import annotations

import json
import stat
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

import simlib
from simlib.extras import MissingExtraError
from simlib.model.counts import COUNTED, INDEX
from simlib.model.lifetime import discounted_months
from simlib.run.metrics import derive
from simlib.run.parquet import read_metadata, read_units
from simlib.run.results import RunInfo, SimulationResult

SCENARIO = simlib.from_dict(
    {
        "simulation": {"discount_rate_annual": 0.1},
        "transparency": {"itemised_bills": True, "itemised_bill_cost": 0.07, "contract_clarity": 0.5},
        "billing": {"processing_cost": 0.3, "automated_billing": True, "automation_processing_saving": 0.1},
        "complaint_handling": {
            "cost_per_complaint": 6,
            "capacity_per_1000_customers": 10,
            "capacity_cost": 2,
        },
        "compliance": {"fine_per_breach": 40},
    }
)


def counts_row(**values: float) -> pd.DataFrame:
    row = dict.fromkeys(COUNTED, 0.0)
    row.update(values)
    return pd.DataFrame([row])


def test_derive_prices_every_cost_from_counts() -> None:
    row = counts_row(
        active=1000,
        complaints_handled=7,
        complaints_escalated=1,
        fee_cap_breaches=2,
        notice_breaches=1,
        revenue_recurring_cents=3_000_000,
        revenue_penalty_cents=12_000,
        revenue_overcharge_cents=900,
        refunds_audit_cents=500,
        refunds_complaint_cents=300,
        goodwill_credit_cents=250,
    )
    out = derive(row, SCENARIO.model).iloc[0]
    # Overcharges are not revenue: collected 9, refunded 8, owed 1 (docs/model.md §5).
    assert out["gross_revenue"] == pytest.approx(30_120.0)
    assert out["refunds"] == pytest.approx(10.5)
    assert out["overcharges_collected"] == pytest.approx(9.0)
    assert out["overcharges_refunded"] == pytest.approx(8.0)
    assert out["overcharges_owed"] == pytest.approx(1.0)
    assert out["overcharges_expected_payout"] == pytest.approx(1.0)  # default share 1
    assert out["overcharge_expected_fines"] == 0.0
    assert out["cost_bill_processing"] == pytest.approx(1000 * (0.3 - 0.1))
    assert out["cost_itemised_bills"] == pytest.approx(1000 * 0.07)
    assert out["cost_contract_clarity"] == pytest.approx(1000 * 0.02 * 0.5)
    assert out["cost_complaint_handling"] == pytest.approx(7 * 6 + 1000 * 10 / 1000 * 2)
    assert out["cost_regulator_cases"] == pytest.approx(400)
    assert out["fines"] == pytest.approx(3 * 40)
    costs = [c for c in out.index if c.startswith("cost_")]
    assert out["total_cost"] == pytest.approx(out[costs].sum())
    assert out["net_revenue"] == pytest.approx(
        out["gross_revenue"] - out["goodwill_credit"] - out["total_cost"] - out["fines"]
    )
    assert out["complaints_per_1000"] == 0.0
    # With repayment plus a fine of 150% expected, the fine part of what is owed is a cost.
    fined = SCENARIO.with_changes({"compliance.overcharge_payout_share": 2.5})
    again = derive(row, fined.model).iloc[0]
    assert again["overcharges_expected_payout"] == pytest.approx(2.5)
    assert again["overcharge_expected_fines"] == pytest.approx(1.5)
    assert again["net_revenue"] == pytest.approx(out["net_revenue"] - 1.5)


def synthetic_result(
    net_cents_per_month: list[float], churned: list[float], active: float
) -> SimulationResult:
    """A result whose net revenue comes only from recurring revenue (no costs: levers off)."""
    plain = simlib.from_dict(
        {
            "simulation": {"discount_rate_annual": 0.1},
            "billing": {"processing_cost": 0},
            "transparency": {"contract_clarity": 0},
            "complaint_handling": {"capacity_per_1000_customers": 0},
        }
    )
    reps, months = len(net_cents_per_month), len(churned)
    counts = np.zeros((reps, months, 1, len(COUNTED)))
    counts[..., INDEX["active"]] = active
    for r, cents in enumerate(net_cents_per_month):
        counts[r, :, 0, INDEX["revenue_recurring_cents"]] = cents
        counts[r, :, 0, INDEX["churned"]] = churned
    info = RunInfo(plain.name, plain.fingerprint(), int(active), months, reps, 1, 4096, 1, "test", [])
    return SimulationResult(plain, counts, info)


def test_npv_discounts_each_month_at_the_annual_rate() -> None:
    result = synthetic_result([100_000.0, 200_000.0], churned=[10.0] * 24, active=1000)
    totals = result.totals()
    discount = 1.1 ** (-(np.arange(24) + 1) / 12)
    assert totals["npv_net_revenue"].tolist() == pytest.approx([1000 * discount.sum(), 2000 * discount.sum()])
    assert totals["net_revenue"].tolist() == pytest.approx([24_000, 48_000])


def test_lifetime_value_adds_the_residual_value_of_the_survivors() -> None:
    # Constant margin €25 per customer-month, 1,000 active, 20 leaving each month, all for the
    # baseline cause; no arrivals. The default segment is Beta(0.9, 28).
    def run(price_leavers_last_month: float) -> pd.Series:
        result = synthetic_result([2_500_000.0], churned=[20.0] * 12, active=1000)
        result.counts[..., INDEX["churned_baseline"]] = 20.0
        result.counts[:, -1, :, INDEX["churned_price"]] = price_leavers_last_month
        result.counts[:, -1, :, INDEX["churned"]] += price_leavers_last_month
        return result.totals().iloc[0]

    totals = run(0.0)
    d = 1.1 ** (1 / 12) - 1
    # The survivors' posterior: mean churn 2% in the last month → n̂ = α/c − α − β, one more month
    # survived; 980 of them, each worth 25 × L(d | 0.9, 28, n̂ + 1), discounted over 12 months.
    renewals = 0.9 / 0.02 - 0.9 - 28 + 1
    residual = 980 * 25 * discounted_months(d, 0.9, 28.0, renewals) * (1 + d) ** -12
    assert totals["residual_value"] == pytest.approx(residual, rel=1e-12)
    assert totals["customer_equity"] == pytest.approx(totals["npv_net_revenue"] + residual, rel=1e-12)
    assert totals["customer_lifetime_value"] == pytest.approx(totals["customer_equity"] / 1000, rel=1e-12)
    # Other causes of leaving in the last month are carried on as a constant hazard.
    other = 10 / (1000 - 20)
    again = run(10.0)
    expected = 970 * 25 * discounted_months(d, 0.9, 28.0, renewals, other) * (1 + d) ** -12
    assert again["residual_value"] == pytest.approx(expected, rel=1e-12)


def test_summary_interval_is_the_5th_to_95th_percentile_across_replications() -> None:
    values = np.arange(1, 21) * 100_000.0
    result = synthetic_result(list(values), churned=[0.0] * 3, active=100)
    row = result.summary().loc["net_revenue"]
    per_replication = values * 3 / 100
    assert row["mean"] == pytest.approx(per_replication.mean())
    assert (row["low"], row["high"]) == pytest.approx(tuple(np.quantile(per_replication, [0.05, 0.95])))
    assert row["mc_standard_error"] == pytest.approx(per_replication.std(ddof=1) / np.sqrt(20))
    assert row["unit"] == "EUR"


def test_save_writes_every_file_readable_and_refuses_to_overwrite(tmp_path) -> None:
    result = simlib.simulate(simlib.from_dict({}), customers=1000, months=3, replications=2, progress=False)
    folder = result.save(tmp_path / "run")
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["monthly.csv", "monthly.parquet", "provenance.json", "scenario.json", "summary.csv"]
    assert all(stat.S_IMODE(p.stat().st_mode) & 0o044 for p in folder.iterdir())  # readable by others
    monthly = pd.read_parquet(folder / "monthly.parquet")
    assert len(monthly) == 2 * 3 * 1 and set(COUNTED) - {c for c in COUNTED if c.endswith("_cents")} <= set(
        monthly.columns
    )
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    with pytest.raises(FileExistsError):
        result.save(folder)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


BASELINE = Path(__file__).resolve().parents[1] / "scenarios" / "baseline.yaml"


@pytest.fixture(scope="module")
def three_segments() -> SimulationResult:
    """The shipped baseline (three segments, EUR) at a tiny size."""
    return simlib.simulate(simlib.load(BASELINE), customers=300, months=4, replications=2, progress=False)


def test_monthly_parquet_carries_each_columns_unit(three_segments, tmp_path) -> None:
    folder = three_segments.save(tmp_path / "run")
    schema = pq.read_schema(folder / "monthly.parquet")
    entry = json.loads(schema.metadata[b"simlib"])
    assert entry["scenario"] == "baseline" and entry["simlib_version"] == simlib.__version__
    units = entry["units"]
    assert set(units) == set(schema.names)  # every column, nothing else
    assert units["net_revenue"] == units["revenue_recurring"] == units["cost_audits"] == "EUR"
    assert units["churn_rate"] == "share/month"
    assert units["complaints_per_1000"] == "per 1,000 customers/month"
    assert units["active"] == units["complaints"] == "count"
    assert read_units(folder / "monthly.parquet") == units
    assert read_metadata(folder / "monthly.parquet")["scenario"] == "baseline"


def test_a_parquet_file_of_another_tool_has_no_units(tmp_path) -> None:
    pd.DataFrame({"a": [1.0]}).to_parquet(tmp_path / "other.parquet")
    assert read_units(tmp_path / "other.parquet") == {}


def test_to_xarray_is_the_monthly_cube_with_units(three_segments) -> None:
    cube = three_segments.to_xarray()
    monthly = three_segments.monthly
    metrics = [c for c in monthly.columns if c not in ("replication", "month", "segment")]
    assert cube.dims == ("replication", "month", "segment", "metric")
    assert cube.shape == (2, 4, 3, len(metrics))
    assert list(cube.segment.values) == ["light", "standard", "heavy"]
    assert list(cube.metric.values) == metrics
    assert list(cube.month.values) == [0, 1, 2, 3]
    row = monthly[(monthly.replication == 1) & (monthly.month == 2) & (monthly.segment == "heavy")]
    for metric in ("net_revenue", "active", "churn_rate"):
        value = cube.sel(replication=1, month=2, segment="heavy", metric=metric).item()
        assert value == pytest.approx(float(row[metric].iloc[0]), rel=1e-12)
    assert cube.sel(metric="net_revenue").unit.item() == "EUR"
    assert cube.sel(metric="churn_rate").unit.item() == "share/month"
    assert cube.attrs["currency"] == "EUR" and cube.attrs["scenario"] == "baseline"


def test_to_xarray_without_xarray_names_the_extra(three_segments, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "xarray", None)
    with pytest.raises(MissingExtraError, match=r'needs xarray, .*pip install "simlib\[xarray\]"'):
        three_segments.to_xarray()
