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

from simlib.model.keys import scalar_uniform


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


class DistributionBase(BaseModel):
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


class Uniform(DistributionBase):
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


class Triangular(DistributionBase):
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


class Normal(DistributionBase):
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


class LogNormal(DistributionBase):
    """Log-normal given by its median and the standard deviation of its logarithm."""

    distribution: Literal["lognormal"]
    median: float = Field(gt=0)
    sd_log: float = Field(gt=0)

    def quantile(self, probability: float) -> float:
        return _stats().lognorm.ppf(probability, self.sd_log, scale=self.median)


class Beta(DistributionBase):
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
SCALAR_DISTRIBUTIONS = (Uniform, Triangular, Normal, LogNormal, Beta)
"""The classes of a single parameter's distribution (for ``isinstance``)."""
Uncertain = float | Distribution
"""A behavioural parameter: a number, or a distribution sampled once per replication."""


# --------------------------------------------------------------------------- jointly uncertain parameters

#: The most members a joint block may have, and the most rows an empirical table may hold.
MAX_JOINT_PARAMETERS = 20
MAX_JOINT_DRAWS = 10_000
#: Relative tolerance of the symmetry and positive-semi-definiteness checks of a covariance.
COVARIANCE_TOLERANCE = 1e-9


def factor_covariance(covariance: Any) -> list[list[float]]:
    """A lower-triangular L with L Lᵀ = covariance (Cholesky), allowing zero pivots (a singular but
    positive semi-definite matrix); unique, so the same covariance always gives the same draws.

    Raises ValueError naming the first direction of negative variance.
    """
    size = len(covariance)
    scale = max((abs(float(covariance[i][i])) for i in range(size)), default=0.0) or 1.0
    factor = [[0.0] * size for _ in range(size)]
    for j in range(size):
        pivot = float(covariance[j][j]) - sum(factor[j][k] ** 2 for k in range(j))
        if pivot < -COVARIANCE_TOLERANCE * scale:
            raise ValueError(
                "the covariance is not positive semi-definite (it gives a negative variance to a "
                f"combination of parameters {j + 1} and before)"
            )
        root = math.sqrt(pivot) if pivot > COVARIANCE_TOLERANCE * scale else 0.0
        factor[j][j] = root
        for i in range(j + 1, size):
            rest = float(covariance[i][j]) - sum(factor[i][k] * factor[j][k] for k in range(j))
            if root > 0.0:
                factor[i][j] = rest / root
            elif abs(rest) > math.sqrt(COVARIANCE_TOLERANCE) * scale:
                raise ValueError(
                    "the covariance is not positive semi-definite (a parameter with no variance left "
                    f"covaries with parameter {i + 1})"
                )
    return factor


