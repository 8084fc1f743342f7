"""Compiled special functions for drawing traits by inverse CDF: Φ⁻¹ and the Beta quantile.

Both are scalar Numba functions, called per customer inside the engine's compiled steps. They
replace ``scipy.special.ndtri`` and ``scipy.special.betaincinv`` (which cannot be called from
compiled code) and are checked against them in ``tests/test_special.py``:

* :func:`ndtri` is the Cephes algorithm (Moshier 1989), as in SciPy: rational approximations in
  three ranges, accurate to about 1e-16 relative.
* :func:`beta_quantile` solves I_x(α, β) = u by safeguarded Halley iterations on the regularised
  incomplete beta function, evaluated by its continued fraction (Lentz's method). Accurate to
  1e-10 relative or better for 0.05 ≤ α, β ≤ 10⁴ over the whole open interval of u, and
  non-decreasing in u to within rounding (about 1e-14 relative between neighbouring uniforms),
  which keeps the common-random-numbers coupling: under any (α, β) a customer with a higher
  uniform gets a higher (or, within rounding, equal) churn probability.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

_S2PI = 2.50662827463100050242
_EXP_M2 = 0.13533528323661269189
_P0 = np.array(
    [
        -5.99633501014107895267e1,
        9.80010754185999661536e1,
        -5.66762857469070293439e1,
        1.39312609387279679503e1,
        -1.23916583867381258016e0,
    ]
)
_Q0 = np.array(
    [
        1.0,
        1.95448858338141759834e0,
        4.67627912898881538453e0,
        8.63602421390890590575e1,
        -2.25462687854119370527e2,
        2.00260212380060660359e2,
        -8.20372256168333339912e1,
        1.59056225126211695515e1,
        -1.18331621121330003142e0,
    ]
)
_P1 = np.array(
    [
        4.05544892305962419923e0,
        3.15251094599893866154e1,
        5.71628192246421288162e1,
        4.40805073893200834700e1,
        1.46849561928858024014e1,
        2.18663306850790267539e0,
        -1.40256079171354495875e-1,
        -3.50424626827848203418e-2,
        -8.57456785154685413611e-4,
    ]
)
_Q1 = np.array(
    [
        1.0,
        1.57799883256466749731e1,
        4.53907635128879210584e1,
        4.13172038254672030440e1,
        1.50425385692907503408e1,
        2.50464946208309415979e0,
        -1.42182922854787788574e-1,
        -3.80806407691578277194e-2,
        -9.33259480895457427372e-4,
    ]
)
_P2 = np.array(
    [
        3.23774891776946035970e0,
        6.91522889068984211695e0,
        3.93881025292474443415e0,
        1.33303460815807542389e0,
        2.01485389549179081538e-1,
        1.23716634817820021358e-2,
        3.01581553508235416007e-4,
        2.65806974686737550832e-6,
        6.23974539184983293730e-9,
    ]
)
_Q2 = np.array(
    [
        1.0,
        6.02427039364742014255e0,
        3.67983563856160859403e0,
        1.37702099489081330271e0,
        2.16236993594496635890e-1,
        1.34204006088543189037e-2,
        3.28014464682127739104e-4,
        2.89247864745380683936e-6,
        6.79019408009981274425e-9,
    ]
)


@njit(error_model="numpy", inline="always")
def _polynomial(x: float, coefficients: np.ndarray) -> float:
    """Horner's rule, highest power first."""
    total = coefficients[0]
    for c in coefficients[1:]:
        total = total * x + c
    return total


@njit(error_model="numpy")
def ndtri(u: float) -> float:
    """Φ⁻¹(u), the standard normal quantile (Cephes ``ndtri``); ±inf at 0 and 1, NaN outside."""
    if u <= 0.0:
        return -np.inf if u == 0.0 else np.nan
    if u >= 1.0:
        return np.inf if u == 1.0 else np.nan
    y = u
    upper = y > 1.0 - _EXP_M2
    if upper:
        y = 1.0 - y
    if y > _EXP_M2:
        y = y - 0.5
        y2 = y * y
        x = y + y * (y2 * _polynomial(y2, _P0) / _polynomial(y2, _Q0))
        return x * _S2PI
    x = math.sqrt(-2.0 * math.log(y))
    x0 = x - math.log(x) / x
    z = 1.0 / x
    if x < 8.0:
        x1 = z * _polynomial(z, _P1) / _polynomial(z, _Q1)
    else:
        x1 = z * _polynomial(z, _P2) / _polynomial(z, _Q2)
    x = x0 - x1
    return x if upper else -x


_TINY = 1e-300
_EPSILON = 2.220446049250313e-16


