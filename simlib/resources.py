"""Where the shipped notebooks and scenarios live, wherever simlib runs from.

The project keeps ``notebooks/`` and ``scenarios/`` at its top level (what a user opens in
JupyterLab); the wheel carries both inside the package as ``simlib/shipped/notebooks`` and
``simlib/shipped/scenarios`` (``[tool.hatch.build.targets.wheel.force-include]`` in pyproject.toml).
So an installed simlib finds them through :mod:`importlib.resources`, and a source checkout (an
editable install, or the tests) finds the top-level folders. Nothing here depends on the working
directory.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

#: The folders the package ships, by name.
SHIPPED = ("notebooks", "scenarios")


def shipped_folder(name: str) -> Path:
    """The folder ``name`` (``notebooks`` or ``scenarios``) as shipped with this simlib.

    Raises
    ------
    ValueError
        ``name`` is not a shipped folder.
    FileNotFoundError
        Neither the installed package data nor a source checkout holds it (a broken install).
    """
    if name not in SHIPPED:
        raise ValueError(f"simlib ships no folder {name!r}; it ships {', '.join(SHIPPED)}")
    packaged = Path(str(resources.files("simlib"))) / "shipped" / name
    if packaged.is_dir():
        return packaged
    checkout = Path(__file__).resolve().parent.parent
    if (checkout / "pyproject.toml").is_file() and (checkout / name).is_dir():
        return checkout / name
    raise FileNotFoundError(f"simlib's shipped {name} are missing from {packaged.parent}; reinstall simlib")


def shipped_notebook(filename: str) -> Path:
    """A shipped notebook, e.g. ``shipped_notebook("scenario.ipynb")``."""
    return shipped_folder("notebooks") / filename


def shipped_scenarios() -> Path:
    """The folder of the shipped scenarios (``baseline.yaml`` and the example policies)."""
    return shipped_folder("scenarios")


def input_path(path: str | Path, shipped: str = "scenarios") -> Path:
    """A file a notebook or command reads: ``path`` itself when it exists (absolute, or relative to
    the working directory), else the file of that name among the shipped ``shipped`` folder.

    This is how notebook defaults such as ``baseline = "baseline.yaml"`` work from any working
    directory, while a user's own file, given relative to where papermill or JupyterLab runs, wins.
    A path that is neither is returned as given, so that the reader's own error names it.
    """
    given = Path(path).expanduser()
    if given.is_absolute() or given.exists():
        return given
    candidate = shipped_folder(shipped) / given
    return candidate if candidate.exists() else given


def nearest_folder(path: str | Path) -> Path:
    """``path`` relative to the working directory or, failing that, to its parent folder
    (``outputs/demo`` is found from the project folder and from ``notebooks/`` beside it). No
    further up: an unrelated ``outputs/demo`` higher in the tree is never picked silently."""
    given = Path(path).expanduser()
    if given.is_absolute() or given.exists():
        return given
    beside = Path.cwd().parent / given
    return beside if beside.exists() else given
