"""Fee standards (扣费标准) as exact functions: usage in, charges out.

A :class:`Tariff` is the numeric form of a :class:`~simlib.model.parameters.Fees` section; a
:class:`TariffTable` packs the tariffs of a run into arrays for the compiled engine, which prices
one customer at a time with :func:`bill_cents`. The array functions (:func:`usage_charge`,
:func:`monthly_bill_cents`, …) apply the same compiled functions to arrays. Bills are rounded to
whole cents, as a real bill is; the engine keeps money in cents so that sums are exact integers
whatever the order or chunking of the customers.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import NamedTuple

import numpy as np
from numba import njit

from simlib.model.parameters import Fees


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

    def uses_usage(self) -> bool:
        """Whether a bill under this tariff depends on the customer's usage this month."""
        return bool(
            np.any(self.tier_price != 0) or self.transaction_fee_fixed or self.transaction_fee_percent
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Tariff):
            return NotImplemented
        return all(np.array_equal(getattr(self, f), getattr(other, f)) for f in self.__dataclass_fields__)

    __hash__ = None  # type: ignore[assignment]


class TariffTable(NamedTuple):
    """The tariffs of a run as arrays, one row per tariff (money in currency units unless in cents)."""

    monthly_fee: np.ndarray
    included_units: np.ndarray
    volume_pricing: np.ndarray
    transaction_fee_percent: np.ndarray
    transaction_fee_fixed: np.ndarray
    minimum_charge: np.ndarray
    bill_cap: np.ndarray
    prepay_discount: np.ndarray
    penalty_fee_cents: np.ndarray
    setup_fee_cents: np.ndarray
    early_termination_fee_cents: np.ndarray
    minimum_term_months: np.ndarray
    uses_usage: np.ndarray
    tier_count: np.ndarray
    tier_upper: np.ndarray
    """(tariff, band) upper bounds in billable units; +inf for the open band and unused bands."""
    tier_price: np.ndarray
    """(tariff, band) unit prices; 0 for unused bands."""


def tariff_table(tariffs: list[Tariff]) -> TariffTable:
    """Pack tariffs into a :class:`TariffTable` (row ``k`` is ``tariffs[k]``)."""
    bands = max(len(t.tier_price) for t in tariffs)
    upper = np.full((len(tariffs), bands), np.inf)
    price = np.zeros((len(tariffs), bands))
    for row, t in enumerate(tariffs):
        upper[row, : len(t.tier_upper)] = t.tier_upper
        price[row, : len(t.tier_price)] = t.tier_price

    def column(values: list, dtype: type = np.float64) -> np.ndarray:
        return np.asarray(values, dtype=dtype)

    return TariffTable(
        monthly_fee=column([t.monthly_fee for t in tariffs]),
        included_units=column([t.included_units for t in tariffs]),
        volume_pricing=column([t.volume_pricing for t in tariffs], np.bool_),
        transaction_fee_percent=column([t.transaction_fee_percent for t in tariffs]),
        transaction_fee_fixed=column([t.transaction_fee_fixed for t in tariffs]),
        minimum_charge=column([t.minimum_charge for t in tariffs]),
        bill_cap=column([t.bill_cap for t in tariffs]),
        prepay_discount=column([t.prepay_discount for t in tariffs]),
        penalty_fee_cents=column([to_cents(t.penalty_fee) for t in tariffs]),
        setup_fee_cents=column([to_cents(t.setup_fee) for t in tariffs]),
        early_termination_fee_cents=column([to_cents(t.early_termination_fee) for t in tariffs]),
        minimum_term_months=column([t.minimum_term_months for t in tariffs], np.int64),
        uses_usage=column([t.uses_usage() for t in tariffs], np.bool_),
        tier_count=column([len(t.tier_price) for t in tariffs], np.int64),
        tier_upper=upper,
        tier_price=price,
    )


@njit(error_model="numpy", inline="always")
def usage_charge_of(usage_units: float, table: TariffTable, tariff: int) -> float:
    """Charge for usage above the allowance, before minimum, cap and rounding.

    Graduated tiers price each unit at the band it falls in: U(y) = Σ_k c_k · clip(y − b_{k−1}, 0,
    b_k − b_{k−1}) (continuous and non-decreasing in usage). Volume (all-units) tiers price every
    billable unit at the band the total reaches: U(y) = c_k(y) · y; the charge can therefore drop
    when usage crosses into a cheaper band, as such tariffs really do. Bands are half-open on the
    left: a band ``up_to: 50`` holds billable units in (previous, 50]. y = max(usage − included, 0).
    """
    billable = max(usage_units - table.included_units[tariff], 0.0)
    bands = table.tier_count[tariff]
    if table.volume_pricing[tariff]:
        band = 0
        while band < bands - 1 and table.tier_upper[tariff, band] < billable:
            band += 1
        return table.tier_price[tariff, band] * billable
    charge = 0.0
    lower = 0.0
    for band in range(bands):
        upper = table.tier_upper[tariff, band]
        price = table.tier_price[tariff, band]
        if price != 0.0:
            charge += price * min(max(billable - lower, 0.0), upper - lower)
        lower = upper
    return charge


