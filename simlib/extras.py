"""Optional features and the packages they need: ``pip install "simlib[batch]"`` and so on.

The core install simulates, compares, sweeps, optimises and calibrates. Notebook batches, the
briefing, global sensitivity, JupyterLab and Dask each need packages of their own, declared as
extras in pyproject.toml and named here, so that a missing one stops a command with one line saying
what to install instead of an ImportError deep inside.
"""

from __future__ import annotations

import importlib.util

from simlib.errors import InputError

#: For each extra, the importable modules it provides (pyproject.toml's optional-dependencies).
EXTRAS: dict[str, tuple[str, ...]] = {
    "batch": ("papermill", "nbformat", "nbclient", "jupyter_client", "ipykernel"),
    "report": ("jinja2", "papermill", "nbformat", "jupyter_client", "ipykernel"),
    "sensitivity": ("SALib",),
    "lab": ("jupyterlab", "ipywidgets"),
    "dask": ("distributed",),
    "xarray": ("xarray",),
}


class MissingExtraError(InputError):
    """A feature's optional dependency is not installed."""


def missing_modules(extra: str) -> list[str]:
    """The modules of ``extra`` that cannot be imported here."""
    missing = []
    for module in EXTRAS[extra]:
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):  # a parent package missing, or a module set to None
            found = False
        if not found:
            missing.append(module)
    return missing


def require(extra: str, feature: str) -> None:
    """Stop with one line if ``feature`` cannot run because the ``extra`` is not installed.

    Raises
    ------
    MissingExtraError
        Naming the missing packages and the pip command that installs them.
    """
    missing = missing_modules(extra)
    if missing:
        raise MissingExtraError(
            f"{feature} needs {', '.join(missing)}, which {'is' if len(missing) == 1 else 'are'} not "
            f'installed: pip install "simlib[{extra}]"'
        )
