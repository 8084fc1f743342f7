"""Sweeps: variant designs, command-line parsing, paired evaluation on shared draws, the tidy table,
saving, and the revenue/complaints frontier.

The runs are small (1,200 customers, 6 months, 3 replications of the shipped baseline, whose
behavioural parameters are uncertain) and shared by the tests through a module-scoped fixture.
Assertions about pairing are exact: a variant equal to the base must differ by exactly nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

import simlib
import simlib.analysis.sweep as sweep
from simlib.analysis.sweep import (
    SweepResult,
    grid_variants,
    parse_grid,
    parse_range,
    run_sweep,
    sample_variants,
)
from simlib.errors import InputError
from simlib.run.parquet import read_units

BASELINE = Path(__file__).resolve().parents[1] / "scenarios" / "baseline.yaml"
SETTINGS = {"customers": 1200, "months": 6, "replications": 3, "seed": 11}
FEES = [23, 25, 28]  # the baseline's own monthly fee is 25 (currency/month)
FILES = {"sweep.csv", "sweep.parquet", "frontier.png", "frontier.csv", "sweep.json"}


@pytest.fixture(scope="module")
def base() -> simlib.Scenario:
    return simlib.load(BASELINE)


@pytest.fixture(scope="module")
def fee_sweep(base: simlib.Scenario) -> sweep.SweepResult:
    return run_sweep(base, grid_variants({"fees.monthly_fee": FEES}), workers=1, progress=False, **SETTINGS)


def difference_columns(table: pd.DataFrame) -> list[str]:
    return [c for c in table.columns if c.endswith(("_difference", "_difference_low", "_difference_high"))]


# --------------------------------------------------------------------------- designs and parsing


def test_grid_has_every_combination_first_key_slowest() -> None:
    variants = grid_variants({"fees.monthly_fee": [25, 27], "fees.penalty_fee": [0, 5, 10]})
    assert variants == [
        {"fees.monthly_fee": 25, "fees.penalty_fee": 0},
        {"fees.monthly_fee": 25, "fees.penalty_fee": 5},
        {"fees.monthly_fee": 25, "fees.penalty_fee": 10},
        {"fees.monthly_fee": 27, "fees.penalty_fee": 0},
        {"fees.monthly_fee": 27, "fees.penalty_fee": 5},
        {"fees.monthly_fee": 27, "fees.penalty_fee": 10},
    ]
    assert len(grid_variants({"a": [1, 2], "b": [1, 2, 3], "c": [True, False]})) == 12


@pytest.mark.parametrize("grid", [{}, {"fees.monthly_fee": []}, {"fees.monthly_fee": "25"}])
def test_grid_rejects_empty_or_unlisted_values(grid: dict) -> None:
    with pytest.raises(InputError):
        grid_variants(grid)


@pytest.mark.parametrize(
    ("text", "key", "values"),
    [
        ("fees.monthly_fee=25,27.5,30", "fees.monthly_fee", [25, 27.5, 30]),
        ("transparency.itemised_bills=true,false", "transparency.itemised_bills", [True, False]),
        ("compliance.fee_cap=null, 100", "compliance.fee_cap", [None, 100]),
        ("fees.tier_mode=volume", "fees.tier_mode", ["volume"]),
        ("population.segments.light.churn_beta=30", "population.segments.light.churn_beta", [30]),
    ],
)
def test_parse_grid_reads_values_as_yaml_scalars(text: str, key: str, values: list) -> None:
    parsed_key, parsed = parse_grid(text)
    assert parsed_key == key
    assert parsed == values
    assert [type(v) for v in parsed] == [type(v) for v in values]


@pytest.mark.parametrize(
    "text", ["fees.monthly_fee", "=25,27", "fees.monthly_fee=", "fees.monthly_fee=25,,27"]
)
def test_parse_grid_errors_name_the_text(text: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_grid(text)
    message = str(caught.value)
    assert repr(text) in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("text", "key", "bounds"),
    [
        ("fees.penalty_fee=0:12.5", "fees.penalty_fee", (0, 12.5)),
        ("fee_changes[0].notice_days=0:30", "fee_changes[0].notice_days", (0, 30)),
        ("behaviour.loss_aversion=-1.5:2e0", "behaviour.loss_aversion", (-1.5, 2.0)),
    ],
)
def test_parse_range(text: str, key: str, bounds: tuple) -> None:
    assert parse_range(text) == (key, bounds)


@pytest.mark.parametrize(
    "text",
    [
        "fees.penalty_fee=12:0",
        "fees.penalty_fee=5:5",
        "fees.penalty_fee=5",
        "fees.penalty_fee=1:2:3",
        "fees.penalty_fee=low:high",
        "fees.penalty_fee=0:inf",
        "fees.penalty_fee",
        "=0:1",
    ],
)
def test_parse_range_errors_name_the_text(text: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_range(text)
    message = str(caught.value)
    assert repr(text) in message
    assert "\n" not in message


RANGES = {
    "fees.monthly_fee": (20.0, 32.0),
    "fees.penalty_fee": (0.0, 12.0),
    "behaviour.loss_aversion": (1.5, 3.0),
}


def test_sample_is_within_bounds_and_reproducible_for_a_seed() -> None:
    first = sample_variants(RANGES, n=40, seed=3)
    assert len(first) == 40
    for variant in first:
        assert list(variant) == list(RANGES)
        for key, (low, high) in RANGES.items():
            assert low <= variant[key] <= high
            assert isinstance(variant[key], float)
    assert sample_variants(RANGES, n=40, seed=3) == first
    other = sample_variants(RANGES, n=40, seed=4)
    assert other != first
    assert all(a[key] != b[key] for a, b in zip(first, other, strict=True) for key in RANGES)


@pytest.mark.parametrize("n", [1, 7, 50])
def test_sample_puts_one_point_in_each_stratum_of_every_lever(n: int) -> None:
    variants = sample_variants(RANGES, n=n, seed=20261127)
    for key, (low, high) in RANGES.items():
        values = np.array([v[key] for v in variants])
        strata = np.minimum(np.floor((values - low) / (high - low) * n).astype(int), n - 1)
        assert sorted(strata.tolist()) == list(range(n)), key


def test_sample_of_a_whole_number_parameter_gives_whole_values_the_schema_accepts(
    base: simlib.Scenario,
) -> None:
    ranges = {"fee_changes[0].notice_days": (0, 30), "fees.monthly_fee": (24, 30)}
    variants = sample_variants(ranges, n=62, seed=5)
    days = [v["fee_changes[0].notice_days"] for v in variants]
    assert all(type(d) is int and 0 <= d <= 30 for d in days)
    assert set(days) == set(range(31))  # 62 points in 31 equal strata of the whole days: each twice
    assert all(type(v["fees.monthly_fee"]) is float for v in variants)  # both bounds ints, but a float lever
    change = {"fee_changes": [{"month": 3, "set": {"monthly_fee": 27}}]}
    scenario = base.with_changes(change).with_changes(variants[0])
    assert scenario.fee_changes[0].notice_days == days[0]
    with pytest.raises(InputError, match="whole"):
        sample_variants({"fee_changes[0].notice_days": (0.5, 30)}, n=4, seed=1)


@pytest.mark.parametrize(
    ("ranges", "n"),
    [({}, 4), ({"fees.penalty_fee": (0.0, 12.0)}, 0), ({"fees.penalty_fee": (12.0, 0.0)}, 4)],
)
def test_sample_rejects_bad_inputs(ranges: dict, n: int) -> None:
    with pytest.raises(InputError):
        sample_variants(ranges, n=n, seed=1)


# --------------------------------------------------------------------------- running


def test_table_has_one_row_per_variant_with_levers_values_and_differences(
    fee_sweep: SweepResult, base: simlib.Scenario
) -> None:
    table = fee_sweep.summary()
    assert table["variant"].tolist() == [0, 1, 2]
    assert table["fees.monthly_fee"].tolist() == FEES
    assert list(table.columns[:2]) == ["variant", "fees.monthly_fee"]
    for metric in (
        "net_revenue",
        "npv_net_revenue",
        "monthly_churn_rate",
        "complaints_per_1000",
        "refunds",
        "compliance_breaches",
        "escalations_per_100000_per_quarter",
    ):
        for suffix in ("", "_low", "_high", "_difference", "_difference_low", "_difference_high"):
            assert f"{metric}{suffix}" in table.columns, f"{metric}{suffix}"
            assert table[f"{metric}{suffix}"].notna().all()
    assert (table["net_revenue_low"] <= table["net_revenue"]).all()
    assert (table["net_revenue"] <= table["net_revenue_high"]).all()
    assert fee_sweep.settings == SETTINGS
    assert fee_sweep.base == base.name
    assert fee_sweep.base_fingerprint == base.fingerprint()
    assert fee_sweep.levers == ["fees.monthly_fee"]
    assert fee_sweep.units["net_revenue"] == "EUR"
    # The base's own values, shared by every variant: reform value − difference.
    assert np.allclose(
        table["net_revenue"] - table["net_revenue_difference"], fee_sweep.baseline.loc["net_revenue", "mean"]
    )


def test_variant_equal_to_the_base_differs_by_exactly_nothing(fee_sweep: SweepResult) -> None:
    table = fee_sweep.table
    columns = difference_columns(table)
    assert len(columns) > 100
    same = table.loc[FEES.index(25), columns].to_numpy(dtype=float)
    assert np.all(same == 0.0), [c for c, v in zip(columns, same, strict=True) if v != 0]
    for metric in ("net_revenue", "npv_net_revenue", "complaints_per_1000"):
        assert table.loc[FEES.index(25), metric] == fee_sweep.baseline.loc[metric, "mean"]
    # ... while the other fees do change things (a sweep that ignored its levers would fail here).
    assert table.loc[FEES.index(23), "net_revenue_difference"] < 0
    assert table.loc[FEES.index(28), "net_revenue_difference"] != 0


def test_sweep_gives_what_a_direct_comparison_gives(fee_sweep: SweepResult, base: simlib.Scenario) -> None:
    reform = base.with_changes({"fees.monthly_fee": 28})
    summary = simlib.compare(base, reform, progress=False, **SETTINGS).summary()
    row = fee_sweep.table.loc[FEES.index(28)]
    checked = 0
    for metric, values in summary.iterrows():
        assert row[metric] == values["reform_mean"], metric
        assert row[f"{metric}_low"] == values["reform_low"], metric
        assert row[f"{metric}_high"] == values["reform_high"], metric
        if metric not in ("winners_share", "losers_share"):
            assert row[f"{metric}_difference"] == values["difference_mean"], metric
            assert row[f"{metric}_difference_low"] == values["difference_low"], metric
            assert row[f"{metric}_difference_high"] == values["difference_high"], metric
        checked += 1
    assert checked == len(summary) > 30


def test_two_workers_give_the_identical_table(fee_sweep: SweepResult, base: simlib.Scenario) -> None:
    parallel = run_sweep(
        base, grid_variants({"fees.monthly_fee": FEES}), workers=2, progress=False, **SETTINGS
    )
    pd.testing.assert_frame_equal(parallel.table, fee_sweep.table, check_exact=True)
    pd.testing.assert_frame_equal(parallel.baseline, fee_sweep.baseline, check_exact=True)


def test_the_base_is_simulated_once_for_every_variant(
    base: simlib.Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    import simlib.run.runner as runner
    import simlib.run.shared as shared

    runs: list[str] = []
    simulate_chunk = runner.simulate_chunk

    def counting(plan, *args, **kwargs):
        runs.append(plan.model.fees.monthly_fee)
        return simulate_chunk(plan, *args, **kwargs)

    # Every place that simulates a chunk for a sweep: the shared base and its variants, and the
    # paired fallback of the runner.
    monkeypatch.setattr(shared, "simulate_chunk", counting)
    monkeypatch.setattr(runner, "simulate_chunk", counting)
    run_sweep(base, grid_variants({"fees.monthly_fee": FEES}), workers=1, progress=False, **SETTINGS)
    # One chunk per replication: the base once, then each variant once (paired runs: 2 per variant).
    assert len(runs) == SETTINGS["replications"] * (1 + len(FEES))


def test_shared_base_gives_the_paired_numbers_with_rules_and_without_kept_charges(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The adaptive review rule changes the base's own policy mid-run; a variant of it still gets
    exactly what a paired comparison gives, also when the charges are too many to keep."""
    import simlib.run.shared as shared
    from simlib.run.runner import RunSettings

    ruled = simlib.load(BASELINE.with_name("adaptive_penalty_review.yaml"))
    variant = ruled.with_changes({"fees.monthly_fee": 27, "fees.penalty_fee": 14})
    size = {"customers": 1500, "months": 8, "replications": 3, "seed": 4}
    direct = simlib.compare(ruled, variant, progress=False, chunk_size=512, **size)
    settings = RunSettings.resolve(ruled, chunk_size=512, **size)
    kept = shared.compare_with_base(shared.simulate_base(ruled, settings), variant)
    pd.testing.assert_frame_equal(kept.summary(), direct.summary(), check_exact=True)
    assert np.array_equal(kept.winners_losers_counts, direct.winners_losers_counts)
    assert kept.baseline.info.rule_actions == direct.baseline.info.rule_actions
    assert kept.reform.info.rule_actions == direct.reform.info.rule_actions
    monkeypatch.setattr(shared, "MAX_KEPT", 0)
    unkept = shared.simulate_base(ruled, settings)
    assert unkept.charges is None
    pd.testing.assert_frame_equal(
        shared.compare_with_base(unkept, variant).summary(), direct.summary(), check_exact=True
    )


