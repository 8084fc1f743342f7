"""Plain-text tables for the terminal: summaries, comparisons, parameters, reform documentation."""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import pandas as pd

from simlib.report.changes import describe_changes, describe_value
from simlib.run.results import SUMMARY_METRICS, Comparison, SimulationResult
from simlib.scenario.scenario import Scenario
from simlib.style.numbers import Numbers, digits_for, kind_of

if TYPE_CHECKING:
    from simlib.analysis.optimize import Optimum
    from simlib.analysis.sensitivity import SensitivityResult
    from simlib.analysis.sweep import SweepResult

#: Width used when the terminal's is unknown (output to a file or a pipe, no COLUMNS).
FALLBACK_WIDTH = 100
#: Narrowest a wrapped label column becomes.
MIN_LABEL_WIDTH = 16


def terminal_width() -> int:
    """Columns of the terminal (the COLUMNS variable first), or :data:`FALLBACK_WIDTH`."""
    return shutil.get_terminal_size((FALLBACK_WIDTH, 24)).columns


def _pieces(text: str, width: int) -> list[str]:
    """A cell's lines within ``width``: an estimate breaks before its interval, words after that."""
    if len(text) <= width:
        return [text]
    head, bracket, tail = text.partition(" (")
    if bracket and len(head) <= width:
        return [head, *_pieces("(" + tail, width)]
    return textwrap.wrap(text, max(width, 1), break_on_hyphens=False) or [""]


