"""Numbers the way simlib shows them: one helper for every table, sentence, notebook and chart label.

:class:`Numbers` formats money, shares, percentage-point differences, counts and plain rates in
English or Chinese. An estimate with a 90% interval is rounded to what its interval resolves
(:func:`digits_for`): 140,234 with interval 126,483–149,166 is ``€140k (€126k to €149k)``.
:func:`kind_of` maps simlib's metric units ("EUR", "share/month", "customers", "per 1,000/month"…)
to a kind, so callers never guess.

Conventions (chosen once, here):

* Minus is the ASCII hyphen-minus ("-€1,234"): it survives every terminal, CSV and font.
* Thousands separators always, in both languages; no scientific notation, ever.
* NaN and None are shown as "–" (en dash).
* English money puts the symbol first: "€1,234", compact "€140k", "€1.23M", "€4.5bn" from 10,000.
* Chinese money puts the currency's Chinese name after the number, the usual order in Chinese
  prose: "1,234 欧元"; from 10,000 in 万 and 亿: "14.0 万欧元", "1.20 亿元" (CNY is 元). A space
  separates digits from Chinese characters.
* A currency without a symbol (English) or a Chinese name (Chinese) is written after the number
  with its ISO code: "1,234 XYZ".
* Differences of shares are percentage points: "+0.17 pp", Chinese "+0.17 个百分点".
* Intervals are written "low to high" (Chinese "low 至 high"), never with a comma between the ends,
  and in brackets after the mean: "+0.17 pp (0.12 to 0.21 pp)", Chinese full-width "（…）".
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

#: The kinds of number simlib shows; :func:`kind_of` maps units to them.
KINDS = ("money", "share", "points", "count", "rate")

MISSING = "–"

#: English currency symbols, written before the number.
SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "CNY": "¥", "JPY": "¥", "INR": "₹", "KRW": "₩"}
#: Chinese currency names, written after the number.
CHINESE_NAMES = {
    "EUR": "欧元",
    "USD": "美元",
    "GBP": "英镑",
    "CNY": "元",
    "JPY": "日元",
    "HKD": "港元",
    "CHF": "瑞士法郎",
    "AUD": "澳元",
    "CAD": "加元",
    "KRW": "韩元",
    "INR": "卢比",
}
# Compact scales, largest first: (factor, suffix). Money from 10,000 is shown compact.
_COMPACT = {"en": ((1e9, "bn"), (1e6, "M"), (1e3, "k")), "zh": ((1e8, "亿"), (1e4, "万"))}
_COMPACT_FROM = 10_000.0
# Decimals never exceed this (a value below 1e-10 is shown as 0): no scientific notation.
_MAX_DECIMALS = 10
# Words that differ by language.
_WORDS = {
    "en": {
        "to": " to ",
        "open": " (",
        "close": ")",
        "points": " pp",
        "against": "{value} against a {limit} limit",
    },
    "zh": {
        "to": " 至 ",
        "open": "（",
        "close": "）",
        "points": " 个百分点",
        "against": "{value}，上限 {limit}",
    },
}
# Metric units counted in whole things (the `unit` column of summaries and parameter units).
_COUNT_UNITS = {
    "customers",
    "complaints",
    "cases",
    "errors",
    "breaches",
    "count",
    "integer",
    "months",
    "month",
    "days",
}


def kind_of(unit: str, *, difference: bool = False) -> str:
    """The kind of number a metric or parameter unit holds.

    Parameters
    ----------
    unit : a unit as simlib writes it: "EUR", "EUR/month", "{cur}/event", "share/month",
        "share of customers", "customers", "breaches", "per 1,000/month", "%"…
    difference : True for a difference between two values of the unit (reform − baseline): a
        difference of shares is in percentage points.

    Returns
    -------
    One of :data:`KINDS`: "money" for a currency code (three capitals) or ``{cur}`` before any
    "/", "share" (or "points" for a difference) for shares, "count" for whole things, "rate" for
    everything else (rates per 1,000, ratios, percentages already in percent, unknown units).
    """
    unit = (unit or "").strip()
    head = unit.split("/", 1)[0].strip()
    if head == "{cur}" or (len(head) == 3 and head.isalpha() and head.isupper()):
        return "money"
    if unit.startswith("share"):
        return "points" if difference else "share"
    if unit in _COUNT_UNITS:
        return "count"
    return "rate"


def digits_for(low: float, high: float, significant: int = 2) -> int:
    """Decimals that show an interval's ends no finer than the interval resolves.

    The width ``high - low`` then spans at least ``10**(significant - 1) / 2`` steps of the last
    digit shown (5 steps for ``significant=2``): the ends differ in their last two digits shown or
    so, and no digit is shown that the interval cannot tell apart. Negative results round to tens
    (-1), hundreds (-2), thousands (-3)…

    Parameters
    ----------
    low, high : the interval's ends, in the units shown (percent for a share shown as "%").
    significant : how many digits of the width to resolve, about.

    Returns
    -------
    Decimals (at most 10). A zero or undefined width (one replication) gives decimals for three
    significant digits of the larger end, or 0 for an interval at zero.

    Examples
    --------
    >>> digits_for(126_483, 149_166)  # width 22,683: thousands
    -3
    >>> digits_for(0.121, 0.212)  # percentage points: width 0.091
    2
    """
    width = abs(high - low)
    if not math.isfinite(width) or width == 0:
        size = max(abs(low), abs(high)) if math.isfinite(low) and math.isfinite(high) else 0.0
        if size == 0 or not math.isfinite(size):
            return 0
        return min(3 - 1 - math.floor(math.log10(size)), _MAX_DECIMALS)
    steps = 10 ** (significant - 1) / 2
    return min(math.ceil(math.log10(steps / width) - 1e-9), _MAX_DECIMALS)


def _missing(*values: float | None) -> bool:
    return any(v is None or (isinstance(v, float) and math.isnan(v)) for v in values)


def _digits(value: float, decimals: int) -> str:
    """``value`` rounded to ``decimals`` (negative: to tens, hundreds…) with thousands separators."""
    rounded = round(float(value), decimals)
    if rounded == 0:
        rounded = 0.0  # no "-0"
    return f"{rounded:,.{max(decimals, 0)}f}"


def _significant(value: float, significant: int = 3) -> int:
    """Decimals that show ``significant`` significant digits of ``value`` (at least 0)."""
    if value == 0 or not math.isfinite(value):
        return 0
    return max(min(significant - 1 - math.floor(math.log10(abs(value))), _MAX_DECIMALS), 0)


def _stated(value: float) -> str:
    """Every digit of a stated value (up to 12 significant), with separators, no exponent."""
    decimals = max(min(11 - math.floor(math.log10(abs(value))), _MAX_DECIMALS), 0) if value else 0
    text = _digits(value, decimals)
    return text.rstrip("0").rstrip(".") if "." in text else text


def _sign(text: str, value: float, signed: bool) -> str:
    """Add "+" to a positive shown value when ``signed``; a value shown as zero gets no sign."""
    shown_zero = not any(c in "123456789" for c in text)
    if shown_zero and text.startswith("-"):
        text = text[1:]
    if signed and value > 0 and not shown_zero:
        text = "+" + text
    return text


@dataclass(frozen=True)
class Numbers:
    """How numbers are written in one language and currency.

    Parameters
    ----------
    language : "en" or "zh".
    currency : ISO 4217 code of every money amount ("EUR", "USD", "GBP", "CNY"…).
    """

    language: str = "en"
    currency: str = "EUR"

    def __post_init__(self) -> None:
        if self.language not in _WORDS:
            raise ValueError(f"language must be one of {sorted(_WORDS)}, not {self.language!r}")

    # --- money ------------------------------------------------------------------------------------

    def _scale(self, size: float, decimals: int | None) -> tuple[float, str]:
        """The compact scale for amounts up to ``size``; none when it would need over 2 decimals."""
        if size >= _COMPACT_FROM:
            for factor, suffix in _COMPACT[self.language]:
                if size >= factor and (decimals is None or decimals + math.log10(factor) <= 2):
                    return factor, suffix
        return 1.0, ""

    def _amount(self, value: float, decimals: int | None, scale: tuple[float, str]) -> str:
        """A money amount with the currency, unsigned style (a negative amount keeps its "-")."""
        factor, suffix = scale
        if decimals is None:
            shown = _significant(value / factor) if factor > 1 else (0 if abs(value) >= 100 else 2)
            if factor == 1 and round(value, 2) == round(value):
                shown = 0
        else:
            shown = max(decimals + round(math.log10(factor)), 0) if factor > 1 else decimals
        return self._currency(_digits(value / factor, shown), suffix)

    def _currency(self, number: str, suffix: str = "") -> str:
        """A number's text with the compact suffix and the currency, the minus before both."""
        negative = number.startswith("-")
        number = number.lstrip("-")
        if self.language == "zh":
            name = CHINESE_NAMES.get(self.currency)
            text = (
                f"{number} {suffix}{name}"
                if name
                else f"{number} {suffix + ' ' if suffix else ''}{self.currency}"
            )
        else:
            symbol = SYMBOLS.get(self.currency)
            text = f"{symbol}{number}{suffix}" if symbol else f"{number}{suffix} {self.currency}"
        return ("-" if negative else "") + text

    def money(self, value: float | None, *, signed: bool = False, digits: int | None = None) -> str:
        """A money amount: "€1,234", "-€1,234", "+€140k", "€1.23M"; Chinese "14.0 万欧元".

        Parameters
        ----------
        value : amount in currency units.
        signed : show "+" before a positive amount (for differences).
        digits : decimals in currency units (negative rounds to tens, hundreds…); by default whole
            units from 100 (cents below, when there are any) and three significant digits in the
            compact form, which is used from 10,000 unless ``digits`` would need over 2 decimals.
        """
        if _missing(value):
            return MISSING
        return _sign(self._amount(value, digits, self._scale(abs(value), digits)), value, signed)

    def money_range(self, low: float | None, high: float | None) -> str:
        """An interval of money: "€126k to €149k"; Chinese "12.6 万至 14.9 万欧元"."""
        if _missing(low, high):
            return MISSING
        return self._money_interval(
            low, high, digits_for(low, high), self._scale(max(abs(low), abs(high)), None)
        )

    def _money_interval(self, low: float, high: float, decimals: int, scale: tuple[float, str]) -> str:
        scale = scale if decimals + math.log10(scale[0]) <= 2 else (1.0, "")
        low_text = _sign(self._amount(low, decimals, scale), low, False)
        high_text = _sign(self._amount(high, decimals, scale), high, False)
        name = CHINESE_NAMES.get(self.currency) if self.language == "zh" else None
        if name and low_text.endswith(name):
            # Chinese names the currency once, after the interval: "12.6 万至 14.9 万欧元".
            return f"{low_text[: -len(name)].rstrip()}至 {high_text}"
        return f"{low_text}{_WORDS[self.language]['to']}{high_text}"

    def money_estimate(
        self, mean: float | None, low: float | None, high: float | None, *, signed: bool = True
    ) -> str:
        """A mean with its interval: "+€140k (€126k to €149k)"."""
        return self.estimate(mean, low, high, "money", signed=signed)

    # --- shares, points, counts, rates --------------------------------------------------------------

    def percent(self, share: float | None, *, digits: int | None = None, signed: bool = False) -> str:
        """A share as a percentage: 0.022 -> "2.20%" (``digits`` decimals of the percentage, 2)."""
        if _missing(share):
            return MISSING
        return _sign(_digits(share * 100, 2 if digits is None else digits) + "%", share, signed)

    def points(
        self, share_difference: float | None, *, signed: bool = True, digits: int | None = None
    ) -> str:
        """A difference of shares in percentage points: 0.0017 -> "+0.17 pp"; "+0.17 个百分点"."""
        if _missing(share_difference):
            return MISSING
        text = _digits(share_difference * 100, 2 if digits is None else digits)
        return _sign(text, share_difference, signed) + _WORDS[self.language]["points"]

    def count(self, value: float | None, *, signed: bool = False) -> str:
        """A whole number with separators: 1234 -> "1,234", 0.4 -> "0"."""
        if _missing(value):
            return MISSING
        return _sign(_digits(value, 0), value, signed)

    def rate(self, value: float | None, *, signed: bool = False, digits: int | None = None) -> str:
        """A plain rate (complaints per 1,000, a ratio): 3.4 -> "3.4"; by default three significant
        digits without trailing zeros, whole numbers from 100."""
        if _missing(value):
            return MISSING
        if digits is None:
            text = _digits(value, _significant(value))
            text = text.rstrip("0").rstrip(".") if "." in text else text
        else:
            text = _digits(value, digits)
        return _sign(text, value, signed)

    def stated(self, value: float | None, kind: str) -> str:
        """A value as stated in a scenario, with every digit it has (up to 12 significant): money
        "€0.1234567", share 0.25 -> "25%", points "+1.5 pp", others "2.25" — inputs are not rounded."""
        _check(kind)
        if _missing(value):
            return MISSING
        if kind == "money":
            text = _stated(value)
            # Cents are written in pairs: €0.50, not €0.5.
            return self._currency(text + "0" if re.search(r"\.\d$", text) else text)
        if kind == "share":
            return _stated(value * 100) + "%"
        if kind == "points":
            return _sign(_stated(value * 100), value, True) + _WORDS[self.language]["points"]
        return _stated(value)

    # --- estimates, intervals, margins ------------------------------------------------------------

    def _shown(self, value: float, kind: str, decimals: int, signed: bool, scale: tuple[float, str]) -> str:
        """One end or mean of an estimate, with ``decimals`` in the kind's shown units."""
        if kind == "money":
            return _sign(self._amount(value, decimals, scale), value, signed)
        if kind == "share":
            return self.percent(value, digits=max(decimals, 0), signed=signed)
        if kind == "points":
            return _sign(_digits(value * 100, max(decimals, 0)), value, signed)
        if kind == "count":
            return _sign(_digits(value, min(decimals, 0)), value, signed)
        return _sign(_digits(value, decimals), value, signed)

    def _decimals(self, low: float, high: float, kind: str) -> int:
        factor = 100.0 if kind in ("share", "points") else 1.0
        return digits_for(low * factor, high * factor)

    def interval(self, low: float | None, high: float | None, kind: str) -> str:
        """An interval in the kind's style: "€126k to €149k", "2.10% to 2.30%", "0.12 to 0.21 pp"."""
        _check(kind)
        if _missing(low, high):
            return MISSING
        decimals = self._decimals(low, high, kind)
        if kind == "money":
            return self.money_range(low, high)
        text = (
            self._shown(low, kind, decimals, False, (1.0, ""))
            + _WORDS[self.language]["to"]
            + self._shown(high, kind, decimals, False, (1.0, ""))
        )
        return text + (_WORDS[self.language]["points"] if kind == "points" else "")

    def estimate(
        self, mean: float | None, low: float | None, high: float | None, kind: str, *, signed: bool = False
    ) -> str:
        """A mean and its interval, rounded to what the interval resolves.

        "+€140k (€126k to €149k)", "+0.17 pp (0.12 to 0.21 pp)", "2.20% (2.10% to 2.30%)";
        Chinese "+0.17 个百分点（0.12 至 0.21 个百分点）". A missing interval shows the mean alone.

        Parameters
        ----------
        mean, low, high : in the kind's units (currency units; shares as fractions).
        kind : one of :data:`KINDS` (see :func:`kind_of`).
        signed : "+" before a positive mean (for differences; "points" is always signed).
        """
        head, interval = self.estimate_parts(mean, low, high, kind, signed=signed)
        if not interval:
            return head
        words = _WORDS[self.language]
        return f"{head}{words['open']}{interval}{words['close']}"

    def estimate_parts(
        self, mean: float | None, low: float | None, high: float | None, kind: str, *, signed: bool = False
    ) -> tuple[str, str]:
        """The two parts of :meth:`estimate`, for a table that shows the interval under the mean:
        ("+€140k", "€126k to €149k"); the interval is "" when there is none."""
        _check(kind)
        if _missing(mean):
            return MISSING, ""
        signed = signed or kind == "points"
        if _missing(low, high):
            return self._single(mean, kind, signed), ""
        words = _WORDS[self.language]
        decimals = self._decimals(low, high, kind)
        # A mean that is not zero is never shown as 0 (a lead of €3k is not "0 万欧元"): one more
        # digit until it shows, at most two.
        factor = 100.0 if kind in ("share", "points") else 1.0
        unit = (
            10_000.0
            if kind == "money" and self.language == "zh" and abs(mean) < 10_000 <= max(abs(low), abs(high))
            else 1.0
        )
        for _ in range(2):
            if mean == 0 or round(mean * factor / unit, decimals + round(math.log10(unit))) != 0:
                break
            decimals += 1
        if kind == "money":
            scale = self._scale(max(abs(mean), abs(low), abs(high)), decimals)
            return self._shown(mean, kind, decimals, signed, scale), self._money_interval(
                low, high, decimals, scale
            )
        head = self._shown(mean, kind, decimals, signed, (1.0, ""))
        if kind == "points":
            head += words["points"]
        return head, self.interval(low, high, kind)

    def _single(self, value: float, kind: str, signed: bool) -> str:
        if kind == "money":
            return self.money(value, signed=signed)
        if kind == "share":
            return self.percent(value, signed=signed)
        if kind == "points":
            return self.points(value, signed=signed)
        if kind == "count":
            return self.count(value, signed=signed)
        return self.rate(value, signed=signed)

    def margin(self, value: float | None, limit: float | None, kind: str) -> str:
        """A value against its limit, with enough digits that they differ when they do.

        "2.203% against a 2.200% limit"; Chinese "2.203%，上限 2.200%". ``kind`` is "share",
        "money", "rate" or "count" (a limit on a difference of shares is "points").
        """
        _check(kind)
        if _missing(value, limit):
            return _WORDS[self.language]["against"].format(
                value=self._single(value, kind, False) if not _missing(value) else MISSING,
                limit=self._single(limit, kind, False) if not _missing(limit) else MISSING,
            )
        factor = 100.0 if kind in ("share", "points") else 1.0
        if kind == "money":
            decimals = 0 if max(abs(value), abs(limit)) >= 100 else 2
        elif kind == "count":
            decimals = 0
        elif kind == "rate":
            decimals = max(_significant(value), _significant(limit))
        else:
            decimals = 2
        # One more digit until the two differ (or the digits run out): the margin stays visible.
        while (
            value != limit
            and round(value * factor, decimals) == round(limit * factor, decimals)
            and decimals < _MAX_DECIMALS
        ):
            decimals += 1
        scale = (1.0, "")
        shown = [self._shown(v, kind, decimals, kind == "points", scale) for v in (value, limit)]
        if kind == "points":
            shown = [s + _WORDS[self.language]["points"] for s in shown]
        return _WORDS[self.language]["against"].format(value=shown[0], limit=shown[1])


def _check(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")


# --- compatible wrappers (before Numbers) -----------------------------------------------------------


def number(value: float | None, unit: str = "") -> str:
    """A number for a table, without a currency symbol (callers add the code): percentages for
    shares, whole counts, three significant digits otherwise ("0" for zero, never "0.00").

    Kept for older callers; new code uses :class:`Numbers`.
    """
    kind = kind_of(unit)
    if kind == "share":
        return Numbers().percent(value)
    if kind == "count":
        return Numbers().count(value)
    return Numbers().rate(value)


def estimate(
    mean: float | None, low: float | None, high: float | None, unit: str = "", signed: bool = False
) -> str:
    """``mean (low to high)`` without a currency symbol; a signed share is a difference, in points.

    Kept for older callers; new code uses :meth:`Numbers.estimate` with :func:`kind_of`.
    """
    kind = kind_of(unit, difference=signed)
    return Numbers().estimate(mean, low, high, "rate" if kind == "money" else kind, signed=signed)
