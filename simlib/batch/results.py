"""What a batch leaves: the outcome of a batch run, the manifest and comparison tables written after
every finished run, and :class:`BatchResult`, a finished batch folder read back."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from simlib.analysis.frontier import frontier_table, plot_frontier
from simlib.batch.folders import MANIFEST, RUNS, now
from simlib.batch.plan import BatchPlan
from simlib.errors import InputError
from simlib.files import write_atomic
from simlib.jupyter.execution import (
    SUCCEEDED,
)
from simlib.jupyter.notebook import RESULT_FILE
from simlib.run.metrics import KEY_METRICS
from simlib.run.parquet import write_parquet


@dataclass
class BatchOutcome:
    """What a batch run did: every run's record, and where things are."""

    folder: Path
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    interrupted: bool = False

    @property
    def failed(self) -> list[dict[str, Any]]:
        return [r for r in self.records.values() if r["status"] != SUCCEEDED]

    @property
    def succeeded(self) -> list[dict[str, Any]]:
        return [r for r in self.records.values() if r["status"] == SUCCEEDED]


def _manifest(plan: BatchPlan, outcome: BatchOutcome, executor: str, created: str) -> dict[str, Any]:
    runs = []
    for run in plan.runs:
        record = outcome.records.get(run.run_id, {"status": "pending"})
        runs.append(
            {
                "scenario": run.name,
                "run_id": run.run_id,
                "folder": f"{RUNS}/{run.folder}",
                "scenario_path": run.scenario_path,
                "scenario_sha256": run.scenario_sha256,
                "scenario_fingerprint": run.scenario_fingerprint,
                "seed": run.parameters["seed"],
                **{k: record.get(k) for k in ("status", "error", "cell", "started", "finished", "seconds")},
                "attempts": len(record.get("attempts", [])),
                "reused": bool(record.get("reused")),
            }
        )
    counts: dict[str, int] = {}
    for entry in runs:
        counts[entry["status"]] = counts.get(entry["status"], 0) + 1
    return {
        "batch_id": plan.batch_id,
        "created": created,
        "updated": now(),
        "notebook": {"path": str(plan.notebook), "sha256": plan.notebook_sha256},
        "baseline": {
            "name": plan.baseline.name,
            "path": str(plan.baseline.path.resolve()) if plan.baseline.path else None,
            "sha256": plan.baseline_sha256,
            "fingerprint": plan.baseline.fingerprint(),
        },
        "parameters": {**plan.sizes, "overrides": plan.overrides},
        "executor": executor,
        "versions": plan.versions,
        "counts": counts,
        "runs": runs,
    }


def comparison_table(batch_folder: Path, records: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per succeeded scenario × metric: baseline, reform and paired difference with their
    90% intervals, read from each run's ``result.json``."""
    frames = []
    for record in records:
        if record.get("status") != SUCCEEDED:
            continue
        result = json.loads((batch_folder / record["folder"] / RESULT_FILE).read_text())
        frame = pd.DataFrame.from_dict(result["summary"], orient="index")
        frame.index.name = "metric"
        frame = frame.reset_index()
        frame.insert(0, "run_id", record["run_id"])
        frame.insert(0, "scenario", record["scenario"])
        frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=["scenario", "run_id", "metric"])
    return pd.concat(frames, ignore_index=True)


def write_tables(plan: BatchPlan, outcome: BatchOutcome, executor: str, created: str) -> None:
    """Write the comparison tables and the manifest (last), each atomically."""
    folder = outcome.folder
    manifest = _manifest(plan, outcome, executor, created)
    ordered = [outcome.records[r.run_id] for r in plan.runs if r.run_id in outcome.records]
    table = comparison_table(folder, ordered)
    write_atomic(folder / "comparison.csv", lambda p: table.to_csv(p, index=False))
    # A long table: each row's unit is in its own `unit` column; the metadata says so per column.
    units = {
        c: "see the unit column" for c in table.columns if c.endswith(("_mean", "_low", "_high", "_error"))
    }
    write_atomic(
        folder / "comparison.parquet",
        lambda p: write_parquet(table, p, units, baseline=manifest["baseline"]["name"]),
    )
    write_atomic(folder / MANIFEST, lambda p: Path(p).write_text(json.dumps(manifest, indent=2)))


