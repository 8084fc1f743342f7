"""Decision tools: ``sweep``, ``optimize``, ``sensitivity`` and ``calibrate``."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import click

from simlib.cli.options import (
    echo,
    force_option,
    friendly_errors,
    load_scenario,
    output_folder,
    resume_option,
    scheduler_option,
    with_sample_options,
)
from simlib.errors import InputError

MAX_VARIANTS = 1_000  # a larger sweep needs --max-variants (README, "Sweeps")
OBJECTIVES = ("npv_net_revenue", "net_revenue", "gross_revenue")
"""The choices of ``optimize --objective``: :data:`simlib.analysis.optimize.OBJECTIVES`, repeated here so
that --help needs no numpy (a test checks they agree)."""

#: What ``simlib calibrate`` writes into its --out folder.
CALIBRATED = "calibrated.yaml"
CALIBRATION_TABLE = "calibration.csv"
FIT_CHART = "fit.png"


@click.command()
@click.argument("base", type=click.Path(dir_okay=False))
@click.option(
    "--grid", "grids", multiple=True, metavar="KEY.PATH=V1,V2,...", help="Values to try (repeatable)."
)
@click.option("--sample", type=click.IntRange(min=1), help="Number of variants drawn in the --range box.")
@click.option(
    "--range", "ranges", multiple=True, metavar="KEY.PATH=LO:HI", help="A lever's range for --sample."
)
@click.option(
    "--design-seed",
    "sample_seed",
    type=click.IntRange(min=0),
    default=0,
    envvar="SIMLIB_SWEEP_DESIGN_SEED",
    help="Seed of the --sample draw.",
)
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Folder for the sweep table.")
@force_option
@resume_option()
@click.option(
    "--max-variants",
    type=click.IntRange(min=1),
    default=MAX_VARIANTS,
    show_default=True,
    help="Refuse a grid or sample of more variants than this (raise it to confirm a larger sweep).",
)
@with_sample_options
@click.option(
    "--workers",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Variants at once (0: all cores).",
)
@scheduler_option
@click.option("--quiet", is_flag=True, help="No progress bar.")
@friendly_errors
def sweep(
    base: str,
    grids: tuple[str, ...],
    sample: int | None,
    ranges: tuple[str, ...],
    sample_seed: int,
    out: str,
    force: bool,
    resume: bool,
    max_variants: int,
    workers: int,
    scheduler: str | None,
    quiet: bool,
    **size: Any,
) -> None:
    """Evaluate many variants of BASE without notebooks, each paired with BASE on the same draws.

    Either a grid (every combination of the --grid values) or --sample N points in the box of
    --range bounds (Latin hypercube). Writes OUT/sweep.csv (one row per variant: levers, metrics
    and paired differences with 90% intervals) and the revenue-versus-complaints frontier.
    """
    from simlib.analysis.sweep import grid_variants, parse_grid, parse_range, run_sweep, sample_variants
    from simlib.report import tables

    if bool(grids) == bool(sample):
        raise InputError("give either --grid KEY.PATH=V1,V2,... or --sample N with --range KEY.PATH=LO:HI")
    if sample and not ranges:
        raise InputError("--sample needs at least one --range KEY.PATH=LO:HI")
    if ranges and not sample:
        raise InputError("--range is used with --sample N")
    if grids:
        grid = dict(parse_grid(g) for g in grids)
        count = math.prod(len(values) for values in grid.values())
        if count > max_variants:
            raise InputError(
                f"the grid has {count:,} variants, more than --max-variants {max_variants:,}; "
                "at a few seconds each that is too long to start unasked: use fewer values, or "
                "raise --max-variants"
            )
        variants = grid_variants(grid)
    else:
        assert sample is not None
        if sample > max_variants:
            raise InputError(f"--sample {sample:,} is more than --max-variants {max_variants:,}")
        variants = sample_variants(dict(parse_range(r) for r in ranges), sample, sample_seed)
    loaded = load_scenario(base)
    # Claimed before any work; a folder the claim created is removed again if the variants are
    # then rejected, so nothing is left behind.
    with output_folder(out, force, resume, "sweep"):
        result = run_sweep(loaded, variants, workers=workers, scheduler=scheduler, progress=not quiet, **size)
        result.save(out)
    echo(tables.format_sweep(result))
    echo(f"results: {out}/ (sweep.csv, frontier.png)")


@click.command()
@click.argument("base", type=click.Path(dir_okay=False))
@click.option(
    "--lever", "levers", multiple=True, required=True, metavar="KEY.PATH=LO:HI", help="A lever and its range."
)
@click.option("--objective", type=click.Choice(OBJECTIVES), default="npv_net_revenue", show_default=True)
@click.option("--max-complaints-per-1000", type=click.FloatRange(min=0), help="Complaint limit (mean level).")
@click.option(
    "--max-monthly-churn", type=click.FloatRange(min=0, max=1), help="Churn limit, a share (0.02 = 2%)."
)
@click.option(
    "--grid-points", type=click.IntRange(min=2), default=7, show_default=True, help="Starting grid per lever."
)
@click.option(
    "--out", required=True, type=click.Path(file_okay=False), help="Folder for optimum.yaml and the trace."
)
@force_option
@resume_option()
@with_sample_options
@click.option("--workers", type=click.IntRange(min=0), default=0, show_default=True, help="0: all cores.")
@scheduler_option
@friendly_errors
def optimize(
    base: str,
    levers: tuple[str, ...],
    out: str,
    force: bool,
    resume: bool,
    objective: str,
    max_complaints_per_1000: float | None,
    max_monthly_churn: float | None,
    grid_points: int,
    workers: int,
    scheduler: str | None,
    **size: Any,
) -> None:
    """Find the lever values that maximise the objective (paired difference to BASE) under the
    constraints; write the optimal policy as OUT/optimum.yaml, a scenario extending BASE."""
    from simlib.analysis.optimize import check_levers, optimise_policy, parse_lever
    from simlib.report import tables

    scenario = load_scenario(base)
    parsed = check_levers(scenario, [parse_lever(text) for text in levers])
    with output_folder(out, force, resume, "optimize"):
        result = optimise_policy(
            scenario,
            parsed,
            objective=objective,
            max_complaints_per_1000=max_complaints_per_1000,
            max_monthly_churn=max_monthly_churn,
            grid_points=grid_points,
            workers=workers,
            scheduler=scheduler,
            **size,
        )
        result.save(out)
    echo(tables.format_optimum(result.optimum))
    echo(f"optimal policy: {Path(out) / 'optimum.yaml'} (trace.csv: every point evaluated)")


@click.command()
@click.argument("base", type=click.Path(dir_okay=False))
@click.option(
    "--reform", type=click.Path(dir_okay=False), help="Analyse the paired difference reform − BASE."
)
@click.option(
    "--param",
    "parameters",
    multiple=True,
    metavar="KEY.PATH[=LO:HI]",
    help="A parameter to vary (default: every distribution of BASE over its 5–95% range).",
)
@click.option(
    "--output",
    "outputs",
    multiple=True,
    default=("npv_net_revenue",),
    show_default=True,
    help="A summary metric to explain (repeatable).",
)
@click.option("--method", type=click.Choice(["sobol", "morris"]), default="sobol", show_default=True)
@click.option(
    "--samples",
    type=click.IntRange(min=1),
    default=64,
    show_default=True,
    help="Sobol': base sample N (a power of 2); Morris: trajectories.",
)
@click.option(
    "--levels", type=click.IntRange(min=2), default=4, show_default=True, help="Morris grid levels."
)
@click.option(
    "--design-seed",
    "seed",
    type=click.IntRange(min=0),
    default=0,
    envvar="SIMLIB_SENSITIVITY_DESIGN_SEED",
    help="Seed of the Sobol'/Morris design.",
)
@click.option(
    "--seed",
    "sim_seed",
    type=click.IntRange(min=0),
    envvar="SIMLIB_SENSITIVITY_SEED",
    help="Random seed of the simulations (shared by every point).  [default: the scenario's]",
)
@click.option("--customers", type=click.IntRange(min=1), help="Initial customers simulated.")
@click.option("--months", type=click.IntRange(min=1), help="Horizon in months.")
@click.option("--replications", type=click.IntRange(min=1), help="Monte Carlo replications per point.")
@click.option("--workers", type=click.IntRange(min=0), default=0, show_default=True, help="0: all cores.")
@scheduler_option
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Folder for tables and charts.")
@force_option
@resume_option()
@click.option("--quiet", is_flag=True, help="No progress bar.")
@friendly_errors
def sensitivity(
    base: str,
    reform: str | None,
    parameters: tuple[str, ...],
    out: str,
    force: bool,
    resume: bool,
    quiet: bool,
    **options: Any,
) -> None:
    """Which assumptions the decision depends on: Sobol' indices or Morris screening (SALib) of
    the outputs over the uncertain parameters, with a tornado chart and a ranked table."""
    from simlib.extras import require
    from simlib.report import tables

    require("sensitivity", "simlib sensitivity")
    from simlib.analysis.sensitivity import run_sensitivity

    loaded, changed = load_scenario(base), load_scenario(reform) if reform else None
    with output_folder(out, force, resume, "sensitivity"):
        result = run_sensitivity(
            loaded, changed, parameters=list(parameters) or None, progress=not quiet, **options
        )
        result.save(out)
    for output in result.outputs:
        echo(tables.format_sensitivity(result, output))
    echo(f"results: {out}/ (sensitivity.csv, tornado.png, indices.png, samples.csv)")


@click.command(name="calibrate")
@click.argument("base", type=click.Path(dir_okay=False))
@click.option("--retention", type=click.Path(dir_okay=False, exists=True), help="Cohort retention CSV.")
@click.option("--complaints", type=click.Path(dir_okay=False, exists=True), help="Complaints by cause CSV.")
@click.option(
    "--fee-change", type=click.Path(dir_okay=False, exists=True), help="Churn around a fee change CSV."
)
@click.option("--segment", help="The segment whose churn heterogeneity is fitted (default: the middle one).")
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=0,
    help="Random seed of the simulations the retention and fee-change fits run through.",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False),
    help=f"Folder for the scenario fragment ({CALIBRATED}) and the estimates ({CALIBRATION_TABLE}).",
)
@force_option
@resume_option()
@click.option("--plot", is_flag=True, help=f"Also save fitted against observed as OUT/{FIT_CHART}.")
@friendly_errors
def calibrate_command(
    base: str,
    retention: str | None,
    complaints: str | None,
    fee_change: str | None,
    segment: str | None,
    seed: int,
    out: str,
    force: bool,
    resume: bool,
    plot: bool,
) -> None:
    """Fit behavioural parameters to your own history (CSV files, formats in
    scenarios/history/README.md) and write them, with standard errors, as a scenario fragment
    extending BASE: parameters fitted together (churn α, β; price sensitivity and loss aversion) as
    one joint block that keeps their correlation, the others as single distributions. Baseline churn
    is fitted net of the churn BASE's behaviour already causes, so the fragment reproduces the
    history it was fitted to. Writes OUT/calibrated.yaml (copy it beside BASE: its `extends` names
    BASE's file), OUT/calibration.csv (each estimate, its standard error, 95% interval, unit and
    source) and, with --plot, OUT/fit.png."""
    from simlib.analysis.calibrate import calibrate
    from simlib.files import write_together
    from simlib.report import tables

    loaded = load_scenario(base)
    # Claimed before the fit runs; the files are then written all or none.
    with output_folder(out, force, resume, "calibrate") as folder:
        assert folder is not None
        result = calibrate(
            loaded,
            retention=retention,
            complaints=complaints,
            fee_change=fee_change,
            segment=segment,
            seed=seed,
        )
        text, summary = result.to_yaml(), result.summary
        files = {
            folder / CALIBRATED: lambda p: Path(p).write_text(text, encoding="utf-8"),
            folder / CALIBRATION_TABLE: lambda p: summary.to_csv(p, index=False),
        }
        if plot:
            import matplotlib

            matplotlib.use("Agg")
            figure = result.plot()[0].figure
            files[folder / FIT_CHART] = lambda p: figure.savefig(p, format="png", dpi=120)
        write_together(files)
    echo(tables.format_calibration(summary))
    echo(f"scenario fragment: {Path(out) / CALIBRATED} (extends {Path(base).name}; copy it beside that file)")
    echo(f"estimates: {Path(out) / CALIBRATION_TABLE}")
    if plot:
        echo(f"fitted against observed: {Path(out) / FIT_CHART}")
