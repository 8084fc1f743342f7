"""Numbers the way simlib shows them: one helper for every table, sentence and chart label."""

from __future__ import annotations

import math


def number(value: float, unit: str = "") -> str:
    """A number the way a report shows it: percentages for rates, separators for money."""
    text = _number(value, unit)
    return text[1:] if text.startswith("-") and not any(c in "123456789" for c in text) else text


def _number(value: float, unit: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if unit.startswith("share"):
        return f"{value * 100:.2f}%"
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 10:
        return f"{value:,.1f}"
    return f"{value:.2f}" if magnitude >= 0.01 or value == 0 else f"{value:.2g}"


def estimate(mean: float, low: float, high: float, unit: str = "", signed: bool = False) -> str:
    """`mean [low, high]`, the way every number in simlib is shown."""
    text = number(mean, unit)
    if signed and not text.startswith("-") and text != "–":
        text = "+" + text
    return f"{text} [{number(low, unit)}, {number(high, unit)}]"
