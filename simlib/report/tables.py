"""Plain-text tables for the terminal: summaries, comparisons, parameters, reform documentation."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pandas as pd

from simlib.run.results import SUMMARY_METRICS, Comparison, SimulationResult
from simlib.scenario.scenario import Parameter, Scenario
from simlib.style.numbers import estimate, number

if TYPE_CHECKING:
    from simlib.analysis.optimize import Optimum
    from simlib.analysis.sensitivity import SensitivityResult
    from simlib.analysis.sweep import SweepResult


def _grid(rows: Sequence[Sequence[str]], header: Sequence[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])


def format_summary(result: SimulationResult) -> str:
    summary = result.summary()
    info = result.info
    rows = []
    for metric, (label, _) in SUMMARY_METRICS.items():
        if metric in summary.index:
            row = summary.loc[metric]
            rows.append([label, estimate(row["mean"], row["low"], row["high"], row["unit"]), row["unit"]])
    title = (
        f"{result.scenario.name}: {info.customers:,} customers × {info.months} months × "
        f"{info.replications} replications, seed {info.seed} — mean [90% interval]"
    )
    return title + "\n" + _grid(rows, ["metric", "estimate", "unit"])


def format_comparison(comparison: Comparison) -> str:
    summary = comparison.summary()
    info = comparison.baseline.info
    rows = []
    for metric, (label, _) in SUMMARY_METRICS.items():
        if metric not in summary.index:
            continue
        row = summary.loc[metric]
        unit = row["unit"]
        rows.append(
            [
                label,
                estimate(row["baseline_mean"], row["baseline_low"], row["baseline_high"], unit),
                estimate(row["reform_mean"], row["reform_low"], row["reform_high"], unit),
                estimate(
                    row["difference_mean"], row["difference_low"], row["difference_high"], unit, signed=True
                ),
                unit,
            ]
        )
    for kind, label in (
        ("winners", "Customers whose bill fell > 5%"),
        ("losers", "Customers whose bill rose > 5%"),
    ):
        row = summary.loc[f"{kind}_share"]
        rows.append(
            [
                "  " + label,
                "",
                estimate(row["reform_mean"], row["reform_low"], row["reform_high"], "share"),
                "",
                "share",
            ]
        )
    title = (
        f"{comparison.reform.scenario.name} vs {comparison.baseline.scenario.name}: "
        f"{info.customers:,} customers × {info.months} months × {info.replications} replications, "
        f"seed {info.seed}, paired draws — mean [90% interval]"
    )
    return title + "\n" + _grid(rows, ["metric", "baseline", "reform", "difference", "unit"])


def format_overview(comparisons: Sequence[Comparison], customers: int, replications: int) -> str:
    """One line per policy: paired differences against the baseline on the headline metrics."""
    header = [
        "policy",
        "Δ net revenue",
        "Δ monthly churn",
        "Δ complaints /1000",
        "Δ escalations /100k/qtr",
        "Δ owed to customers",
        "breaches",
    ]
    rows = []
    for comparison in comparisons:
        summary = comparison.summary()

        def cell(metric: str, unit: str = "", summary=summary) -> str:
            row = summary.loc[metric]
            return estimate(
                row["difference_mean"], row["difference_low"], row["difference_high"], unit, signed=True
            )

        breaches = summary.loc["compliance_breaches"]
        rows.append(
            [
                comparison.reform.scenario.name,
                cell("net_revenue"),
                cell("monthly_churn_rate", "share"),
                cell("complaints_per_1000"),
                cell("escalations_per_100000_per_quarter"),
                cell("overcharges_owed"),
                number(breaches["reform_mean"]),
            ]
        )
    baseline = comparisons[0].baseline if comparisons else None
    title = "Every policy against the baseline (reform − baseline, mean [90% interval])"
    if baseline is not None:
        info = baseline.info
        base = baseline.summary()
        title += (
            f"\n{customers:,} customers × {info.months} months × {replications} replications, "
            f"seed {info.seed}; "
            f"baseline net revenue {estimate(*base.loc['net_revenue', ['mean', 'low', 'high']], '')} "
            f"{baseline.currency}, monthly churn "
            f"{estimate(*base.loc['monthly_churn_rate', ['mean', 'low', 'high']], 'share')}, complaints/1000 "
            f"{estimate(*base.loc['complaints_per_1000', ['mean', 'low', 'high']])}, overcharges owed "
            f"to customers {estimate(*base.loc['overcharges_owed', ['mean', 'low', 'high']])} "
            f"{baseline.currency} (not revenue)"
        )
    return title + "\n" + _grid(rows, header)


def _value(value: object) -> str:
    if isinstance(value, float):
        # 12 significant digits: `g` alone keeps 6, so a diff could show two different values alike.
        return f"{value:.12g}"
    if value is None:
        return "(none)"
    return str(value)


def _origin(origin: str, scenario: Scenario) -> str:
    """'default', 'set in FILE', 'inherited from FILE' or 'set on the command line'."""
    if origin == "default":
        return "default"
    if scenario.path is not None and origin == scenario.path.name:
        return f"set in {origin}"
    if origin.endswith((".yaml", ".yml")):
        return f"inherited from {origin}"
    return f"set on the {origin}"


def format_parameters(scenario: Scenario, sources: bool = False) -> str:
    header = ["parameter", "value", "unit", "origin", "label"] + (["source"] if sources else [])
    rows = []
    for p in scenario.parameters():
        origin = _origin(p.origin, scenario)
        row = [p.path, _value(p.value), p.unit, origin, p.label]
        if sources:
            row.append(p.source or "")
        rows.append(row)
    return _grid(rows, header)


def format_diff(pairs: list[tuple[Parameter, Parameter | None]], base: str, other: str) -> str:
    if not pairs:
        return f"{other} and {base} have the same parameters"

    def shown(parameter: Parameter | None) -> str:
        return "(not set)" if parameter is None or parameter.origin == "absent" else _value(parameter.value)

    rows = [[p.path, shown(p), shown(q), p.unit] for p, q in pairs]
    return _grid(rows, ["parameter", base, other, "unit"])


def format_batch(records: Sequence[dict], comparison: pd.DataFrame) -> str:
    """One line per run: its status and, when it succeeded, the headline paired differences."""
    header = ["scenario", "status", "Δ net revenue", "Δ monthly churn", "Δ complaints /1000", "seconds"]
    rows = []
    for record in records:
        part = comparison[comparison["scenario"] == record["scenario"]].set_index("metric")

        def cell(metric: str, unit: str = "", part=part) -> str:
            if metric not in part.index:
                return "–"
            row = part.loc[metric]
            return estimate(
                row["difference_mean"], row["difference_low"], row["difference_high"], unit, signed=True
            )

        status = record["status"] + (" (kept)" if record.get("reused") else "")
        seconds = record.get("seconds")
        rows.append(
            [
                record["scenario"],
                status,
                cell("net_revenue"),
                cell("monthly_churn_rate", "share"),
                cell("complaints_per_1000"),
                "" if seconds is None else f"{seconds:.1f}",
            ]
        )
    return "Every policy against the baseline (reform − baseline, mean [90% interval])\n" + _grid(
        rows, header
    )


def format_sweep(result: SweepResult) -> str:
    """The frontier variants: their levers and paired differences with 90% intervals."""
    frontier = result.frontier()
    levers = result.levers
    header = ["variant", *levers, "Δ net revenue", "Δ complaints /1000", "on frontier"]
    rows = []
    for variant, row in frontier.sort_values("complaints_mean").iterrows():
        rows.append(
            [
                str(variant),
                *(_value(row[lever]) for lever in levers),
                estimate(row["revenue_mean"], row["revenue_low"], row["revenue_high"], signed=True),
                estimate(row["complaints_mean"], row["complaints_low"], row["complaints_high"], signed=True),
                "yes" if row["on_frontier"] else "",
            ]
        )
    title = (
        f"{len(frontier)} variants of {result.base} against it (variant − base, mean [90% interval]), "
        "by complaint rate"
    )
    return title + "\n" + _grid(rows, header)


def format_optimum(optimum: Optimum) -> str:
    """The optimal lever values, the objective with its interval, and how binding each limit is."""
    mean, low, high = optimum.objective_estimate
    lines = [
        f"Optimum after {optimum.evaluations} paired evaluations"
        + ("" if optimum.feasible else " — NO point met every constraint; the least infeasible is shown"),
    ]
    rows = [[lever.path, _value(value)] for lever, value in zip(optimum.levers, optimum.values, strict=True)]
    rows.append([f"Δ {optimum.objective} vs base", estimate(mean, low, high, signed=True)])
    lines.append(_grid(rows, ["", "value [90% interval]"]))
    table = optimum.constraint_table()
    if len(table):
        constraint_rows = [
            [r.constraint, number(r.value), number(r.limit), number(r.slack), "binding" if r.binding else ""]
            for r in table.itertuples()
        ]
        lines.append(_grid(constraint_rows, ["constraint", "value", "limit", "slack", ""]))
    return "\n".join(lines)


def format_sensitivity(result: SensitivityResult, output: str) -> str:
    """The ranked parameters for one output: indices and the tornado's swing."""
    table = result.summary(output)
    if result.method == "sobol":
        header = ["rank", "parameter", "range", "S1 (first order)", "ST (total)", "tornado swing"]
        values = [
            [f"{row.S1:.2f} ± {row.S1_conf:.2f}", f"{row.ST:.2f} ± {row.ST_conf:.2f}"]
            for row in table.itertuples()
        ]
    else:
        header = ["rank", "parameter", "range", "μ* (mean |effect|)", "σ", "tornado swing"]
        values = [
            [f"{number(row.mu_star)} ± {number(row.mu_star_conf)}", number(row.sigma)]
            for row in table.itertuples()
        ]
    rows = [
        [
            str(row["rank"]),
            str(name),
            f"{number(row['low'])}–{number(row['high'])} {row['unit']}",
            *extra,
            number(row["swing"]),
        ]
        for (name, row), extra in zip(table.iterrows(), values, strict=True)
    ]
    what = f"Δ {output} (reform − base)" if result.paired else output
    title = f"What {what} depends on ({result.method}, {result.settings.get('evaluations', '?')} model runs)"
    return title + "\n" + _grid(rows, header)


def format_calibration(summary: pd.DataFrame) -> str:
    """Each fitted parameter: estimate ± standard error, 95% interval, unit, and what it came from."""
    rows = [
        [
            row.parameter,
            f"{row.estimate:.4g} ± {row.std_error:.2g}",
            f"[{row.ci_95_low:.4g}, {row.ci_95_high:.4g}]",
            row.unit,
            f"{row.source.rsplit('/', 1)[-1]}",
        ]
        for row in summary.itertuples()
    ]
    header = ["parameter", "estimate ± SE", "95% interval", "unit", "from"]
    return "Fitted by maximum likelihood\n" + _grid(rows, header)