class _JointDistribution(BaseModel):
    """Several parameters drawn together once per replication (``joint_uncertainty`` items)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    name: str | None = Field(None, min_length=1, max_length=80, description="A name for tables")
    parameters: tuple[str, ...] = Field(
        min_length=1,
        max_length=MAX_JOINT_PARAMETERS,
        description="Key paths of the parameters drawn together (segments by name or number)",
    )

    @model_validator(mode="before")
    @classmethod
    def _no_booleans(cls, data: Any) -> Any:
        if isinstance(data, dict):
            flat = [
                v for key, value in data.items() if key not in {"name", "parameters"} for v in _leaves(value)
            ]
            if any(isinstance(v, bool) for v in flat):
                raise ValueError("numbers must be numbers, not true/false")
            if any(isinstance(v, int | float) and not abs(v) <= MAX_MAGNITUDE for v in flat):
                raise ValueError(
                    f"numbers must be finite and lie between -{MAX_MAGNITUDE:,.0f} and {MAX_MAGNITUDE:,.0f}"
                )
        return data

    @field_validator("name")
    @classmethod
    def _printable(cls, value: str | None) -> str | None:
        return None if value is None else _printable_text(value)

    @staticmethod
    def _check_size(values: tuple, info: ValidationInfo) -> tuple:
        """``values`` if it holds one number per parameter."""
        size = len(info.data.get("parameters", values))
        if len(values) != size:
            raise ValueError(f"has {len(values)} value(s) but there are {size} parameters")
        return values

    @staticmethod
    def _check_square(matrix: tuple, info: ValidationInfo) -> tuple:
        """``matrix`` if it is a symmetric, positive semi-definite covariance, one row per parameter."""
        size = len(info.data.get("parameters", matrix))
        if len(matrix) != size or any(len(row) != size for row in matrix):
            raise ValueError(f"must be {size} × {size}, one row and column per parameter")
        scale = max((abs(matrix[i][i]) for i in range(size)), default=0.0) or 1.0
        for i in range(size):
            if matrix[i][i] < 0:
                raise ValueError(f"has a negative variance on its diagonal (row {i + 1})")
            for j in range(i):
                if abs(matrix[i][j] - matrix[j][i]) > COVARIANCE_TOLERANCE * scale:
                    raise ValueError(
                        f"must be symmetric (row {i + 1}, column {j + 1} is {matrix[i][j]}, "
                        f"row {j + 1}, column {i + 1} is {matrix[j][i]})"
                    )
        factor_covariance(matrix)
        return matrix

    def normal_scores(self, seed: int, replication: int, key: str) -> list[float]:
        """Independent standard normal draws, one per parameter, for one replication."""
        from statistics import NormalDist

        unit = NormalDist()
        return [
            unit.inv_cdf(scalar_uniform("parameter", seed, replication, f"{key}#{k}"))
            for k in range(len(self.parameters))
        ]

    def sample(self, seed: int, replication: int, key: str) -> list[float]:  # pragma: no cover
        raise NotImplementedError


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, list | tuple):
        return [leaf for item in value for leaf in _leaves(item)]
    return [value]


class MultivariateNormal(_JointDistribution):
    """Parameters drawn together from a multivariate normal (mean vector, covariance matrix)."""

    distribution: Literal["multivariate_normal"]
    mean: tuple[float, ...]
    covariance: tuple[tuple[float, ...], ...]

    @field_validator("mean")
    @classmethod
    def _one_per_parameter(cls, values: tuple, info: ValidationInfo) -> tuple:
        return cls._check_size(values, info)

    @field_validator("covariance")
    @classmethod
    def _covariance(cls, matrix: tuple, info: ValidationInfo) -> tuple:
        return cls._check_square(matrix, info)

    def sample(self, seed: int, replication: int, key: str) -> list[float]:
        """μ + L z, L the Cholesky factor of the covariance, z standard normal scores."""
        z = self.normal_scores(seed, replication, key)
        factor = factor_covariance(self.covariance)
        return [
            m + sum(f * s for f, s in zip(row, z, strict=True))
            for m, row in zip(self.mean, factor, strict=True)
        ]


class MultivariateLogNormal(_JointDistribution):
    """Positive parameters whose natural logarithms are jointly normal: medians and the covariance
    of the logarithms (what a fit on the log scale estimates)."""

    distribution: Literal["multivariate_lognormal"]
    median: tuple[Annotated[float, Field(gt=0)], ...]
    log_covariance: tuple[tuple[float, ...], ...]

    @field_validator("median")
    @classmethod
    def _one_per_parameter(cls, values: tuple, info: ValidationInfo) -> tuple:
        return cls._check_size(values, info)

    @field_validator("log_covariance")
    @classmethod
    def _covariance(cls, matrix: tuple, info: ValidationInfo) -> tuple:
        return cls._check_square(matrix, info)

    def sample(self, seed: int, replication: int, key: str) -> list[float]:
        """median · exp(L z), L the Cholesky factor of the log covariance."""
        z = self.normal_scores(seed, replication, key)
        factor = factor_covariance(self.log_covariance)
        return [
            m * math.exp(sum(f * s for f, s in zip(row, z, strict=True)))
            for m, row in zip(self.median, factor, strict=True)
        ]


class Empirical(_JointDistribution):
    """Parameters drawn together as one row of a table of joint draws (bootstrap or posterior
    samples), each row equally likely."""

    distribution: Literal["empirical"]
    draws: tuple[tuple[float, ...], ...] = Field(min_length=1, max_length=MAX_JOINT_DRAWS)

    @field_validator("draws")
    @classmethod
    def _rows(cls, draws: tuple, info: ValidationInfo) -> tuple:
        size = len(info.data.get("parameters", draws[0]))
        for index, row in enumerate(draws):
            if len(row) != size:
                raise ValueError(f"row {index + 1} has {len(row)} value(s) but there are {size} parameters")
        return draws

    def row(self, seed: int, replication: int, key: str) -> int:
        """The row drawn in one replication: ⌊u · rows⌋."""
        u = scalar_uniform("parameter", seed, replication, f"{key}#row")
        return min(int(u * len(self.draws)), len(self.draws) - 1)

    def sample(self, seed: int, replication: int, key: str) -> list[float]:
        return list(self.draws[self.row(seed, replication, key)])


JointDistribution = Annotated[
    MultivariateNormal | MultivariateLogNormal | Empirical, Field(discriminator="distribution")
]
"""An item of ``joint_uncertainty``: parameters drawn together once per replication."""
