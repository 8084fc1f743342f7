"""Writing files safely: every write atomic (write, then rename), output folders never silently
replaced. Kept free of heavy imports: batch worker processes use it."""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from simlib.errors import os_problem

#: The file that marks an output folder as claimed by a running simlib command (removed when done).
CLAIM = ".simlib-claim"
#: Where ``--force`` keeps the results it replaces: ``<folder>/previous/<UTC time>/``.
PREVIOUS = "previous"
#: A temporary file of :func:`write_atomic` (``.<name>.<8 random characters>``) or of a write check.
_TEMPORARY = re.compile(r"^\..+\.[a-z0-9_]{8}$")
# Not results: the claim, and earlier results already moved aside (a new write never touches them).
_IGNORED = {CLAIM, PREVIOUS}


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


def remove_stale_temporaries(folder: Path) -> list[Path]:
    """Delete the temporary files a killed write left in ``folder`` and below (``.name.<random>``).

    Only call it while holding the folder (a claim, or the batch lock): then no write is under way.
    """
    removed = []
    for path in sorted(Path(folder).rglob(".*")):
        if _TEMPORARY.match(path.name) and path.is_file() and not path.is_symlink():
            with contextlib.suppress(OSError):
                path.unlink()
                removed.append(path)
    return removed


# Folders this process has claimed: absolute path -> (open claim file, overwrite allowed, folders
# the claim created).
_claims: dict[Path, tuple[IO[str], bool, list[Path]]] = {}


def _key(folder: Path) -> Path:
    return Path(os.path.abspath(folder))


def holds_results(folder: str | Path) -> bool:
    """Whether ``folder`` holds results: anything but its claim file and ``previous/``."""
    return any(p.name not in _IGNORED for p in Path(folder).iterdir())


def move_aside(folder: str | Path) -> Path | None:
    """Move the results in ``folder`` under ``folder/previous/<UTC time>/``; nothing is deleted.

    Only call it while holding the folder (a claim). Returns the new folder they are in, or None
    when ``folder`` held no results.
    """
    from datetime import UTC, datetime

    folder = Path(folder)
    results = sorted(p for p in folder.iterdir() if p.name not in _IGNORED)
    if not results:
        return None
    # Microseconds, as batch and briefing stamp theirs: two forced runs never share a folder.
    target = folder / PREVIOUS / datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    target.mkdir(parents=True)
    for path in results:
        os.rename(path, target / path.name)
    return target


def _refuse_results(folder: Path, overwrite: bool) -> None:
    if not overwrite and holds_results(folder):
        raise FileExistsError(f"{folder} already holds files; choose another folder or overwrite (--force)")


def try_lock(handle: IO[str]) -> bool:
    """Take an exclusive, non-blocking lock on an open file; False if another process holds it.

    The lock lives as long as the handle stays open (a process that dies releases it). POSIX
    ``flock`` where there is one, ``msvcrt.locking`` of the first byte on Windows; imported here,
    not at module level, so that importing simlib works on either.
    """
    if os.name == "nt":  # pragma: no cover - Windows
        import msvcrt

        try:
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _lock(folder: Path) -> IO[str]:
    """The folder's claim file, locked; a claim file replaced while waiting is locked again."""
    for _ in range(5):
        handle = open(folder / CLAIM, "a")  # noqa: SIM115 - held open for the claim's lifetime
        if not try_lock(handle):
            handle.close()
            raise FileExistsError(
                f"{folder} is being written by another simlib command; wait for it to finish or "
                "choose another folder"
            ) from None
        try:
            same = os.stat(folder / CLAIM).st_ino == os.fstat(handle.fileno()).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return handle
        handle.close()  # its owner removed it as we opened it: take the new one
    raise FileExistsError(f"{folder} is being claimed by other simlib commands; try again")


