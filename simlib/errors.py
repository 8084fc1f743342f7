"""Errors a user can act on: one line each, naming the file, the key path and the bad value."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a scenario: where it is, what was found, what to do."""

    source: str
    path: str
    message: str

    def __str__(self) -> str:
        location = f"{self.source}: {self.path}" if self.path else self.source
        return f"{location}: {self.message}"


class InputError(ValueError):
    """Run settings that cannot work (sizes, seeds, horizons, scenarios that cannot be paired)."""


class ScenarioError(ValueError):
    """A scenario file (or an override) is invalid; carries every problem found, not just the first."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


def show_value(value: object, limit: int = 60) -> str:
    """Render a bad value for an error line: short, on one line, quoted where it is text.

    Text subclasses (NumPy's ``np.str_``) are shown as plain quoted text, not as their repr."""
    text = repr(str(value)) if isinstance(value, str) else str(value)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def os_problem(exc: BaseException) -> str:
    """What an operating-system error on a path means, in a few words (no traceback, no path)."""
    import errno

    if isinstance(exc, RecursionError):
        return "nested too deeply to read"
    if isinstance(exc, MemoryError):
        return "too large to read into memory"
    if isinstance(exc, RuntimeError) and "symlink loop" in str(exc).lower():
        return "symbolic link loop"
    number = getattr(exc, "errno", None)
    words = {
        errno.ELOOP: "symbolic link loop",
        errno.ENOENT: "not found",
        errno.EACCES: "permission denied",
        errno.EPERM: "operation not permitted",
        errno.EROFS: "read-only file system",
        errno.ENOSPC: "no space left on the device",
        errno.ENOTDIR: "a part of the path is not a folder",
        errno.EISDIR: "is a folder",
        errno.EEXIST: "already exists",
        errno.ENAMETOOLONG: "name too long",
    }
    if number in words:
        return words[number]
    reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return " ".join(str(reason).split()).lower()
