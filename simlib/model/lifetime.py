"""Lifetime value under the shifted-beta-geometric (sBG) model, with heterogeneity kept.

Each customer churns each month with a personal probability p ~ Beta(α, β); a customer who has
survived n months has p ~ Beta(α, β + n) (docs/model.md §2.3, §4). Valuing a customer at the
*average* churn with the geometric formula ignores that the survivors are the loyal ones and
understates the discounted lifetime — by about a third for Beta(0.9, 36) at 8% a year (Fader & Hardie
2010, "the perils of ignoring heterogeneity"). The functions here keep the heterogeneity: the
discounted expected residual lifetime (DERL) of Fader & Hardie (2010) and, built on it, the value of
a customer who is active in a month, with the convention of the simulator's NPV (§6.1).
"""

from __future__ import annotations

import numpy as np
from scipy import special

from simlib.errors import InputError

#: Renewals assumed when a segment shows no baseline churn at all (its posterior mean churn is 0):
#: large enough that the customer is valued as (nearly) never leaving for personal reasons.
MAX_RENEWALS = 1e6


def derl(discount_rate: float, alpha: float, beta: float, renewals: np.ndarray | float = 0) -> np.ndarray:
    """Discounted expected residual lifetime of a customer who has made ``renewals`` renewals.

    DERL(d | α, β, n) = B(α, β + n + 1) / B(α, β + n) · ₂F₁(1, β + n + 1; α + β + n + 1; 1 / (1 + d))
                      = Σ_{t ≥ 1} S(n + t) / S(n) / (1 + d)^(t − 1),   S(t) = B(α, β + t) / B(α, β)

    (Fader & Hardie 2010, 'Customer-base valuation in a contractual setting: the perils of ignoring
    heterogeneity', eq. 6). Convention: payments are made at the *start* of each period, and the
    customer is valued at the *end* of period n + 1 — "alive at the end of period n + 1", having made
    n renewals, just before deciding on renewal n + 1. The period already paid for is not counted;
    the next renewal counts with its probability and undiscounted, each later one a period more
    discounted. A customer alive at the end of period 1 has made 0 renewals. Counting the current
    period as a certain, undiscounted payment instead gives 1 + DERL / (1 + d). Multiply by the
    margin per period for a value.

    Parameters
    ----------
    discount_rate : d, per period (> 0; at 0 the expected lifetime is infinite when α ≤ 1).
    alpha, beta : the sBG parameters (> 0).
    renewals : n, whole periods survived after the first (scalar or array, ≥ 0; fractional values
        interpolate the posterior Beta(α, β + n)).

    Returns
    -------
    Discounted periods (dimensionless), shaped like ``renewals``.
    """
    if not discount_rate > 0:
        raise InputError(f"the discount rate must be positive (got {discount_rate})")
    n = np.asarray(renewals, dtype=float)
    ratio = np.exp(special.betaln(alpha, beta + n + 1.0) - special.betaln(alpha, beta + n))
    return ratio * special.hyp2f1(1.0, beta + n + 1.0, alpha + beta + n + 1.0, 1.0 / (1.0 + discount_rate))


def discounted_months(
    discount_rate: float,
    alpha: np.ndarray | float,
    beta: np.ndarray | float,
    renewals: np.ndarray | float,
    other_hazard: np.ndarray | float = 0.0,
) -> np.ndarray:
    """Expected discounted months of margin of a customer who is active this month, valued at the
    start of the month, with the simulator's convention: the margin of month k (k = 0 this month)
    is received at its end, discounted by (1 + d)^-(k + 1) (docs/model.md §6.1).

    The customer's baseline churn probability has the posterior Beta(α, β + n) and, independently
    of it, the customer leaves each month for other reasons with a constant probability h. With
    v = 1 / (1 + d) and u = (1 − h) v,

        L = Σ_{k ≥ 0} E[(1 − p)^k] (1 − h)^k v^(k + 1) = v · (1 + u · DERL(d' | α, β, n)),

    where d' = 1/u − 1: a constant hazard acts as extra discounting. With h = 0 and n renewals this
    is the value, per unit margin, of a customer "alive at the end of period n + 1" in DERL's terms,
    paid for the next period at its end.

    Parameters
    ----------
    discount_rate : d, per month (> 0).
    alpha, beta : the segment's sBG parameters (> 0; arrays broadcast).
    renewals : n ≥ 0, months survived under the baseline churn (the posterior's shift).
    other_hazard : h in [0, 1], monthly probability of leaving for other causes.

    Returns
    -------
    Discounted months (dimensionless), broadcast over the arguments.
    """
    if not discount_rate > 0:
        raise InputError(f"the discount rate must be positive (got {discount_rate})")
    alpha, beta, n, h = np.broadcast_arrays(
        *(np.asarray(x, dtype=float) for x in (alpha, beta, renewals, other_hazard))
    )
    v = 1.0 / (1.0 + discount_rate)
    stay = np.clip(1.0 - h, 0.0, 1.0)
    out = np.full(alpha.shape, v)
    staying = stay > 0
    if np.any(staying):
        u = stay[staying] * v
        effective = 1.0 / u - 1.0
        ratio = np.exp(
            special.betaln(alpha[staying], beta[staying] + n[staying] + 1.0)
            - special.betaln(alpha[staying], beta[staying] + n[staying])
        )
        residual = ratio * special.hyp2f1(
            1.0,
            beta[staying] + n[staying] + 1.0,
            alpha[staying] + beta[staying] + n[staying] + 1.0,
            1.0 / (1.0 + effective),
        )
        out[staying] = v * (1.0 + u * residual)
    return out


def posterior_renewals(alpha: np.ndarray | float, beta: np.ndarray | float, mean_churn: np.ndarray | float):
    """The shift n of the posterior Beta(α, β + n) whose mean is the observed mean churn c.

    E[p | n renewals] = α / (α + β + n), so n = α / c − α − β, clipped to [0, MAX_RENEWALS]
    (c at or above the prior mean gives 0; c = 0 gives MAX_RENEWALS). A population of customers of
    mixed tenures is a mixture of such posteriors; matching its mean with a single Beta understates
    its spread a little (docs/model.md §6.1 measures the effect).

    Parameters
    ----------
    alpha, beta : sBG parameters (> 0).
    mean_churn : c, the mean baseline churn probability per month among the customers (≥ 0).

    Returns
    -------
    Renewals n (months, fractional), broadcast over the arguments.
    """
    alpha = np.asarray(alpha, dtype=float)
    beta = np.asarray(beta, dtype=float)
    churn = np.asarray(mean_churn, dtype=float)
    with np.errstate(divide="ignore"):
        renewals = np.where(churn > 0, alpha / np.where(churn > 0, churn, 1.0) - alpha - beta, MAX_RENEWALS)
    return np.clip(renewals, 0.0, MAX_RENEWALS)


__all__ = ["MAX_RENEWALS", "derl", "discounted_months", "posterior_renewals"]
