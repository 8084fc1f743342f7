"""Shared Monte Carlo tolerances for the statistical tests."""

from __future__ import annotations

import numpy as np

Z = 4.0
"""Tolerance in standard errors: a correct model fails a given check about once in 16,000 runs."""


def binomial_close(count: float, n: float, p: float) -> bool:
    """Whether a count of successes out of n is within Z binomial standard errors of n·p."""
    return abs(count - n * p) <= Z * np.sqrt(n * p * (1.0 - p))
