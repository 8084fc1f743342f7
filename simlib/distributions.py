"""Uncertain parameters: a behavioural parameter may be a number or a distribution.

A distribution is sampled once per replication, from a uniform that depends only on
(seed, replication, parameter path). A baseline and a reform that share a distribution for the
same parameter therefore draw the same value in the same replication: the pairing that makes
their difference the policy's effect extends to parameter uncertainty too.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .draws import scalar_uniform


def _stats():
    """scipy.stats, imported on first use: importing it costs about a second at start-up."""
    from scipy import stats

    return stats


class _Distribution(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

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
