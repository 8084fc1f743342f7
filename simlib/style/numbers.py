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


# --- TEMPORARY SHIM (replaced by the numbers lane) ---
from dataclasses import dataclass as _dc


@_dc(frozen=True)
class Numbers:
    language: str = "en"
    currency: str = "EUR"

    @property
    def currency_name(self) -> str:
        return "€" if self.currency == "EUR" else self.currency

    def money(self, value, *, signed=False, digits=None):
        sign = "+" if signed and value > 0 else ("-" if value < 0 else "")
        v = abs(value)
        body = f"{v / 1000:,.0f}k" if v >= 10_000 else f"{v:,.0f}"
        return f"{sign}€{body}"

    def percent(self, share, *, digits=None):
        return f"{share * 100:.{2 if digits is None else digits}f}%"

    def points(self, d, *, signed=True, digits=None):
        return f"{d * 100:+.2f} pp" if signed else f"{d * 100:.2f} pp"

    def count(self, value, *, signed=False):
        return f"{value:+,.0f}" if signed else f"{value:,.0f}"

    def rate(self, value, *, signed=False, digits=None):
        return f"{value:+,.2f}" if signed else f"{value:,.2f}"

    def estimate(self, mean, low, high, kind, *, signed=False):
        f = {"money": self.money, "points": self.points, "share": self.percent, "count": self.count, "rate": self.rate}[kind]
        kw = {"signed": signed} if kind != "share" else {}
        head = f(mean, **kw)
        if low == high == mean:
            return head
        return f"{head} ({self.interval(low, high, kind)})"

    def interval(self, low, high, kind):
        f = {"money": self.money, "points": self.points, "share": self.percent, "count": self.count, "rate": self.rate}[kind]
        return f"{f(low)} to {f(high)}"

    def margin(self, value, limit, kind):
        f = self.percent if kind == "share" else self.rate
        return f"{f(value)} against a {f(limit)} limit"