def test_invalid_levers_are_all_reported_before_anything_runs(
    base: simlib.Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[object] = []
    monkeypatch.setattr(sweep, "_evaluate", lambda task: calls.append(task))
    variants = [
        {"fees.monthly_fee": 27},
        {"fees.monthly_fee": -1},
        {"fees.penalty_fee": -2, "fees.monthly_fee": 25},
        {"simulation.seed": 3},
        {"fee_changes": [{"month": 9, "set": {"monthly_fee": 30}}]},
    ]
    with pytest.raises(simlib.ScenarioError) as caught:
        run_sweep(base, variants, progress=False, **SETTINGS)
    lines = str(caught.value).splitlines()
    assert len(lines) == 4, lines
    assert lines[0].startswith("variant 1: fees.monthly_fee:") and "-1" in lines[0]
    assert lines[1].startswith("variant 2: fees.penalty_fee:") and "-2" in lines[1]
    assert lines[2].startswith("variant 3: simulation.seed:")
    assert lines[3].startswith("variant 4: fee_changes:") and "month 9" in lines[3]
    assert calls == []


# --------------------------------------------------------------------------- saving and the frontier


def test_save_writes_every_file_and_refuses_a_folder_with_files(
    fee_sweep: SweepResult, tmp_path: Path
) -> None:
    folder = fee_sweep.save(tmp_path / "sweep")
    assert {p.name for p in folder.iterdir()} == FILES
    csv = pd.read_csv(folder / "sweep.csv")
    pd.testing.assert_frame_equal(csv, fee_sweep.table, check_exact=True)
    parquet = pd.read_parquet(folder / "sweep.parquet")
    pd.testing.assert_frame_equal(parquet, fee_sweep.table, check_exact=True)
    units = read_units(folder / "sweep.parquet")
    assert units["net_revenue"] == units["net_revenue_low"] == "EUR"
    assert units["monthly_churn_rate"] == fee_sweep.units["monthly_churn_rate"]
    frontier = pd.read_csv(folder / "frontier.csv", index_col="variant")
    assert frontier["on_frontier"].tolist() == fee_sweep.frontier()["on_frontier"].tolist()
    provenance = json.loads((folder / "sweep.json").read_text())
    assert provenance["base"] == "baseline"
    assert provenance["base_fingerprint"] == fee_sweep.base_fingerprint
    assert provenance["levers"] == ["fees.monthly_fee"]
    assert provenance["settings"] == SETTINGS
    assert provenance["n_variants"] == 3
    assert provenance["simlib_version"] == simlib.__version__
    assert (folder / "frontier.png").read_bytes().startswith(b"\x89PNG")

    with pytest.raises(FileExistsError):
        fee_sweep.save(folder)
    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError):
        fee_sweep.save(occupied)
    assert [p.name for p in occupied.iterdir()] == ["notes.txt"]