def grid(
    rows: Sequence[Sequence[str]],
    header: Sequence[str],
    wrap: Mapping[int, int] | None = None,
    width: int | None = None,
) -> str:
    """A plain-text table, columns separated by two spaces, that fits ``width`` (the terminal's).

    Parameters
    ----------
    rows, header : the cells.
    wrap : the columns that may wrap onto more lines, with the narrowest each may become (0: the
        longest mean or interval of an estimate, which breaks only before its interval). The widest
        wrappable column shrinks first; a table that cannot fit stays as narrow as allowed.
    width : characters per line; by default :func:`terminal_width`.
    """
    width = terminal_width() if width is None else width
    rows = [[str(c) for c in r] for r in rows]
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    floors = {}
    for column, floor in (wrap or {}).items():
        if floor == 0:  # an estimate: its mean and its interval each stay on one line
            floor = max(len(p) for r in rows for p in str(r[column]).split(" (", 1)) if rows else 1
        # Key paths, units and headers (file names) stay whole: they are copied, not read.
        floors[column] = min(widths[column], max([floor, *map(len, str(header[column]).split())]))
    # Shrink the widest wrappable column, one character at a time, until the table fits: long
    # labels and headers (file names) wrap before anything overflows.
    while sum(widths) + 2 * (len(widths) - 1) > width:
        shrinkable = [c for c in floors if widths[c] > floors[c]]
        if not shrinkable:
            break
        widths[max(shrinkable, key=lambda c: widths[c])] -= 1
    lines = []
    for cells in [list(header), ["-" * w for w in widths], *rows]:
        parts = [
            _pieces(c, w) if i in floors or len(c) > w else [c]
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        for k in range(max(len(p) for p in parts)):
            line = "  ".join(
                (p[k] if k < len(p) else "").ljust(w) for p, w in zip(parts, widths, strict=True)
            )
            lines.append(line.rstrip())
    return "\n".join(lines)


def _currency(units: Mapping[str, str], default: str = "EUR") -> str:
    """The currency code of the first money unit (summaries carry it in their `unit` column)."""
    for unit in units.values():
        if kind_of(str(unit)) == "money":
            return str(unit).split("/", 1)[0]
    return default


def _estimate(numbers: Numbers, row: pd.Series, prefix: str, unit: str) -> str:
    """``prefix``_mean/low/high of a summary row, in the unit's kind (a difference is signed)."""
    difference = prefix == "difference"
    kind = kind_of(unit, difference=difference)
    return numbers.estimate(
        row[f"{prefix}_mean"], row[f"{prefix}_low"], row[f"{prefix}_high"], kind, signed=difference
    )


def format_summary(result: SimulationResult) -> str:
    summary = result.summary()
    info = result.info
    numbers = Numbers(currency=result.currency)
    rows = []
    for metric, (label, _) in SUMMARY_METRICS.items():
        if metric in summary.index:
            row = summary.loc[metric]
            kind = kind_of(row["unit"])
            rows.append([label, numbers.estimate(row["mean"], row["low"], row["high"], kind), row["unit"]])
    title = (
        f"{result.scenario.name}: {info.customers:,} customers × {info.months} months × "
        f"{info.replications} replications, seed {info.seed} — mean (90% interval)"
    )
    return title + "\n" + grid(rows, ["metric", "estimate", "unit"], wrap={0: MIN_LABEL_WIDTH, 1: 0})


def format_comparison(comparison: Comparison) -> str:
    summary = comparison.summary()
    info = comparison.baseline.info
    numbers = Numbers(currency=comparison.baseline.currency)
    rows = []
    for metric, (label, _) in SUMMARY_METRICS.items():
        if metric not in summary.index:
            continue
        row = summary.loc[metric]
        unit = row["unit"]
        rows.append(
            [
                label,
                *(_estimate(numbers, row, prefix, unit) for prefix in ("baseline", "reform", "difference")),
                unit,
            ]
        )
    for kind, label in (
        ("winners", "Customers whose bill fell > 5%"),
        ("losers", "Customers whose bill rose > 5%"),
    ):
        row = summary.loc[f"{kind}_share"]
        rows.append(["  " + label, "", _estimate(numbers, row, "reform", "share"), "", "share"])
    title = (
        f"{comparison.reform.scenario.name} vs {comparison.baseline.scenario.name}: "
        f"{info.customers:,} customers × {info.months} months × {info.replications} replications, "
        f"seed {info.seed}, paired draws — mean (90% interval)"
    )
    header = ["metric", "baseline", "reform", "difference", "unit"]
    return title + "\n" + grid(rows, header, wrap={0: MIN_LABEL_WIDTH, 1: 0, 2: 0, 3: 0})


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
    metrics = (
        "net_revenue",
        "monthly_churn_rate",
        "complaints_per_1000",
        "escalations_per_100000_per_quarter",
        "overcharges_owed",
    )
    baseline = comparisons[0].baseline if comparisons else None
    numbers = Numbers(currency=baseline.currency if baseline is not None else "EUR")
    rows = []
    for comparison in comparisons:
        summary = comparison.summary()
        breaches = summary.loc["compliance_breaches"]
        rows.append(
            [
                comparison.reform.scenario.name,
                *(_estimate(numbers, summary.loc[m], "difference", summary.loc[m, "unit"]) for m in metrics),
                numbers.count(breaches["reform_mean"]),
            ]
        )
    title = "Every policy against the baseline (reform − baseline, mean (90% interval))"
    if baseline is not None:
        info = baseline.info
        base = baseline.summary()

        def shown(metric: str) -> str:
            row = base.loc[metric]
            return numbers.estimate(row["mean"], row["low"], row["high"], kind_of(row["unit"]))

        title += (
            f"\n{customers:,} customers × {info.months} months × {replications} replications, "
            f"seed {info.seed}; baseline net revenue {shown('net_revenue')}, monthly churn "
            f"{shown('monthly_churn_rate')}, complaints/1000 {shown('complaints_per_1000')}, "
            f"overcharges owed to customers {shown('overcharges_owed')} (not revenue)"
        )
    return title + "\n" + grid(rows, header, wrap=dict.fromkeys(range(1, 6), 0))


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
    """Every resolved parameter: its value for people, unit, origin and label (and source)."""
    header = ["parameter", "value", "unit", "origin", "label"] + (["source"] if sources else [])
    rows = []
    for p in scenario.parameters():
        value = describe_value(scenario, p.path, units=False)
        if isinstance(p.value, str) and " (drawn jointly: " in p.value:
            value += " (drawn jointly: " + p.value.split(" (drawn jointly: ", 1)[1]
        row = [p.path, value, p.unit, _origin(p.origin, scenario), p.label]
        if sources:
            row.append(p.source or "")
        rows.append(row)
    wrap = {1: 10, 4: 12} | ({5: 12} if sources else {})
    return grid(rows, header, wrap=wrap)


def format_diff(base: Scenario, other: Scenario, base_name: str, other_name: str) -> str:
    """What ``other`` changes against ``base``: one row per change, both values for people."""
    changes = describe_changes(base, other)
    if not changes:
        return f"{other_name} and {base_name} have the same parameters"
    rows = [[c.key_path, c.before, c.after, c.label] for c in changes]
    header = ["parameter", base_name, other_name, "label"]
    return grid(rows, header, wrap={1: MIN_LABEL_WIDTH, 2: MIN_LABEL_WIDTH, 3: MIN_LABEL_WIDTH})


def format_batch(records: Sequence[dict], comparison: pd.DataFrame) -> str:
    """One line per run: its status and, when it succeeded, the headline paired differences."""
    header = ["scenario", "status", "Δ net revenue", "Δ monthly churn", "Δ complaints /1000", "seconds"]
    numbers = Numbers(currency=_currency(dict(enumerate(comparison.get("unit", pd.Series(dtype=str))))))
    rows = []
    for record in records:
        part = comparison[comparison["scenario"] == record["scenario"]].set_index("metric")

        def cell(metric: str, part: pd.DataFrame = part) -> str:
            if metric not in part.index:
                return "–"
            return _estimate(numbers, part.loc[metric], "difference", part.loc[metric, "unit"])

        status = record["status"] + (" (kept)" if record.get("reused") else "")
        seconds = record.get("seconds")
        rows.append(
            [
                record["scenario"],
                status,
                cell("net_revenue"),
                cell("monthly_churn_rate"),
                cell("complaints_per_1000"),
                "" if seconds is None else f"{seconds:.1f}",
            ]
        )
    title = "Every policy against the baseline (reform − baseline, mean (90% interval))\n"
    return title + grid(rows, header, wrap={2: 0, 3: 0, 4: 0})


def _lever(numbers: Numbers, path: str, value: float) -> str:
    """A lever's value as stated, in its parameter's kind ("€27.50", "25%", "3")."""
    from simlib.model.parameters import schema_extra

    return numbers.stated(value, kind_of(str(schema_extra(path).get("unit", ""))))


def format_sweep(result: SweepResult) -> str:
    """The frontier variants: their levers and paired differences with 90% intervals."""
    frontier = result.frontier()
    levers = result.levers
    numbers = Numbers(currency=_currency(result.units))
    header = ["variant", *levers, "Δ net revenue", "Δ complaints /1000", "on frontier"]
    rows = []
    for variant, row in frontier.sort_values("complaints_mean").iterrows():
        rows.append(
            [
                str(variant),
                *(_lever(numbers, lever, row[lever]) for lever in levers),
                numbers.estimate(
                    row["revenue_mean"], row["revenue_low"], row["revenue_high"], "money", signed=True
                ),
                numbers.estimate(
                    row["complaints_mean"], row["complaints_low"], row["complaints_high"], "rate", signed=True
                ),
                "yes" if row["on_frontier"] else "",
            ]
        )
    title = (
        f"{len(frontier)} variants of {result.base} against it (variant − base, mean (90% interval)), "
        "by complaint rate"
    )
    wrap = {i: MIN_LABEL_WIDTH for i in range(1, len(levers) + 1)} | {len(levers) + 1: 0, len(levers) + 2: 0}
    return title + "\n" + grid(rows, header, wrap=wrap)


def _metric_kind(metric: str, difference: bool = False) -> str:
    """The kind of a summary metric (a rate when the catalogue does not know it)."""
    return kind_of(SUMMARY_METRICS.get(metric, ("", ""))[1].replace("{cur}", "EUR"), difference=difference)


def format_optimum(optimum: Optimum) -> str:
    """The optimal lever values, the objective with its interval, and how binding each limit is."""
    numbers = Numbers()
    mean, low, high = optimum.objective_estimate
    lines = [
        f"Optimum after {optimum.evaluations} paired evaluations"
        + ("" if optimum.feasible else " — NO point met every constraint; the least infeasible is shown"),
    ]
    rows = [
        [lever.path, _lever(numbers, lever.path, value)]
        for lever, value in zip(optimum.levers, optimum.values, strict=True)
    ]
    objective = _metric_kind(optimum.objective, difference=True)
    rows.append([f"Δ {optimum.objective} vs base", numbers.estimate(mean, low, high, objective, signed=True)])
    lines.append(grid(rows, ["", "value (90% interval)"], wrap={0: MIN_LABEL_WIDTH, 1: 0}))
    table = optimum.constraint_table()
    if len(table):
        constraint_rows = []
        for r in table.itertuples():
            kind = _metric_kind(r.metric)
            slack = (
                numbers.points(r.slack)
                if kind == "share"
                else numbers.estimate(r.slack, None, None, kind, signed=True)
            )
            constraint_rows.append(
                [r.constraint, numbers.margin(r.value, r.limit, kind), slack, "binding" if r.binding else ""]
            )
        lines.append(grid(constraint_rows, ["constraint", "value", "slack", ""], wrap={0: MIN_LABEL_WIDTH}))
    return "\n".join(lines)


def format_sensitivity(result: SensitivityResult, output: str) -> str:
    """The ranked parameters for one output: indices and the tornado's swing."""
    table = result.summary(output)
    numbers = Numbers()
    if result.method == "sobol":
        header = ["rank", "parameter", "range", "S1 (first order)", "ST (total)", "tornado swing"]
        values = [
            [f"{row.S1:.2f} ± {row.S1_conf:.2f}", f"{row.ST:.2f} ± {row.ST_conf:.2f}"]
            for row in table.itertuples()
        ]
    else:
        header = ["rank", "parameter", "range", "μ* (mean |effect|)", "σ", "tornado swing"]
        values = [
            [f"{numbers.rate(row.mu_star)} ± {numbers.rate(row.mu_star_conf)}", numbers.rate(row.sigma)]
            for row in table.itertuples()
        ]
    rows = [
        [
            str(row["rank"]),
            str(name),
            f"{numbers.rate(row['low'])} to {numbers.rate(row['high'])} {row['unit']}",
            *extra,
            numbers.rate(row["swing"]),
        ]
        for (name, row), extra in zip(table.iterrows(), values, strict=True)
    ]
    what = f"Δ {output} (reform − base)" if result.paired else output
    title = f"What {what} depends on ({result.method}, {result.settings.get('evaluations', '?')} model runs)"
    return title + "\n" + grid(rows, header, wrap={2: MIN_LABEL_WIDTH})


def format_calibration(summary: pd.DataFrame) -> str:
    """Each fitted parameter: estimate ± standard error, 95% interval, unit, and what it came from."""
    numbers = Numbers()
    rows = []
    for row in summary.itertuples():
        # Digits fitted to the 95% interval; the standard error to two significant digits.
        decimals = digits_for(row.ci_95_low, row.ci_95_high)
        rows.append(
            [
                row.parameter,
                f"{numbers.rate(row.estimate, digits=decimals)} ± {numbers.rate(row.std_error)}",
                numbers.interval(row.ci_95_low, row.ci_95_high, "rate"),
                row.unit,
                f"{row.source.rsplit('/', 1)[-1]}",
            ]
        )
    header = ["parameter", "estimate ± SE", "95% interval", "unit", "from"]
    return "Fitted by maximum likelihood\n" + grid(rows, header, wrap={4: MIN_LABEL_WIDTH})