def claim_output_folder(folder: str | Path, overwrite: bool = False) -> Path:
    """Claim ``folder`` for this process's results, atomically, before any work is done.

    Two commands writing the same folder at once cannot both succeed: the claim is an exclusive
    lock on ``folder/.simlib-claim``, so the second one stops here with one line. The folder is
    refused when it already holds files (unless ``overwrite``) or cannot be written to. Temporary
    files left by a killed write are removed. Release with :func:`release_output_folder` (or use
    :func:`claimed_output_folder`); a process that ends releases its claims.
    """
    folder = Path(folder)
    held = _claims.get(_key(folder))
    if held is not None:
        _refuse_results(folder, overwrite or held[1])
        return folder
    if folder.exists() and not folder.is_dir():
        raise FileExistsError(f"{folder} exists and is not a folder")
    created = _missing_folders(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle = _lock(folder)
    except FileExistsError:
        raise
    except OSError as exc:
        raise FileExistsError(f"{folder} cannot be written to: {os_problem(exc)}") from None
    try:
        remove_stale_temporaries(folder)
        _refuse_results(folder, overwrite)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-check."):
            pass
    except BaseException as exc:
        _unclaim(folder, handle, created)
        if isinstance(exc, OSError) and not isinstance(exc, FileExistsError):
            raise FileExistsError(f"{folder} cannot be written to: {os_problem(exc)}") from None
        raise
    _claims[_key(folder)] = (handle, overwrite, created)
    return folder


def _missing_folders(folder: Path) -> list[Path]:
    """``folder`` and those of its parents that do not exist yet, innermost first."""
    missing = []
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    return missing


def _unclaim(folder: Path, handle: IO[str], created: list[Path]) -> None:
    if os.name == "nt":  # pragma: no cover - Windows cannot remove a file that is still open
        handle.close()
    with contextlib.suppress(OSError):
        (folder / CLAIM).unlink()
    handle.close()
    # Folders this claim created and nothing was written to leave no trace (rmdir: only if empty).
    for made in created:
        try:
            made.rmdir()
        except OSError:
            break


def release_output_folder(folder: str | Path) -> None:
    """End this process's claim on ``folder`` (a folder it created and left empty is removed)."""
    held = _claims.pop(_key(Path(folder)), None)
    if held is not None:
        _unclaim(Path(folder), held[0], held[2])


@contextlib.contextmanager
def claimed_output_folder(folder: str | Path | None, overwrite: bool = False) -> Iterator[Path | None]:
    """:func:`claim_output_folder` for the length of a ``with`` block (nothing for ``None``)."""
    if folder is None:
        yield None
        return
    path = claim_output_folder(folder, overwrite)
    try:
        yield path
    finally:
        release_output_folder(path)


def check_output_folder(folder: str | Path, overwrite: bool = False) -> Path:
    """Make sure results can be written to ``folder`` before any work is done.

    Refuses a folder that already holds files (results are never silently replaced) unless
    ``overwrite`` is set, one that cannot be created or written to, and one another simlib
    command is writing. Within a :func:`claimed_output_folder` block it only checks the contents
    (the claim's ``overwrite`` applies); commands claim their folders that way, so that two of
    them never write one folder.
    """
    folder = Path(folder)
    held = _claims.get(_key(folder))
    if held is not None:
        _refuse_results(folder, overwrite or held[1])
        return folder
    claim_output_folder(folder, overwrite)
    handle = _claims.pop(_key(folder))[0]
    _unclaim(folder, handle, created=[])  # checked, not held: the folder stays for the writes
    return folder


def check_output_file(path: str | Path) -> Path:
    """Make sure a new file can be written at ``path`` before any work is done, leaving no trace.

    Refuses a path that exists (files are never silently replaced), and one whose folder cannot be
    created or written to (each as one line naming the path).
    """
    path = Path(path)
    if path.exists() or path.is_symlink():
        raise FileExistsError(f"{path} already exists; choose another name")
    missing = []
    parent = path.parent
    while not parent.exists():
        missing.append(parent)
        if parent == parent.parent:
            break
        parent = parent.parent
    try:
        if not parent.is_dir():
            raise NotADirectoryError(20, "not a folder", str(parent))
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".write-check."):
            pass
    except OSError as exc:
        raise FileExistsError(f"{path} cannot be written: {os_problem(exc)}") from None
    finally:
        for folder in missing:
            with contextlib.suppress(OSError):
                folder.rmdir()
    return path


def write_together(files: Mapping[Path, Callable[[str], Any]]) -> None:
    """Write several new files all or none: each through a temporary file, renamed only when every
    one has been written; if anything fails, nothing is left (no file, no folder created)."""
    made: list[Path] = []
    temporaries: dict[Path, str] = {}
    renamed: list[Path] = []
    try:
        for path in files:
            for folder in reversed([path.parent, *path.parent.parents]):
                if not folder.exists():
                    folder.mkdir()
                    made.append(folder)
            descriptor, temporaries[path] = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
            os.close(descriptor)
        for path, write in files.items():
            write(temporaries[path])
            os.chmod(temporaries[path], 0o666 & ~_umask())
        for path, temporary in temporaries.items():
            os.replace(temporary, path)
            renamed.append(path)
    except BaseException:
        for path in renamed:
            with contextlib.suppress(OSError):
                path.unlink()
        for temporary in temporaries.values():
            with contextlib.suppress(OSError):
                Path(temporary).unlink()
        for folder in reversed(made):
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise
