"""Which tariff applies to whom and when: fee changes, grandfathering, notice, rule actions."""

from __future__ import annotations

import numpy as np
import pytest

import simlib
from simlib.model.fees import Tariff
from simlib.model.parameters import Fees
from simlib.model.schedule import FeeSchedule, RuleAction, prospective_bills


def model_with(changes: list[dict], **extra) -> simlib.Scenario:
    return simlib.from_dict({"simulation": {"months": 12}, "fee_changes": changes, **extra}).realise(0)


def test_without_changes_everyone_has_the_base_tariff_and_no_event() -> None:
    model = model_with([])
    schedule = FeeSchedule(model, 12)
    assert schedule.groups == 1
    base = Tariff.from_fees(model.fees)
    assert all(schedule.tariff(m, 0) == base and schedule.event(m, 0) is None for m in range(12))


def test_a_change_applies_from_its_month_with_its_notice() -> None:
    model = model_with([{"month": 4, "notice_days": 30, "set": {"monthly_fee": 30}}])
    schedule = FeeSchedule(model, 12)
    assert [schedule.tariff(m, 0).monthly_fee for m in range(12)] == [25.0] * 4 + [30.0] * 8
    events = [m for m in range(12) if schedule.event(m, 0) is not None]
    assert events == [4]
    assert schedule.event(4, 0).notice_days == 30
    assert schedule.event(4, 0).previous.monthly_fee == 25.0


def test_grandfathered_customers_keep_their_fees_and_newcomers_pay_the_new_ones() -> None:
    model = model_with(
        [
            {"month": 3, "grandfather_existing": True, "set": {"monthly_fee": 30}},
            {"month": 6, "notice_days": 14, "set": {"penalty_fee": 5}},
        ]
    )
    schedule = FeeSchedule(model, 12)
    assert schedule.groups == 2
    np.testing.assert_array_equal(schedule.group_of(np.array([-10, 0, 2, 3, 7])), [0, 0, 0, 1, 1])
    # Existing customers (group 0) keep €25 but get the non-grandfathered penalty from month 6.
    assert schedule.tariff(11, 0).monthly_fee == 25.0 and schedule.tariff(11, 0).penalty_fee == 5.0
    assert schedule.tariff(11, 1).monthly_fee == 30.0 and schedule.tariff(11, 1).penalty_fee == 5.0
    assert schedule.event(3, 0) is None  # grandfathered: nothing happens to existing customers
    assert schedule.event(6, 0).notice_days == 14 and schedule.event(6, 1).notice_days == 14
    assert schedule.newcomer_tariff(2).monthly_fee == 25.0
    assert schedule.newcomer_tariff(3).monthly_fee == 30.0


def test_rule_actions_scale_the_fee_from_their_month_and_are_events() -> None:
    model = model_with(
        [],
        fees={"penalty_fee": 12, "usage_tiers": [{"unit_price": 0.5}]},
        compliance={"minimum_notice_days": 21},
    )
    actions = (
        RuleAction("halve", 5, "fees.penalty_fee", 0.5),
        RuleAction("cheaper usage", 8, "fees.usage_prices", 0.8),
    )
    schedule = FeeSchedule(model, 12, actions)
    assert [schedule.tariff(m, 0).penalty_fee for m in (4, 5, 11)] == [12.0, 6.0, 6.0]
    assert schedule.tariff(7, 0).tier_price[0] == 0.5
    assert schedule.tariff(8, 0).tier_price[0] == pytest.approx(0.4)
    # A rule's change reaches customers with the legal minimum notice.
    assert schedule.event(5, 0).notice_days == 21 and schedule.event(8, 0).notice_days == 21


def test_prospective_bills_are_each_segments_bill_at_median_usage_plus_amortised_setup_fee() -> None:
    model = simlib.from_dict(
        {
            "population": {
                "segments": [
                    {"name": "a", "share": 0.25, "usage_median_units": 10},
                    {"name": "b", "share": 0.75, "usage_median_units": 30},
                ],
                "arrivals": {"setup_fee_amortisation_months": 10},
            },
            "fees": {
                "monthly_fee": 20,
                "included_units": 10,
                "usage_tiers": [{"unit_price": 1.0}],
                "setup_fee": 50,
            },
        }
    ).realise(0)
    tariff = Tariff.from_fees(Fees(**model.fees.model_dump()))
    # a: 20 + 0 extra units; b: 20 + 20 extra units at €1; set-up fee €50 over 10 months.
    np.testing.assert_allclose(prospective_bills(model, tariff), [20 + 5, 40 + 5])
    # An enforced legal cap bounds the monthly part, not the set-up fee.
    np.testing.assert_allclose(prospective_bills(model, tariff, 30.0), [20 + 5, 30 + 5])
