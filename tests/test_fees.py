"""Fee standards as functions: every fee shape checked against its definition and a reference."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simlib.model.fees import Tariff, monthly_bill_cents, to_cents, transaction_charge, usage_charge
from simlib.model.parameters import Fees, UsageTier

FAST = settings(max_examples=60, deadline=None)

money = st.integers(0, 10_000).map(lambda cents: cents / 100)  # whole cents, as tariffs are written
prices = st.integers(0, 300).map(lambda cents: cents / 100)
usage = st.floats(0, 2_000, allow_nan=False, allow_infinity=False)
shares = st.floats(0, 1, allow_nan=False)


def tariff(**fees: object) -> Tariff:
    """A Tariff built the way the engine builds one: through the validated `fees` schema."""
    return Tariff.from_fees(Fees(**fees))


def bands(bounds: list[float | None], unit_prices: list[float]) -> tuple[UsageTier, ...]:
    return tuple(UsageTier(up_to=b, unit_price=p) for b, p in zip(bounds, unit_prices, strict=True))


@st.composite
def tier_lists(draw: st.DrawFn, integer: bool = False) -> tuple[UsageTier, ...]:
    """1–5 bands with ascending upper bounds, the last one open-ended."""
    count = draw(st.integers(1, 5))
    width = st.integers(1, 80) if integer else st.floats(0.25, 80, allow_nan=False)
    widths = draw(st.lists(width, min_size=count - 1, max_size=count - 1))
    bounds: list[float | None] = [*itertools.accumulate(widths), None]
    return bands(bounds, draw(st.lists(prices, min_size=count, max_size=count)))


def band_edges(tiers: tuple[UsageTier, ...]) -> list[tuple[float, float, float]]:
    """(lower, upper, price) of each band in billable units."""
    uppers = [math.inf if t.up_to is None else t.up_to for t in tiers]
    lowers = [0.0, *uppers[:-1]]
    return [(lo, up, t.unit_price) for lo, up, t in zip(lowers, uppers, tiers, strict=True)]


def graduated_reference(billable_units: int, tiers: tuple[UsageTier, ...]) -> float:
    """Brute force: add up the price of every single unit, unit k lying in the band that holds k."""
    total = 0.0
    for unit in range(1, billable_units + 1):
        total += next(price for lower, upper, price in band_edges(tiers) if lower < unit <= upper)
    return total


def volume_reference(billable: float, tiers: tuple[UsageTier, ...]) -> float:
    """All billable units at the price of the band the total falls in (bands are (lower, upper])."""
    price = next(price for _, upper, price in band_edges(tiers) if billable <= upper)
    return price * billable


# --------------------------------------------------------------------------- building a tariff


def test_from_fees_translates_every_field():
    fees = Fees(
        monthly_fee=20,
        included_units=5,
        usage_tiers=bands([30, None], [0.6, 0.4]),
        tier_mode="volume",
        transaction_fee_percent=1.5,
        transaction_fee_fixed=0.1,
        minimum_charge=10,
        bill_cap=None,
        penalty_fee=12,
        setup_fee=30,
        early_termination_fee=50,
        minimum_term_months=12,
        prepay_discount=0.1,
    )
    t = Tariff.from_fees(fees)
    assert (t.monthly_fee, t.included_units, t.penalty_fee, t.setup_fee) == (20, 5, 12, 30)
    assert (t.early_termination_fee, t.minimum_term_months, t.prepay_discount) == (50, 12, 0.1)
    assert (t.transaction_fee_percent, t.transaction_fee_fixed, t.minimum_charge) == (1.5, 0.1, 10)
    assert t.volume_pricing
    assert list(t.tier_upper) == [30, math.inf]  # an open-ended band reaches to infinity
    assert list(t.tier_price) == [0.6, 0.4]
    assert t.bill_cap == math.inf  # no cap: nothing clips the bill from above
    assert not tariff(tier_mode="graduated").volume_pricing


# --------------------------------------------------------------------------- subscription and allowance


@FAST
@given(fee=money, units=usage)
def test_flat_subscription_bills_the_fee_whatever_the_usage(fee, units):
    flat = tariff(monthly_fee=fee, usage_tiers=bands([None], [0.0]))
    assert monthly_bill_cents(np.array([units]), flat)[0] == round(fee * 100)


@FAST
@given(fee=money, included=st.floats(0, 100, allow_nan=False), price=prices, units=usage)
def test_usage_is_charged_only_above_the_allowance(fee, included, price, units):
    t = tariff(monthly_fee=fee, included_units=included, usage_tiers=bands([None], [price]))
    charge = usage_charge(np.array([units]), t)[0]
    assert charge == pytest.approx(price * max(units - included, 0.0), rel=1e-12, abs=1e-12)
    if units <= included:
        assert charge == 0.0
        assert monthly_bill_cents(np.array([units]), t)[0] == round(fee * 100)


def test_allowance_example():
    t = tariff(monthly_fee=25, included_units=10, usage_tiers=bands([None], [0.5]))
    bills = monthly_bill_cents(np.array([0.0, 10.0, 11.0, 30.0]), t)
    assert bills.tolist() == [2500, 2500, 2550, 3500]


# --------------------------------------------------------------------------- graduated tiers


@FAST
@given(tiers=tier_lists(integer=True), included=st.integers(0, 20), units=st.integers(0, 400))
def test_graduated_equals_per_unit_reference(tiers, included, units):
    t = tariff(included_units=included, usage_tiers=tiers, tier_mode="graduated")
    expected = graduated_reference(max(units - included, 0), tiers)
    assert usage_charge(np.array([float(units)]), t)[0] == pytest.approx(expected, rel=1e-9, abs=1e-9)


@FAST
@given(tiers=tier_lists(), included=st.floats(0, 20, allow_nan=False))
def test_graduated_is_continuous_at_every_band_boundary(tiers, included):
    t = tariff(included_units=included, usage_tiers=tiers, tier_mode="graduated")
    step = 1e-4
    for _, upper, price in band_edges(tiers)[:-1]:
        at = usage_charge(np.array([included + upper]), t)[0]
        below = usage_charge(np.array([included + upper - step]), t)[0]
        above = usage_charge(np.array([included + upper + step]), t)[0]
        # Exactly at the bound the band is full; on either side the charge moves by one step's price.
        full = sum(p * (min(up, upper) - lo) for lo, up, p in band_edges(tiers) if lo < upper)
        assert at == pytest.approx(full, rel=1e-9, abs=1e-9)
        assert at - below == pytest.approx(price * step, abs=1e-7)
        next_price = next(p for lo, _, p in band_edges(tiers) if lo == upper)
        assert above - at == pytest.approx(next_price * step, abs=1e-7)


@FAST
@given(tiers=tier_lists(), included=st.floats(0, 20, allow_nan=False), units=st.lists(usage, max_size=40))
def test_graduated_never_decreases_with_usage(tiers, included, units):
    t = tariff(included_units=included, usage_tiers=tiers, tier_mode="graduated")
    charges = usage_charge(np.sort(np.array([*units, 0.0])), t)
    assert np.all(np.diff(charges) >= 0)


def test_graduated_example():
    # 10 included; then 30 units at 0.60, 60 units at 0.40, the rest at 0.25.
    t = tariff(included_units=10, usage_tiers=bands([30, 90, None], [0.6, 0.4, 0.25]))
    charges = usage_charge(np.array([10.0, 40.0, 100.0, 200.0]), t)
    assert charges == pytest.approx([0.0, 18.0, 18.0 + 24.0, 18.0 + 24.0 + 25.0])


# --------------------------------------------------------------------------- volume (all-units) tiers


@FAST
@given(tiers=tier_lists(), included=st.floats(0, 20, allow_nan=False), units=usage)
def test_volume_prices_all_billable_units_at_the_band_reached(tiers, included, units):
    t = tariff(included_units=included, usage_tiers=tiers, tier_mode="volume")
    billable = max(units - included, 0.0)
    charge = usage_charge(np.array([units]), t)[0]
    assert charge == pytest.approx(volume_reference(billable, tiers), rel=1e-12, abs=1e-12)


@FAST
@given(tiers=tier_lists())
def test_volume_boundary_belongs_to_the_lower_band_and_the_next_unit_reprices_everything(tiers):
    t = tariff(included_units=0, usage_tiers=tiers, tier_mode="volume")
    step = 1e-6
    edges = band_edges(tiers)
    for (_, upper, price), (_, _, next_price) in itertools.pairwise(edges):
        at, above = usage_charge(np.array([upper, upper + step]), t)
        assert at == pytest.approx(price * upper, rel=1e-12)
        assert above == pytest.approx(next_price * (upper + step), rel=1e-12)
        if next_price < price:
            assert above < at  # the documented drop: crossing into a cheaper band lowers the charge


def test_volume_example_with_drop():
    t = tariff(included_units=0, usage_tiers=bands([100, None], [0.5, 0.3]), tier_mode="volume")
    assert usage_charge(np.array([100.0, 101.0]), t) == pytest.approx([50.0, 30.3])


def test_volume_and_graduated_agree_with_a_single_band():
    one = bands([None], [0.7])
    units = np.linspace(0, 500, 101)
    graduated = usage_charge(units, tariff(usage_tiers=one, tier_mode="graduated"))
    volume = usage_charge(units, tariff(usage_tiers=one, tier_mode="volume"))
    np.testing.assert_allclose(graduated, volume, rtol=1e-12)


# --------------------------------------------------------------------------- transaction fees


@FAST
@given(
    percent=st.floats(0, 10, allow_nan=False),
    fixed=prices,
    units=usage,
    value=st.floats(0, 500, allow_nan=False),
)
def test_transaction_fee_is_percentage_of_value_plus_fixed_per_unit(percent, fixed, units, value):
    t = tariff(transaction_fee_percent=percent, transaction_fee_fixed=fixed)
    charge = transaction_charge(np.array([units]), value, t)[0]
    assert charge == pytest.approx(units * (fixed + percent / 100 * value), rel=1e-12, abs=1e-12)


@FAST
@given(
    fee=money,
    percent=st.floats(0, 10, allow_nan=False),
    fixed=prices,
    units=usage,
    value=st.floats(0, 500, allow_nan=False),
)
def test_transaction_fees_are_added_to_the_bill(fee, percent, fixed, units, value):
    with_fees = tariff(
        monthly_fee=fee,
        usage_tiers=bands([None], [0.0]),
        transaction_fee_percent=percent,
        transaction_fee_fixed=fixed,
    )
    expected = (fee + units * (fixed + percent / 100 * value)) * 100
    bill = monthly_bill_cents(np.array([units]), with_fees, transaction_value=value)[0]
    assert abs(bill - expected) <= 0.5 + 1e-6


def test_transaction_fee_example_on_arrays():
    t = tariff(transaction_fee_percent=2, transaction_fee_fixed=0.1)
    charges = transaction_charge(np.array([10.0, 20.0]), np.array([5.0, 50.0]), t)
    assert charges == pytest.approx([10 * (0.1 + 0.1), 20 * (0.1 + 1.0)])


# --------------------------------------------------------------------------- minimum charge and cap


@FAST
@given(
    fee=money,
    tiers=tier_lists(),
    minimum=money,
    headroom=st.one_of(st.none(), money),
    units=st.lists(usage, min_size=1, max_size=30),
)
def test_bill_is_never_below_minimum_nor_above_cap(fee, tiers, minimum, headroom, units):
    cap = None if headroom is None else minimum + headroom
    t = tariff(monthly_fee=fee, usage_tiers=tiers, minimum_charge=minimum, bill_cap=cap)
    bills = monthly_bill_cents(np.array(units), t)
    assert np.all(bills >= round(minimum * 100))
    if cap is not None:
        assert np.all(bills <= round(cap * 100))
    # Between the two, the bill is the plain total.
    raw = (fee + usage_charge(np.array(units), t)) * 100
    inside = (raw >= minimum * 100 + 1) & (raw <= (math.inf if cap is None else cap * 100) - 1)
    assert np.all(np.abs(bills[inside] - raw[inside]) <= 0.5 + 1e-6)


def test_minimum_and_cap_example():
    t = tariff(
        monthly_fee=5, included_units=0, usage_tiers=bands([None], [1.0]), minimum_charge=10, bill_cap=40
    )
    assert monthly_bill_cents(np.array([0.0, 20.0, 100.0]), t).tolist() == [1000, 2500, 4000]


# --------------------------------------------------------------------------- prepay discount


@FAST
@given(fee=money, discount=shares, tiers=tier_lists(), units=usage)
def test_prepay_discount_applies_to_the_subscription_only(fee, discount, tiers, units):
    t = tariff(monthly_fee=fee, usage_tiers=tiers, prepay_discount=discount)
    full, prepaid = monthly_bill_cents(np.array([units, units]), t, prepay=np.array([False, True]))
    # The saving is the discount on the fee, however large the usage part of the bill.
    assert abs((full - prepaid) - fee * discount * 100) <= 1.0 + 1e-6


def test_prepay_example():
    t = tariff(monthly_fee=20, included_units=0, usage_tiers=bands([None], [1.0]), prepay_discount=0.1)
    full, prepaid = monthly_bill_cents(np.array([30.0, 30.0]), t, prepay=np.array([False, True]))
    assert (full, prepaid) == (5000, 4800)  # not 4500: usage is not discounted
    assert monthly_bill_cents(np.array([30.0]), t, prepay=True)[0] == 4800


# --------------------------------------------------------------------------- rounding


@FAST
@given(
    fee=money,
    tiers=tier_lists(),
    mode=st.sampled_from(["graduated", "volume"]),
    units=st.lists(usage, min_size=1, max_size=30),
)
def test_bills_are_whole_cents_within_half_a_cent_of_the_exact_amount(fee, tiers, mode, units):
    t = tariff(monthly_fee=fee, usage_tiers=tiers, tier_mode=mode)
    bills = monthly_bill_cents(np.array(units), t)
    exact = (fee + usage_charge(np.array(units), t)) * 100
    assert np.array_equal(bills, np.round(bills))
    assert np.all(np.abs(bills - exact) <= 0.5 + 1e-6)


def test_rounding_example():
    t = tariff(monthly_fee=0, included_units=0, usage_tiers=bands([None], [0.013]))
    assert monthly_bill_cents(np.array([1.0, 100.0, 1000.0]), t).tolist() == [1.0, 130.0, 1300.0]
    assert to_cents(12.345678) == 1235.0
    assert to_cents(0.004) == 0.0


# --------------------------------------------------------------------------- Tariff.scaled

SCALABLE = [
    "monthly_fee",
    "penalty_fee",
    "setup_fee",
    "early_termination_fee",
    "minimum_charge",
    "transaction_fee_fixed",
    "transaction_fee_percent",
]


@pytest.mark.parametrize("parameter", SCALABLE)
@FAST
@given(factor=st.floats(0, 10, allow_nan=False))
def test_scaled_multiplies_one_fee_and_leaves_the_rest(parameter, factor):
    original = tariff(
        monthly_fee=20,
        penalty_fee=12,
        setup_fee=30,
        early_termination_fee=50,
        minimum_charge=10,
        transaction_fee_fixed=0.1,
        transaction_fee_percent=1.5,
        usage_tiers=bands([30, None], [0.6, 0.4]),
    )
    before = {f: getattr(original, f) for f in original.__dataclass_fields__}
    scaled = original.scaled(parameter, factor)
    assert getattr(scaled, parameter) == pytest.approx(before[parameter] * factor)
    for name in before:
        if name != parameter:
            assert np.array_equal(getattr(scaled, name), before[name]), name
    # The original is untouched: a tariff is a value.
    assert all(np.array_equal(getattr(original, f), v) for f, v in before.items())


@FAST
@given(tiers=tier_lists(), factor=st.floats(0, 10, allow_nan=False), units=st.lists(usage, max_size=20))
def test_scaled_usage_prices_scales_every_band_and_the_usage_charge(tiers, factor, units):
    original = tariff(usage_tiers=tiers)
    scaled = original.scaled("usage_prices", factor)
    np.testing.assert_allclose(scaled.tier_price, original.tier_price * factor)
    for name in original.__dataclass_fields__:
        if name != "tier_price":
            assert np.array_equal(getattr(scaled, name), getattr(original, name)), name
    np.testing.assert_allclose(
        usage_charge(np.array(units), scaled),
        usage_charge(np.array(units), original) * factor,
        rtol=1e-9,
        atol=1e-9,
    )
    assert original == tariff(usage_tiers=tiers)


def test_scaled_by_one_is_equal_and_unbounded_cap_stays_unbounded():
    original = tariff(monthly_fee=20, usage_tiers=bands([30, None], [0.6, 0.4]))
    assert original.scaled("monthly_fee", 1.0) == original
    assert original.scaled("usage_prices", 1.0) == original
    assert original.scaled("monthly_fee", 1.1) != original
    assert original.scaled("bill_cap", 0.5).bill_cap == math.inf
