"""Uncertain parameters: a behavioural parameter may be a number or a distribution.

A distribution is sampled once per replication, from a uniform that depends only on
(seed, replication, parameter path). A baseline and a reform that share a distribution for the
same parameter therefore draw the same value in the same replication: the pairing that makes
their difference the policy's effect extends to parameter uncertainty too.
"""

from __future__ import annotations

import math
import types
import typing
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from .model.keys import scalar_uniform


def _stats():
    """scipy.stats, imported on first use: importing it costs about a second at start-up."""
    from scipy import stats

    return stats


#: Money amounts (fields whose unit is in the scenario's currency) may be at most this much, and
#: every other number at most this large in size: beyond them a result is an overflow, not a policy.
MAX_MONEY = 1_000_000.0
MAX_MAGNITUDE = 1_000_000_000.0


def _numeric(annotation: Any) -> bool:
    """Whether a field's type takes a number (possibly among other choices), and not true/false."""
    if annotation is bool:
        return False
    if annotation in (int, float):
        return True
    origin = typing.get_origin(annotation)
    if origin is Literal:
        return False
    if origin is typing.Annotated:
        return _numeric(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        arguments = typing.get_args(annotation)
        return bool not in arguments and any(_numeric(a) for a in arguments)
    return False


# Unicode categories a name or label may not hold: controls (escape sequences, bell, carriage
# return), invisible format characters (direction overrides), private-use, surrogates, unassigned.
_REFUSED_CATEGORIES = {"Cc", "Cf", "Co", "Cs", "Cn", "Zl", "Zp"}
# Pictographs and emoji: no font of the briefing draws them (charts refuse empty boxes).
_PICTOGRAPHS = ((0x1F000, 0x1FAFF), (0x2600, 0x27BF), (0x2B00, 0x2BFF), (0xFE00, 0xFE0F))


def _printable_text(value: str, multiline: bool = False) -> str:
    """``value`` if every character can be printed in a terminal and drawn in a briefing."""
    import unicodedata

    for character in value:
        if multiline and character in "\n\t":
            continue
        code = ord(character)
        if unicodedata.category(character) in _REFUSED_CATEGORIES:
            raise ValueError(f"must hold printable text only (found the control character U+{code:04X})")
        if any(low <= code <= high for low, high in _PICTOGRAPHS):
            raise ValueError(
                f"must not hold pictographs or emoji (found U+{code:04X}): a briefing's fonts draw "
                "few of them"
            )
    return value


class StrictNumbers(BaseModel):
    """Numbers are numbers: ``true`` is not 1, and ``.inf``, ``.nan`` or ``1e308`` are no fee; and
    names, labels and descriptions are printable text.

    YAML reads ``yes``/``true`` as a boolean and pydantic would quietly take it as 1 (a €1 fee);
    infinite or huge values overflow the money sums. Both are refused field by field, so the error
    names the key.
    """

    model_config = ConfigDict(allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _not_a_boolean(cls, value: Any, info: ValidationInfo) -> Any:
        field = cls.model_fields.get(info.field_name or "")
        if isinstance(value, bool) and field is not None and _numeric(field.annotation):
            raise ValueError("must be a number, not true/false")
        return value

    @field_validator("*", mode="after")
    @classmethod
    def _within_bounds(cls, value: Any, info: ValidationInfo) -> Any:
        field = cls.model_fields.get(info.field_name or "")
        unit = str(((field.json_schema_extra or {}) if field is not None else {}).get("unit", ""))
        if isinstance(value, str) and unit == "text":
            return _printable_text(value, multiline=info.field_name == "description")
        if isinstance(value, bool) or not isinstance(value, int | float):
            return value
        if "{cur}" in unit and value > MAX_MONEY:
            raise ValueError(f"must be ≤ {MAX_MONEY:,.0f} (the bound of every money amount)")
        if not math.isfinite(value) or abs(value) > MAX_MAGNITUDE:
            raise ValueError(f"must lie between -{MAX_MAGNITUDE:,.0f} and {MAX_MAGNITUDE:,.0f}")
        return value


class _Distribution(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _no_booleans(cls, data: Any) -> Any:
        # Checked for the whole mapping: a field validator may not touch the `distribution` tag.
        if isinstance(data, dict):
            flags = sorted(str(k) for k, v in data.items() if isinstance(v, bool))
            if flags:
                raise ValueError(f"{', '.join(flags)} must be numbers, not true/false")
        return data

    def quantile(self, probability: float) -> float:  # pragma: no cover - overridden
        raise NotImplementedError

    def sample(self, seed: int, replication: int, path: str) -> float:
        """The value this parameter takes in one replication."""
        return float(self.quantile(scalar_uniform("parameter", seed, replication, path)))


class Uniform(_Distribution):
    """Uniform on [low, high]."""

    distribution: Literal["uniform"]
    low: float
    high: float

    @model_validator(mode="after")
    def _ordered(self) -> Uniform:
        if not self.low < self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        return self

    def quantile(self, probability: float) -> float:
        return self.low + probability * (self.high - self.low)


class Triangular(_Distribution):
    """Triangular on [low, high] with its peak at mode."""

    distribution: Literal["triangular"]
    low: float
    mode: float
    high: float

    @model_validator(mode="after")
    def _ordered(self) -> Triangular:
        if not (self.low <= self.mode <= self.high and self.low < self.high):
            raise ValueError(f"need low ≤ mode ≤ high, got {self.low}, {self.mode}, {self.high}")
        return self

    def quantile(self, probability: float) -> float:
        width = self.high - self.low
        return _stats().triang.ppf(probability, (self.mode - self.low) / width, self.low, width)


class Normal(_Distribution):
    """Normal with mean and standard deviation, optionally truncated to [low, high]."""

    distribution: Literal["normal"]
    mean: float
    sd: float = Field(gt=0)
    low: float | None = None
    high: float | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Normal:
        if self.low is not None and self.high is not None and not self.low < self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        return self

    def quantile(self, probability: float) -> float:
        low = -float("inf") if self.low is None else (self.low - self.mean) / self.sd
        high = float("inf") if self.high is None else (self.high - self.mean) / self.sd
        return _stats().truncnorm.ppf(probability, low, high, loc=self.mean, scale=self.sd)


class LogNormal(_Distribution):
    """Log-normal given by its median and the standard deviation of its logarithm."""

    distribution: Literal["lognormal"]
    median: float = Field(gt=0)
    sd_log: float = Field(gt=0)

    def quantile(self, probability: float) -> float:
        return _stats().lognorm.ppf(probability, self.sd_log, scale=self.median)


class Beta(_Distribution):
    """Beta(a, b), optionally rescaled to [low, high]."""

    distribution: Literal["beta"]
    a: float = Field(gt=0)
    b: float = Field(gt=0)
    low: float = 0.0
    high: float = 1.0

    @model_validator(mode="after")
    def _ordered(self) -> Beta:
        if not self.low < self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        return self

    def quantile(self, probability: float) -> float:
        return _stats().beta.ppf(probability, self.a, self.b, self.low, self.high - self.low)


Distribution = Annotated[
    Uniform | Triangular | Normal | LogNormal | Beta, Field(discriminator="distribution")
]
Uncertain = float | Distribution
"""A behavioural parameter: a number, or a distribution sampled once per replication."""