@njit(error_model="numpy", inline="always")
def _lentz_step(coefficient: float, c: float, d: float) -> tuple[float, float]:
    """One term of the modified Lentz recurrence: d ← 1/(1 + a·d), c ← 1 + a/c, kept off zero."""
    d = 1.0 + coefficient * d
    if abs(d) < _TINY:
        d = _TINY
    c = 1.0 + coefficient / c
    if abs(c) < _TINY:
        c = _TINY
    return c, 1.0 / d


@njit(error_model="numpy")
def _beta_continued_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of I_x(a, b) (modified Lentz), valid for x < (a + 1) / (a + b + 2):
    terms d_{2m} = m(b − m)x / ((a + 2m − 1)(a + 2m)), d_{2m+1} = −(a + m)(a + b + m)x /
    ((a + 2m)(a + 2m + 1)) (Numerical Recipes §6.4)."""
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c = 1.0
    d = 1.0 - qab * x / qap
    if abs(d) < _TINY:
        d = _TINY
    d = 1.0 / d
    h = d
    for m in range(1, 100_000):
        m2 = 2 * m
        c, d = _lentz_step(m * (b - m) * x / ((qam + m2) * (a + m2)), c, d)
        h *= d * c
        c, d = _lentz_step(-(a + m) * (qab + m) * x / ((a + m2) * (qap + m2)), c, d)
        step = d * c
        h *= step
        if abs(step - 1.0) < 4.0 * _EPSILON:
            break
    return h


@njit(error_model="numpy")
def _stirling_correction(x: float) -> float:
    """ln Γ(x) − [(x − ½) ln x − x + ½ ln 2π], by its asymptotic series (x ≥ 20: error < 1e-16):
    1/(12x) − 1/(360x³) + 1/(1260x⁵) − 1/(1680x⁷) + 1/(1188x⁹)."""
    inverse = 1.0 / x
    square = inverse * inverse
    return inverse * (
        1.0 / 12.0
        - square * (1.0 / 360.0 - square * (1.0 / 1260.0 - square * (1.0 / 1680.0 - square / 1188.0)))
    )


@njit(error_model="numpy")
def log_beta(a: float, b: float) -> float:
    """ln B(a, b) = ln Γ(a) + ln Γ(b) − ln Γ(a + b).

    When the larger shape is at least 20, ln Γ(b) − ln Γ(a + b) is taken from Stirling's series
    as −(b − ½)·ln(1 + a/b) − a·ln(a + b) + a + corrections, which avoids subtracting two large
    nearly equal numbers (ln Γ(10⁴) ≈ 8·10⁴).
    """
    small, large = min(a, b), max(a, b)
    if large < 20.0:
        return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)
    difference = (
        -(large - 0.5) * math.log1p(small / large)
        - small * math.log(small + large)
        + small
        + _stirling_correction(large)
        - _stirling_correction(small + large)
    )
    return math.lgamma(small) + difference


@njit(error_model="numpy")
def _beta_power_series(a: float, b: float, x: float) -> float:
    """S in I_x(a, b) = x^a / (a·B(a, b)) · S, S = 1 + a·Σ_{j≥1} (1 − b)(2 − b)…(j − b)/j! · x^j/(a + j).

    DiDonato & Morris's BPSER. Used where x ≤ 0.3 and b·x ≤ 3: the terms then fall fast and their
    alternating signs lose at most e^(2bx) ≈ 400 units of rounding, while each term costs a
    multiplication instead of the continued fraction's chain of divisions (several times faster
    for the small churn probabilities the engine draws).
    """
    total = 0.0
    term = 1.0
    for j in range(1, 400):
        term *= (j - b) * x / j
        part = term / (a + j)
        total += part
        if abs(part) <= 1e-17 * abs(total) or term == 0.0:
            break
    return 1.0 + a * total


@njit(error_model="numpy")
def _beta_cdf_from_logs(x: float, a: float, b: float, log_x: float, log_1mx: float, log_b: float) -> float:
    """I_x(a, b) given ln x, ln(1 − x) and ln B(a, b) (see :func:`beta_cdf`)."""
    if x <= 0.3 and b * x <= 3.0:
        return math.exp(a * log_x - log_b) * _beta_power_series(a, b, x) / a
    front = math.exp(a * log_x + b * log_1mx - log_b)
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _beta_continued_fraction(a, b, x) / a
    return 1.0 - front * _beta_continued_fraction(b, a, 1.0 - x) / b


@njit(error_model="numpy")
def beta_cdf(x: float, a: float, b: float, log_b: float) -> float:
    """The regularised incomplete beta function I_x(a, b); ``log_b`` = ln B(a, b).

    I_x(a, b) = x^a (1 − x)^b / (a B(a, b)) · CF(x), with the symmetry
    I_x(a, b) = 1 − I_{1−x}(b, a) on the side where the continued fraction converges slowly.
    """
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    return _beta_cdf_from_logs(x, a, b, math.log(x), math.log1p(-x), log_b)


@njit(error_model="numpy")
def beta_quantile(u: float, a: float, b: float) -> float:
    """The Beta(a, b) quantile: the x in (0, 1) with I_x(a, b) = u.

    Closed forms where one shape is 1: 1 − (1 − u)^(1/b) for a = 1, u^(1/a) for b = 1.
    Otherwise a first guess x₀ (Numerical Recipes' ``invbetai``: an Abramowitz–Stegun normal
    approximation for a, b ≥ 1, the power-law tails otherwise) tells on which side of
    m = (a + 1)/(a + b + 2) the answer lies. Below m, I_x(a, b) = u is solved for x; above it,
    I_y(b, a) = 1 − u for y = 1 − x. Each side is thereby solved where its probability is computed
    without cancellation (1 − u is exact for the engine's uniforms, multiples of 2⁻⁵³).
    """
    if u <= 0.0:
        return 0.0
    if u >= 1.0:
        return 1.0
    if a == 1.0:
        return -math.expm1(math.log1p(-u) / b)
    if b == 1.0:
        return math.exp(math.log(u) / a)
    log_b = log_beta(a, b)
    if a >= 1.0 and b >= 1.0:
        p = u if u < 0.5 else 1.0 - u
        t = math.sqrt(-2.0 * math.log(p))
        z = (2.30753 + t * 0.27061) / (1.0 + t * (0.99229 + t * 0.04481)) - t
        if u < 0.5:
            z = -z
        al = (z * z - 3.0) / 6.0
        h = 2.0 / (1.0 / (2.0 * a - 1.0) + 1.0 / (2.0 * b - 1.0))
        w = z * math.sqrt(al + h) / h - (1.0 / (2.0 * b - 1.0) - 1.0 / (2.0 * a - 1.0)) * (
            al + 5.0 / 6.0 - 2.0 / (3.0 * h)
        )
        # x₀ = a / (a + b·e^(2w)); y₀ = 1 − x₀ written without cancellation.
        x0 = a / (a + b * math.exp(2.0 * w))
        y0 = b / (b + a * math.exp(-2.0 * w))
    else:
        # I_x ≈ x^a / (a·w) near 0 and 1 − I_x ≈ (1 − x)^b / (b·w) near 1, w ≈ B(a, b).
        lower = math.exp(a * math.log(a / (a + b))) / a
        upper = math.exp(b * math.log(b / (a + b))) / b
        w = lower + upper
        if u < lower / w:
            x0 = math.exp((math.log(a * w) + math.log(u)) / a)
            if x0 < 1e-290:
                return x0  # below 1e-290: only the order of magnitude means anything here
            y0 = 1.0 - x0
        else:
            y0 = math.exp((math.log(b * w) + math.log1p(-u)) / b)
            x0 = 1.0 - y0
    if x0 <= (a + 1.0) / (a + b + 2.0):
        return _solve_lower(u, a, b, log_b, x0)
    return 1.0 - _solve_lower(1.0 - u, b, a, log_b, y0)


@njit(error_model="numpy")
def _solve_lower(u: float, a: float, b: float, log_b: float, x: float) -> float:
    """The x with I_x(a, b) = u from the guess ``x``, by Halley steps kept inside a bisection
    bracket (so it always converges). Halley's error falls as the cube of the previous one, so
    once a step is below 1e-6 of min(x, 1 − x) the next iterate is exact to rounding and is
    returned."""
    a1, b1 = a - 1.0, b - 1.0
    low, high = 0.0, 1.0
    if not (0.0 < x < 1.0):
        if not (x > 0.0):
            return 0.0  # below the smallest positive double
        x = 0.5
    for _ in range(200):
        log_x, log_1mx = math.log(x), math.log1p(-x)
        error = _beta_cdf_from_logs(x, a, b, log_x, log_1mx, log_b) - u
        if error == 0.0:
            return x
        if error < 0.0:
            low = x
        else:
            high = x
        density = math.exp(a1 * log_x + b1 * log_1mx - log_b)
        step = error / density
        curvature = step * (a1 / x - b1 / (1.0 - x))
        if abs(curvature) < 1.0:
            step = step / (1.0 - 0.5 * curvature)
        candidate = x - step
        if low < candidate < high and density > 0.0:
            if abs(step) <= 1e-6 * min(candidate, 1.0 - candidate):
                return candidate
        elif low > 0.0:
            # Halley left the bracket: bisect, geometrically (the tails are power laws).
            candidate = math.sqrt(low * high)
        else:
            candidate = 0.5 * high
        if candidate == x or high - low <= 4.0 * _EPSILON * high:
            return candidate
        x = candidate
    return x
