"""Fee standards (扣费标准) as vectorised, exact functions: usage in, charges out.

A :class:`Tariff` is the numeric form of a :class:`~simlib.parameters.Fees` section. The functions
here are pure: arrays of usage (units per month) in, arrays of charges in the scenario's currency out.
Bills are rounded to whole cents, as a real bill is; the engine keeps money in cents so that sums are
exact integers whatever the order or chunking of the customers.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .parameters import Fees


@dataclass(frozen=True)
class Tariff:
    """A fee standard in numeric form (money in currency units, usage in units per month)."""

    monthly_fee: float
    included_units: float
    tier_upper: np.ndarray
    tier_price: np.ndarray
    volume_pricing: bool
    transaction_fee_percent: float
    transaction_fee_fixed: float
    minimum_charge: float
    bill_cap: float
    penalty_fee: float
    setup_fee: float
    early_termination_fee: float
    minimum_term_months: int
    prepay_discount: float

    @classmethod
    def from_fees(cls, fees: Fees) -> Tariff:
        upper = [np.inf if t.up_to is None else float(t.up_to) for t in fees.usage_tiers]
        return cls(
            monthly_fee=fees.monthly_fee,
            included_units=fees.included_units,
            tier_upper=np.asarray(upper, dtype=np.float64),
            tier_price=np.asarray([t.unit_price for t in fees.usage_tiers], dtype=np.float64),
            volume_pricing=fees.tier_mode == "volume",
            transaction_fee_percent=fees.transaction_fee_percent,
            transaction_fee_fixed=fees.transaction_fee_fixed,
            minimum_charge=fees.minimum_charge,
            bill_cap=np.inf if fees.bill_cap is None else fees.bill_cap,
            penalty_fee=fees.penalty_fee,
            setup_fee=fees.setup_fee,
            early_termination_fee=fees.early_termination_fee,
            minimum_term_months=fees.minimum_term_months,
            prepay_discount=fees.prepay_discount,
        )

    def scaled(self, parameter: str, factor: float) -> Tariff:
        """A copy with one fee multiplied by ``factor`` (``usage_prices`` scales every band)."""
        if parameter == "usage_prices":
            return replace(self, tier_price=self.tier_price * factor)
        return replace(self, **{parameter: getattr(self, parameter) * factor})

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Tariff):
            return NotImplemented
        return all(np.array_equal(getattr(self, f), getattr(other, f)) for f in self.__dataclass_fields__)

    __hash__ = None  # type: ignore[assignment]


def usage_charge(usage_units: np.ndarray, tariff: Tariff) -> np.ndarray:
    """Charge for usage above the allowance, before minimum, cap and rounding.

    Graduated tiers price each unit at the band it falls in (continuous and non-decreasing in
    usage). Volume (all-units) tiers price every billable unit at the band the total reaches; the
    charge can therefore drop when usage crosses into a cheaper band, as such tariffs really do.
    Bands are half-open on the left: a band ``up_to: 50`` holds billable units in (previous, 50].
    """
    billable = np.maximum(np.asarray(usage_units, dtype=np.float64) - tariff.included_units, 0.0)
    if tariff.volume_pricing:
        band = np.searchsorted(tariff.tier_upper, billable, side="left")
        return tariff.tier_price[np.minimum(band, len(tariff.tier_price) - 1)] * billable
    lower = np.concatenate(([0.0], tariff.tier_upper[:-1]))
    charge = np.zeros_like(billable)
    for band_lower, band_upper, price in zip(lower, tariff.tier_upper, tariff.tier_price, strict=True):
        if price:
            charge += price * np.clip(billable - band_lower, 0.0, band_upper - band_lower)
    return charge


def transaction_charge(
    usage_units: np.ndarray, transaction_value: np.ndarray | float, tariff: Tariff
) -> np.ndarray:
    """Per-transaction fees: a fixed fee per unit plus a percentage of each unit's value."""
    per_unit = tariff.transaction_fee_fixed + tariff.transaction_fee_percent / 100.0 * np.asarray(
        transaction_value, dtype=np.float64
    )
    return np.asarray(usage_units, dtype=np.float64) * per_unit


def monthly_bill_cents(
    usage_units: np.ndarray,
    tariff: Tariff,
    prepay: np.ndarray | bool = False,
    transaction_value: np.ndarray | float = 0.0,
) -> np.ndarray:
    """The recurring monthly bill in whole cents (as float64), penalties and one-off fees excluded.

    bill = clip(subscription·(1 − discount·prepay) + usage + transactions, minimum_charge, bill_cap)
    """
    subscription = tariff.monthly_fee * (1.0 - tariff.prepay_discount * np.asarray(prepay, float))
    total = subscription + usage_charge(usage_units, tariff)
    if tariff.transaction_fee_fixed or tariff.transaction_fee_percent:
        total = total + transaction_charge(usage_units, transaction_value, tariff)
    total = np.clip(total, tariff.minimum_charge, tariff.bill_cap)
    return np.rint(np.asarray(total, dtype=np.float64) * 100.0)


def to_cents(amount: float) -> float:
    """A currency amount as whole cents."""
    return float(np.rint(amount * 100.0))
