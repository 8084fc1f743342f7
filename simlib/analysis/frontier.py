"""The revenue–complaints frontier of a set of policies or sweep variants (Pareto: more revenue,
fewer complaints), as a table and as a chart."""

from __future__ import annotations

from typing import Any

import pandas as pd


def frontier_table(
    table: pd.DataFrame, revenue: str, complaints: str, label: str = "scenario"
) -> pd.DataFrame:
    """From a long table (label, metric, difference_mean/low/high): one row per label with both
    metrics' differences and an ``on_frontier`` flag (Pareto: higher revenue, fewer complaints)."""
    wide = {}
    for metric, short in ((revenue, "revenue"), (complaints, "complaints")):
        part = table[table["metric"] == metric].set_index(label)
        for column in ("difference_mean", "difference_low", "difference_high"):
            wide[f"{short}_{column.split('_')[1]}"] = part[column]
        wide[f"{short}_unit"] = part["unit"]
    frame = pd.DataFrame(wide)
    frame.index.name = label
    values = frame[["revenue_mean", "complaints_mean"]].to_numpy()
    dominated = [
        any(
            (other[0] >= mine[0] and other[1] <= mine[1]) and (other[0] > mine[0] or other[1] < mine[1])
            for other in values
        )
        for mine in values
    ]
    frame["on_frontier"] = [not d for d in dominated]
    return frame


def plot_frontier(frame: pd.DataFrame, ax: Any = None, annotate: bool = True):
    """Scatter of revenue against complaint-rate differences with 90% interval bars."""
    import matplotlib.pyplot as plt

    ax = ax or plt.subplots(figsize=(7.5, 5))[1]
    ax.errorbar(
        frame["complaints_mean"],
        frame["revenue_mean"],
        xerr=[
            frame["complaints_mean"] - frame["complaints_low"],
            frame["complaints_high"] - frame["complaints_mean"],
        ],
        yerr=[frame["revenue_mean"] - frame["revenue_low"], frame["revenue_high"] - frame["revenue_mean"]],
        fmt="o",
        alpha=0.6,
        capsize=2,
        label="policy (90% intervals)",
    )
    front = frame[frame["on_frontier"]].sort_values("complaints_mean")
    ax.plot(front["complaints_mean"], front["revenue_mean"], "-", color="tab:red", label="frontier")
    if annotate and len(frame) <= 30:
        for name, row in frame.iterrows():
            ax.annotate(str(name), (row["complaints_mean"], row["revenue_mean"]), fontsize=7, alpha=0.8)
    ax.axhline(0.0, color="grey", linewidth=0.8)
    ax.axvline(0.0, color="grey", linewidth=0.8)
    ax.set_xlabel(f"Δ complaints per 1,000 customers ({frame['complaints_unit'].iloc[0]})")
    ax.set_ylabel(f"Δ net revenue ({frame['revenue_unit'].iloc[0]})")
    ax.set_title("Revenue against complaints, versus the baseline")
    ax.legend(fontsize=8)
    return ax
