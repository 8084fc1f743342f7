"""The compiled inverse CDFs (:mod:`simlib.model.special`) against SciPy.

Φ⁻¹ is SciPy's own algorithm and must agree to the last bit or two. The Beta quantile must agree
with ``scipy.special.betaincinv`` to 1e-10 relative over a grid of shapes that includes α < 1 and
both tails down to the engine's smallest uniform (2⁻⁵³), and must be monotone in u for every
shape: that is what keeps common random numbers coupled (a customer with a higher uniform gets a
higher churn probability under any α, β).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special

from simlib.model.special import beta_quantile, ndtri

TAILS = [2.0**-53, 1e-15, 1e-12, 1e-9, 1e-6, 1e-3, 0.01, 0.1, 0.5, 0.9, 0.99, 0.999]
UPPER = [1.0 - t for t in TAILS[:-3]]
GRID = np.sort(np.concatenate([TAILS, UPPER, np.random.default_rng(7).random(120)]))
SHAPES = [0.05, 0.1, 0.3, 0.5, 0.9, 1.0, 1.5, 3.8, 10.0, 36.0, 100.0, 1000.0, 1e4]
SECOND = [0.05, 0.1, 0.5, 1.0, 2.0, 15.2, 30.0, 45.0, 100.0, 1000.0, 1e4]


def test_ndtri_is_scipys() -> None:
    for u in GRID:
        expected = special.ndtri(u)
        assert ndtri(u) == pytest.approx(expected, rel=4e-16, abs=1e-300), u
    assert ndtri(0.0) == -np.inf and ndtri(1.0) == np.inf and np.isnan(ndtri(1.5))


@pytest.mark.parametrize("alpha", SHAPES)
def test_beta_quantile_matches_scipy_to_1e_10(alpha: float) -> None:
    for beta in SECOND:
        for u in GRID:
            expected = special.betaincinv(alpha, beta, u)
            if expected < 1e-290:  # below the normal doubles: only the order of magnitude is defined
                continue
            got = beta_quantile(u, alpha, beta)
            assert abs(got - expected) <= 1e-10 * expected, (alpha, beta, u, got, expected)


@pytest.mark.parametrize("alpha", SHAPES)
def test_beta_quantile_is_monotone_in_u(alpha: float) -> None:
    for beta in SECOND:
        quantiles = [beta_quantile(u, alpha, beta) for u in GRID]
        assert np.all(np.diff(quantiles) >= 0), (alpha, beta)
        assert quantiles[0] >= 0.0 and quantiles[-1] <= 1.0


def test_beta_quantile_edges_and_closed_forms() -> None:
    assert beta_quantile(0.0, 0.9, 30.0) == 0.0 and beta_quantile(1.0, 0.9, 30.0) == 1.0
    u = 0.3
    assert beta_quantile(u, 1.0, 3.0) == pytest.approx(1 - (1 - u) ** (1 / 3), rel=1e-15)
    assert beta_quantile(u, 2.5, 1.0) == pytest.approx(u ** (1 / 2.5), rel=1e-15)
    # A shifted posterior Beta(α, β + t) stochastically decreases with tenure t, draw by draw.
    for u in GRID:
        assert beta_quantile(u, 0.9, 30.0) >= beta_quantile(u, 0.9, 42.0)
