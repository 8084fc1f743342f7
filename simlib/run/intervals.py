"""The one interval every number is reported with: the central 90% of the replications.

An interval is the empirical (5th, 95th) percentiles across Monte Carlo replications of a total or a
paired difference (docs/model.md §6.2): it carries both the simulation's randomness and the
parameter uncertainty drawn per replication. Results, comparisons, the recommendation, the optimiser,
the notebooks and the briefing all use these two functions and this coverage.
"""

from __future__ import annotations

import numpy as np

COVERAGE = 0.9
"""Share of the replications an interval covers (the central 90%)."""


def interval(values: np.ndarray, coverage: float = COVERAGE) -> tuple[float, float]:
    """(low, high): the central ``coverage`` of ``values`` (empirical quantiles, linear)."""
    tail = (1.0 - coverage) / 2.0
    low, high = np.quantile(np.asarray(values, dtype=float), [tail, 1.0 - tail])
    return float(low), float(high)


def estimate(values: np.ndarray, coverage: float = COVERAGE) -> tuple[float, float, float]:
    """(mean, low, high) of ``values`` across replications."""
    low, high = interval(values, coverage)
    return float(np.mean(values)), low, high
