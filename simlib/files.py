"""Writing files safely: every write atomic (write, then rename), output folders never silently
replaced. Kept free of heavy imports: batch worker processes use it."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any


def write_atomic(path: Path, write: Any) -> None:
    """Write through a temporary file in the same folder, then rename: never a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(descriptor)
    try:
        write(temporary)
        # mkstemp creates the file private (0600); results are meant to be shared like any file.
        os.chmod(temporary, 0o666 & ~_umask())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def check_output_folder(folder: str | Path, overwrite: bool = False) -> Path:
    """Make sure results can be written to ``folder`` before any work is done.

    Refuses a folder that already holds files (results are never silently replaced) unless
    ``overwrite`` is set, and one that cannot be created or written to.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise FileExistsError(f"{folder} exists and is not a folder")
    if folder.is_dir() and any(folder.iterdir()) and not overwrite:
        raise FileExistsError(f"{folder} already holds files; choose another folder or overwrite (--force)")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-check."):
            pass
    except OSError as exc:
        raise FileExistsError(f"{folder} cannot be written to: {exc.strerror or exc}") from None
    return folder
