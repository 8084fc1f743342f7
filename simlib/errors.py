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
    """Render a bad value for an error line: short, on one line, quoted where it is text."""
    text = repr(value) if isinstance(value, str) else str(value)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