def test_frontier_flags_the_pareto_optimal_variants() -> None:
    # (Δ net revenue, Δ complaints per 1,000): more revenue and fewer complaints are better.
    points = [(0, 0), (10, 1), (5, 2), (-1, -1), (10, 1), (10, 3), (-2, -1)]
    expected = [True, True, False, True, True, False, False]
    table = pd.DataFrame(
        {
            "variant": range(len(points)),
            "fees.monthly_fee": [25 + i for i in range(len(points))],
            "net_revenue_difference": [float(r) for r, _ in points],
            "net_revenue_difference_low": [r - 1.0 for r, _ in points],
            "net_revenue_difference_high": [r + 1.0 for r, _ in points],
            "complaints_per_1000_difference": [float(c) for _, c in points],
            "complaints_per_1000_difference_low": [c - 0.5 for _, c in points],
            "complaints_per_1000_difference_high": [c + 0.5 for _, c in points],
        }
    )
    result = SweepResult(
        base="hand-made",
        base_fingerprint="0",
        variants=[{"fees.monthly_fee": 25 + i} for i in range(len(points))],
        table=table,
        settings={},
        units={"net_revenue": "EUR", "complaints_per_1000": "per 1,000/month"},
    )
    frontier = result.frontier()
    assert frontier.index.tolist() == list(range(len(points)))
    assert frontier["on_frontier"].tolist() == expected
    assert frontier["revenue_mean"].tolist() == [float(r) for r, _ in points]
    assert frontier["complaints_high"].tolist() == [c + 0.5 for _, c in points]
    assert frontier["fees.monthly_fee"].tolist() == table["fees.monthly_fee"].tolist()

    ax = result.plot_frontier(ax=Figure().subplots())
    assert sorted(int(t.get_text()) for t in ax.texts) == list(range(len(points)))
