"""The batch folder: its layout, claiming and locking it (one batch at a time), and keeping earlier
runs under ``previous/`` instead of replacing them."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from simlib.errors import InputError, os_problem
from simlib.files import remove_stale_temporaries, try_lock

MANIFEST = "manifest.json"
STATUS = "status.json"
RUNS = "runs"
PREVIOUS = "previous"
IN_PROGRESS = ".in-progress"


def now() -> str:
    """The current time as written into status records and the manifest (UTC, ISO 8601, seconds)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def stamp() -> str:
    """The current time as the name of a ``previous/<stamp>/`` folder (UTC, sortable)."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")


_NOT_CONTENT = {".lock", IN_PROGRESS}


def _check_contents(folder: Path, resume: bool, force: bool) -> None:
    """Refuse a folder holding something other than a batch, or a batch without resume or force.
    Checked again once the folder is locked: another batch may have filled it in between."""
    if any(p.name not in _NOT_CONTENT for p in folder.iterdir()):
        if not (folder / MANIFEST).exists() and not (folder / RUNS).exists():
            raise InputError(f"{folder} already holds files that are not a batch; choose another folder")
        if not (resume or force):
            raise InputError(
                f"{folder} already holds a batch; --resume to finish it, --force to run every scenario "
                "again (earlier runs are kept under previous/), or choose another folder"
            )


def prepare_folder(folder: Path, resume: bool, force: bool) -> None:
    """Check and create the batch folder before it is locked; one line naming it when it cannot be used."""
    if resume and force:
        raise InputError("--resume and --force exclude each other: resume keeps runs, force redoes them")
    try:
        if folder.exists() and not folder.is_dir():
            raise InputError(f"{folder} exists and is not a folder")
        if folder.is_dir():
            _check_contents(folder, resume, force)
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{folder}: cannot be used as the batch folder: {os_problem(exc)}") from None


@contextlib.contextmanager
def locked_batch_folder(folder: Path, resume: bool = True, force: bool = False) -> Iterator[None]:
    """Hold the batch folder: one batch at a time, and the folder checked again under the lock."""
    try:
        handle = open(folder / ".lock", "a")  # noqa: SIM115 - closed below, after the batch
    except OSError as exc:
        raise InputError(f"{folder}: cannot be used as the batch folder: {os_problem(exc)}") from None
    with handle:
        if not try_lock(handle):
            raise InputError(f"another batch or briefing is being written in {folder}") from None
        _check_contents(folder, resume, force)
        # A write killed half-way left a temporary file; nothing else is writing now.
        remove_stale_temporaries(folder)
        yield


def move_aside(folder: Path, batch_folder: Path, stamp: str) -> None:
    """Keep an earlier run folder under ``previous/<stamp>/`` instead of replacing it."""
    target = batch_folder / PREVIOUS / stamp / folder.name
    target.parent.mkdir(parents=True, exist_ok=True)
    os.rename(folder, target)
