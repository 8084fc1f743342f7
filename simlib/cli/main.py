"""The `simlib` command: run, compare, batch, sweep, brief, optimize, sensitivity, calibrate, validate,
describe, diff, schema, demo, scenarios init.

This module holds the group (logging, signals, context settings); each command group lives in its
own module (:mod:`simlib.cli.run`, :mod:`~simlib.cli.scenarios`, :mod:`~simlib.cli.batch`,
:mod:`~simlib.cli.analysis`) and what they share in :mod:`simlib.cli.options`.

Invalid input ends with one line per problem on standard error and exit status 2, before anything is
written. A traceback means a bug in simlib, never a mistake in a scenario.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from typing import Any

import click

from simlib.cli import analysis, batch, run, scenarios

ROOTS_VARIABLE = (
    "SIMLIB_SCENARIO_ROOTS"  # simlib.scenario.scenario.ROOTS_VARIABLE, without importing pydantic
)

CONTEXT = {
    "help_option_names": ["-h", "--help"],
    # Every option can also be set as SIMLIB_<COMMAND>_<OPTION>, e.g. SIMLIB_BATCH_WORKERS=2; the
    # commands inherit these settings from the group's context.
    "auto_envvar_prefix": "SIMLIB",
    "show_default": True,
}


def _terminate(signum: int, frame: Any) -> None:
    """SIGTERM stops a command as Ctrl-C does: workers and kernels stopped, finished work kept."""
    raise KeyboardInterrupt


@click.group(context_settings=CONTEXT)
@click.version_option(package_name="simlib")
@click.option(
    "--scenario-root",
    "scenario_roots",
    multiple=True,
    type=click.Path(file_okay=False),
    help="A folder `extends` may also name files in (repeatable; also SIMLIB_SCENARIO_ROOTS).",
    allow_from_autoenv=False,  # SIMLIB_SCENARIO_ROOTS is read by the scenario loader itself
)
@click.option("-v", "--verbose", count=True, help="Log what is done to stderr (-v: steps, -vv: details).")
def main(scenario_roots: tuple[str, ...] = (), verbose: int = 0) -> None:
    """Simulate fee policies: revenue, churn and complaints, with honest uncertainty.

    Options can also be given as environment variables SIMLIB_<COMMAND>_<NAME> (e.g.
    SIMLIB_RUN_WORKERS=2; README: the names), except flags that replace or relax (--force,
    --resume, --allow-breaches). Shell completion: eval "$(_SIMLIB_COMPLETE=bash_source simlib)"
    (zsh_source, fish_source for those shells).
    """
    import logging

    logging.basicConfig(
        level=(logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)],
        format="%(asctime)s %(name)s %(levelname)s: %(message)s",
        stream=sys.stderr,
    )
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _terminate)
    if scenario_roots:
        # Through the environment, so that batch kernels and workers follow the same rule.
        known = [r for r in os.environ.get(ROOTS_VARIABLE, "").split(os.pathsep) if r]
        os.environ[ROOTS_VARIABLE] = os.pathsep.join([*known, *map(os.path.abspath, scenario_roots)])
    if not sys.stderr.isatty():
        # A progress bar written to a log file: redrawn at most every 30 s, not every second.
        os.environ.setdefault("TQDM_MININTERVAL", "30")


for _command in (
    run.run,
    run.compare_command,
    scenarios.validate,
    scenarios.describe,
    scenarios.diff_command,
    scenarios.schema,
    batch.batch,
    batch.brief,
    analysis.sweep,
    analysis.optimize,
    analysis.sensitivity,
    analysis.calibrate_command,
    batch.demo,
    scenarios.scenarios,
):
    main.add_command(_command)