@njit(error_model="numpy", inline="always")
def transaction_charge_of(
    usage_units: float, transaction_value: float, table: TariffTable, tariff: int
) -> float:
    """Per-transaction fees: usage · (fixed fee + percentage / 100 · value of a transaction)."""
    per_unit = (
        table.transaction_fee_fixed[tariff]
        + table.transaction_fee_percent[tariff] / 100.0 * transaction_value
    )
    return usage_units * per_unit


@njit(error_model="numpy", inline="always")
def bill_cents(
    usage_units: float, prepay: bool, transaction_value: float, table: TariffTable, tariff: int
) -> float:
    """The recurring monthly bill in whole cents (as a float), penalties and one-off fees excluded.

    bill = round(100 · clip(F·(1 − δ·prepay) + U(usage) + X(usage), minimum charge, bill cap))
    """
    subscription = table.monthly_fee[tariff] * (
        1.0 - table.prepay_discount[tariff] * (1.0 if prepay else 0.0)
    )
    total = subscription + usage_charge_of(usage_units, table, tariff)
    if table.transaction_fee_fixed[tariff] != 0.0 or table.transaction_fee_percent[tariff] != 0.0:
        total = total + transaction_charge_of(usage_units, transaction_value, table, tariff)
    total = min(max(total, table.minimum_charge[tariff]), table.bill_cap[tariff])
    return np.rint(total * 100.0)


@njit(cache=True, error_model="numpy")
def _bills(usage: np.ndarray, prepay: np.ndarray, value: np.ndarray, table: TariffTable) -> np.ndarray:
    out = np.empty(len(usage))
    for i in range(len(usage)):
        out[i] = bill_cents(usage[i], prepay[i], value[i], table, 0)
    return out


@njit(cache=True, error_model="numpy")
def _usage_charges(usage: np.ndarray, table: TariffTable) -> np.ndarray:
    out = np.empty(len(usage))
    for i in range(len(usage)):
        out[i] = usage_charge_of(usage[i], table, 0)
    return out


@njit(cache=True, error_model="numpy")
def _transaction_charges(usage: np.ndarray, value: np.ndarray, table: TariffTable) -> np.ndarray:
    out = np.empty(len(usage))
    for i in range(len(usage)):
        out[i] = transaction_charge_of(usage[i], value[i], table, 0)
    return out


def _as_array(values: np.ndarray | float | bool, like: np.ndarray, dtype: type) -> np.ndarray:
    return np.ascontiguousarray(np.broadcast_to(np.asarray(values, dtype=dtype), like.shape))


def usage_charge(usage_units: np.ndarray, tariff: Tariff) -> np.ndarray:
    """:func:`usage_charge_of` for an array of usage (units per month)."""
    usage = np.ascontiguousarray(usage_units, dtype=np.float64)
    return _usage_charges(usage, tariff_table([tariff]))


def transaction_charge(
    usage_units: np.ndarray, transaction_value: np.ndarray | float, tariff: Tariff
) -> np.ndarray:
    """:func:`transaction_charge_of` for an array of usage."""
    usage = np.ascontiguousarray(usage_units, dtype=np.float64)
    value = _as_array(transaction_value, usage, np.float64)
    return _transaction_charges(usage, value, tariff_table([tariff]))


def monthly_bill_cents(
    usage_units: np.ndarray,
    tariff: Tariff,
    prepay: np.ndarray | bool = False,
    transaction_value: np.ndarray | float = 0.0,
) -> np.ndarray:
    """:func:`bill_cents` for an array of usage: the recurring bill in whole cents (as float64)."""
    usage = np.ascontiguousarray(usage_units, dtype=np.float64)
    return _bills(
        usage,
        _as_array(prepay, usage, np.bool_),
        _as_array(transaction_value, usage, np.float64),
        tariff_table([tariff]),
    )


def to_cents(amount: float) -> float:
    """A currency amount as whole cents."""
    return float(np.rint(amount * 100.0))
