"""Running a project notebook for real in tests: papermill, a real kernel over IPC, a cell timeout."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
import papermill as pm

from simlib.jupyter.kernels import IPCKernelManager

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
CELL_TIMEOUT_SECONDS = 300  # a cell takes seconds; a hung kernel must fail the test, not stall CI


def run_notebook(name: str, executed_path: Path, /, **parameters: Any) -> nbformat.NotebookNode:
    """Execute ``notebooks/<name>`` with ``parameters`` into ``executed_path``; return the executed
    notebook (positional-only, so any notebook parameter name can be passed)."""
    pm.execute_notebook(
        str(NOTEBOOKS / name),
        str(executed_path),
        parameters=parameters,
        cwd=str(NOTEBOOKS),
        progress_bar=False,
        kernel_name="python3",
        execution_timeout=CELL_TIMEOUT_SECONDS,
        kernel_manager_class=IPCKernelManager,
    )
    return nbformat.read(executed_path, as_version=4)


def outputs(executed: nbformat.NotebookNode) -> list[dict]:
    return [o for c in executed.cells if c.cell_type == "code" for o in c.outputs]


def images(executed: nbformat.NotebookNode) -> list[dict]:
    """The PNG outputs, in order."""
    return [o for o in outputs(executed) if "image/png" in o.get("data", {})]


def texts(executed: nbformat.NotebookNode) -> str:
    """Every plain-text, HTML and stream output, joined."""
    return "\n".join(
        o.get("data", {}).get("text/plain", "") + o.get("data", {}).get("text/html", "") + o.get("text", "")
        for o in outputs(executed)
    )
