"""Numbers for people: money, points, intervals fitted to their width, counts, margins; and tables
that fit the terminal."""

from __future__ import annotations

import math

import pytest

from simlib.report.tables import grid
from simlib.style.numbers import Numbers, digits_for, estimate, kind_of, number

EN, ZH = Numbers(), Numbers("zh")


def test_an_estimate_is_rounded_to_what_its_interval_resolves():
    assert EN.money_estimate(140_234, 126_483, 149_166) == "+€140k (€126k to €149k)"
    assert EN.estimate(0.00171, 0.00121, 0.00212, "points") == "+0.17 pp (0.12 to 0.21 pp)"
    assert EN.estimate(0.022, 0.021, 0.023, "share") == "2.20% (2.10% to 2.30%)"
    assert EN.estimate(3.41, 3.1, 3.7, "rate") == "3.4 (3.1 to 3.7)"
    assert digits_for(126_483, 149_166) == -3
    assert digits_for(0.121, 0.212) == 2
    assert digits_for(5, 5) == 2  # no width (one replication): three significant digits


def test_chinese_names_the_currency_after_the_number_and_uses_wan():
    assert ZH.money(1234) == "1,234 欧元"
    assert ZH.money(140_234) == "14.0 万欧元"
    assert ZH.money_range(126_483, 149_166) == "12.6 万至 14.9 万欧元"
    assert ZH.estimate(0.00171, 0.00121, 0.00212, "points") == "+0.17 个百分点（0.12 至 0.21 个百分点）"
    assert ZH.margin(0.02203, 0.022, "share") == "2.203%，上限 2.200%"
    assert Numbers("zh", "CNY").money(120_000_000) == "1.20 亿元"


def test_money_symbols_signs_and_unknown_codes():
    assert [EN.money(v) for v in (1234, -1234, 25, 0.6, 1_234_567)] == [
        "€1,234",
        "-€1,234",
        "€25",
        "€0.60",
        "€1.23M",
    ]
    assert EN.money(140_234, signed=True) == "+€140k"
    assert Numbers(currency="USD").money(12) == "$12"
    assert Numbers(currency="XYZ").money(1234) == "1,234 XYZ"
    assert EN.money(-0.001, signed=True) == "€0"  # no "-0" and no "+0"


def test_counts_points_rates_and_missing_values():
    assert EN.count(1234) == "1,234" and EN.count(0.4) == "0" and EN.count(0.0) == "0"
    assert EN.points(0.0017) == "+0.17 pp" and ZH.points(0.0017) == "+0.17 个百分点"
    assert EN.percent(0.022) == "2.20%"
    assert EN.rate(3.4) == "3.4" and EN.rate(1234.5) == "1,234"
    for shown in (EN.money(math.nan), EN.count(None), EN.estimate(math.nan, 1, 2, "rate")):
        assert shown == "–"
    assert EN.estimate(5, math.nan, math.nan, "count") == "5"


def test_no_scientific_notation_ever():
    for value in (1e-12, 3.2e-7, 2.5e9, 7e15):
        for kind in ("money", "share", "points", "count", "rate"):
            text = EN.estimate(value, value * 0.9, value * 1.1, kind) + EN.stated(value, kind)
            assert "e" not in text.replace("pp", ""), text


def test_a_margin_shows_enough_digits_to_see_it():
    assert EN.margin(0.02203, 0.022, "share") == "2.203% against a 2.200% limit"
    assert EN.margin(45.2, 45, "money") == "€45.20 against a €45.00 limit"
    assert EN.margin(5.0001, 5, "rate") == "5.0001 against a 5.0000 limit"


def test_kind_of_maps_every_metric_unit():
    assert kind_of("EUR") == kind_of("EUR/customer") == kind_of("{cur}/month") == "money"
    assert kind_of("share/month") == kind_of("share of customers") == "share"
    assert kind_of("share/month", difference=True) == "points"
    assert kind_of("breaches") == kind_of("customers") == "count"
    assert kind_of("per 1,000/month") == kind_of("") == "rate"
    with pytest.raises(ValueError, match="kind must be one of"):
        EN.estimate(1, 0, 2, "euros")


def test_the_old_helpers_write_intervals_low_to_high_and_no_zero_decimals():
    assert estimate(140_234, 126_483, 149_166, "", signed=True) == "+140,000 (126,000 to 149,000)"
    assert estimate(0.00171, 0.00121, 0.00212, "share", signed=True) == "+0.17 pp (0.12 to 0.21 pp)"
    assert number(0.0) == "0" and number(0.0, "breaches") == "0" and number(0.022, "share") == "2.20%"


@pytest.mark.parametrize("width", [80, 100])
def test_a_table_wraps_its_label_columns_to_fit_the_terminal(width: int):
    label = "Complaints escalated to the regulator per 100,000 customers per quarter"
    rows = [[label, "+€140k (€126k to €149k)", "+0.17 pp (0.12 to 0.21 pp)", "EUR"]] * 3
    text = grid(rows, ["metric", "difference", "churn", "unit"], wrap={0: 16, 1: 0, 2: 0}, width=width)
    assert max(map(len, text.splitlines())) <= width
    assert "+€140k" in text and "(€126k to €149k)" in text  # an estimate breaks only before its interval
    assert "regulator" in text