# --- reading a finished batch ----------------------------------------------------------------------


class BatchResult:
    """A finished (or partly finished) batch folder, read back: manifest, comparison, changes."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        try:
            self.manifest: dict[str, Any] = json.loads((self.folder / MANIFEST).read_text())
        except FileNotFoundError:
            raise InputError(f"{self.folder} is not a batch folder (no {MANIFEST})") from None
        self.comparison: pd.DataFrame = pd.read_parquet(self.folder / "comparison.parquet")

    @property
    def runs(self) -> pd.DataFrame:
        """One row per run: scenario, id, status, error, timings."""
        columns = ["scenario", "run_id", "status", "error", "cell", "seconds", "attempts", "reused", "folder"]
        return pd.DataFrame(self.manifest["runs"])[columns].set_index("scenario")

    def result(self, scenario: str) -> dict[str, Any]:
        """The ``result.json`` of a succeeded run."""
        entry = next(r for r in self.manifest["runs"] if r["scenario"] == scenario)
        return json.loads((self.folder / entry["folder"] / RESULT_FILE).read_text())

    @property
    def scenarios(self) -> list[str]:
        """Succeeded scenarios, in batch order."""
        return [r["scenario"] for r in self.manifest["runs"] if r["status"] == SUCCEEDED]

    def differences(self, metrics: Sequence[str] | None = None) -> pd.DataFrame:
        """Paired differences (reform − baseline) with 90% intervals, one row per scenario × metric."""
        table = self.comparison
        if metrics is not None:
            table = table[table["metric"].isin(metrics)]
        columns = ["scenario", "metric", "difference_mean", "difference_low", "difference_high", "unit"]
        return table[columns].set_index(["scenario", "metric"])

    def key_numbers(self, metrics: Sequence[str] = KEY_METRICS) -> pd.DataFrame:
        """One row per scenario, one column per metric: the paired difference to the baseline as
        ``mean [low, high]`` (90% interval), in each metric's unit."""
        from simlib.style.numbers import estimate

        table = self.differences(metrics)
        frame = pd.DataFrame(
            {
                metric: {
                    scenario: estimate(
                        row["difference_mean"],
                        row["difference_low"],
                        row["difference_high"],
                        "share" if str(row["unit"]).startswith("share") else "",
                        signed=True,
                    )
                    for (scenario, name), row in table.iterrows()
                    if name == metric
                }
                for metric in metrics
            }
        )
        frame.columns = [f"Δ {m.replace('_', ' ')}" for m in metrics]
        return frame.reindex(self.scenarios)

    def changes(self) -> pd.DataFrame:
        """Per scenario, the parameters that differ from the baseline, with both values and units."""
        rows = []
        for scenario in self.scenarios:
            for change in self.result(scenario).get("changes", []):
                rows.append(
                    {
                        "scenario": scenario,
                        "parameter": change["parameter"],
                        "baseline_value": change.get("baseline"),
                        "scenario_value": change.get("scenario"),
                        "unit": change.get("unit"),
                    }
                )
        return pd.DataFrame(
            rows, columns=["scenario", "parameter", "baseline_value", "scenario_value", "unit"]
        )

    def frontier(self, revenue: str = "net_revenue", complaints: str = "complaints_per_1000") -> pd.DataFrame:
        """Per scenario, the paired differences of revenue and complaint rate, and whether the
        scenario is on the frontier (no other has more revenue and fewer complaints)."""
        return frontier_table(self.comparison, revenue, complaints)

    def plot_frontier(
        self, ax: Any = None, revenue: str = "net_revenue", complaints: str = "complaints_per_1000"
    ):
        """Revenue against complaint-rate differences with 90% intervals; the frontier joined."""
        return plot_frontier(self.frontier(revenue, complaints), ax=ax)
