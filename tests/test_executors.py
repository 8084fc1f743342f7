"""Executors: the same numbers in-process, on a local pool and on a real Dask LocalCluster."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from dask.distributed import LocalCluster

import simlib
from simlib.batch.batch import run_batch
from simlib.batch.plan import plan_batch
from simlib.errors import InputError
from simlib.run.executors import InProcessExecutor, open_executor

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "batch"
# Several chunks per replication, so the cluster really splits the population.
SIZE = {"customers": 9_000, "months": 8, "replications": 3, "seed": 5, "chunk_size": 4096, "progress": False}


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address="127.0.0.1:0"
    ) as running:
        yield running


def test_a_comparison_on_dask_is_bit_identical_to_the_local_runs(cluster: LocalCluster) -> None:
    base, reform = SCENARIOS / "baseline.yaml", SCENARIOS / "adaptive_penalty_review.yaml"
    in_process = simlib.compare(base, reform, workers=1, **SIZE)
    pool = simlib.compare(base, reform, workers=2, **SIZE)
    dask = simlib.compare(base, reform, scheduler=cluster.scheduler_address, **SIZE)
    for other in (pool, dask):
        assert np.array_equal(other.baseline.counts, in_process.baseline.counts)
        assert np.array_equal(other.reform.counts, in_process.reform.counts)
        assert np.array_equal(other.winners_losers_counts, in_process.winners_losers_counts)
    assert in_process.reform.info.rule_actions == dask.reform.info.rule_actions
    assert np.any(in_process.reform.counts != in_process.baseline.counts), "the policy changes something"


def test_a_batch_on_dask_gives_the_local_batch_numbers(cluster: LocalCluster, tmp_path: Path) -> None:
    plan = plan_batch(
        [FIXTURES / "steady.yaml", FIXTURES / "steady_too.yaml"],
        SCENARIOS / "baseline.yaml",
        customers=600,
        months=6,
        replications=2,
        notebook=FIXTURES / "misbehaving.ipynb",
    )
    local = run_batch(plan, tmp_path / "local", workers=2, progress=False)
    dask = run_batch(plan, tmp_path / "dask", scheduler=cluster.scheduler_address, progress=False)
    assert [r["status"] for r in dask.records.values()] == ["succeeded", "succeeded"]
    assert list(local.records) == list(dask.records)  # same run ids
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / "local" / "comparison.parquet"),
        pd.read_parquet(tmp_path / "dask" / "comparison.parquet"),
        check_exact=True,
    )


def test_scheduler_local_starts_its_own_cluster() -> None:
    size = {**SIZE, "customers": 5000, "replications": 2}
    alone = simlib.simulate(SCENARIOS / "penalty_fee.yaml", **size)
    on_dask = simlib.simulate(SCENARIOS / "penalty_fee.yaml", scheduler="local", workers=2, **size)
    assert np.array_equal(alone.counts, on_dask.counts)


def test_an_unreachable_scheduler_is_a_clear_error() -> None:
    with (
        pytest.raises(InputError, match="cannot reach the Dask scheduler"),
        open_executor(1, "tcp://127.0.0.1:9"),
    ):
        pass


def test_the_in_process_executor_hands_errors_to_the_caller() -> None:
    future = InProcessExecutor().submit(lambda: 1 / 0)
    assert isinstance(future.exception(), ZeroDivisionError)
    assert list(InProcessExecutor().map(lambda x: x * 2, [1, 2, 3])) == [2, 4, 6]


def test_a_sweep_on_dask_gives_the_local_table(cluster: LocalCluster) -> None:
    from simlib.analysis.sweep import grid_variants, run_sweep

    base = simlib.load(SCENARIOS / "baseline.yaml")
    variants = grid_variants({"fees.monthly_fee": [23, 27], "fees.penalty_fee": [0, 6]})
    size = {"customers": 1500, "months": 6, "replications": 2, "seed": 3, "progress": False}
    local = run_sweep(base, variants, workers=2, **size)
    dask = run_sweep(base, variants, scheduler=cluster.scheduler_address, **size)
    pd.testing.assert_frame_equal(local.table, dask.table, check_exact=True)


def test_a_sensitivity_analysis_on_dask_gives_the_local_indices(cluster: LocalCluster) -> None:
    from simlib.analysis.sensitivity import run_sensitivity

    arguments = {
        "method": "morris",
        "samples": 2,
        "customers": 500,
        "months": 8,
        "replications": 2,
        "progress": False,
    }
    base, reform = SCENARIOS / "baseline.yaml", SCENARIOS / "fee_increase_without_notice.yaml"
    local = run_sensitivity(base, reform, workers=2, **arguments)
    dask = run_sensitivity(base, reform, scheduler=cluster.scheduler_address, **arguments)
    pd.testing.assert_frame_equal(local.table, dask.table, check_exact=True)
    pd.testing.assert_frame_equal(local.samples, dask.samples, check_exact=True)
