"""What a policy changes, for people: every shipped scenario against the baseline."""

from __future__ import annotations

from pathlib import Path

import pytest

from simlib.report.changes import describe_changes
from simlib.scenario.scenario import load

SHIPPED = Path(__file__).resolve().parents[1] / "scenarios"
BASELINE = load(SHIPPED / "baseline.yaml")
POLICIES = sorted(p for p in SHIPPED.glob("*.yaml") if p.name != "baseline.yaml")


@pytest.mark.parametrize("language", ["en", "zh"])
@pytest.mark.parametrize("path", POLICIES, ids=lambda p: p.stem)
def test_no_python_values_in_any_shipped_policy(path: Path, language: str):
    for base, reform in ((BASELINE, load(path)), (load(path), BASELINE)):
        changes = describe_changes(base, reform, language)
        assert changes, path
        for change in changes:
            for bad in ("{", "[", "True", "False", "None", "mapping", "()"):
                assert bad not in change.sentence.replace(change.key_path, ""), change


def test_a_fee_increase_with_notice_is_one_sentence():
    (change,) = describe_changes(BASELINE, load(SHIPPED / "fee_increase_with_notice.yaml"))
    assert change.key_path == "fee_changes[0]"
    assert change.sentence == "Subscription fee: €25 → €28 from month 6, 30 days' notice"
    (zh,) = describe_changes(BASELINE, load(SHIPPED / "fee_increase_with_notice.yaml"), "zh")
    assert zh.sentence == "Subscription fee：25 欧元 → 28 欧元，第 6 个月起，提前 30 天通知"


def test_tariffs_switches_caps_and_rules_read_as_words():
    sentences = {p.stem: [c.sentence for c in describe_changes(BASELINE, load(p))] for p in POLICIES}
    assert sentences["tiered_usage"] == [
        "Usage price bands above the allowance (ascending): €0.50 per unit → "
        "€0.60 per unit up to 30 units, €0.40 up to 90, €0.25 beyond"
    ]
    assert sentences["automated_billing"] == ["Use an automated billing system: off → on"]
    assert "none → €45" in sentences["regulatory_fee_cap"][0]
    assert "existing customers keep their old fees" in sentences["fee_increase_grandfathered"][0]
    rule = sentences["adaptive_penalty_review"][1]
    assert rule.startswith(
        "Periodic-review rules evaluated inside the run: none → “halve penalty on complaints”"
    )
    assert "-50% when complaints per 1,000 customers stays above 5 for 3 months, at most once" in rule


def test_the_caller_supplies_the_labels():
    labels = {"fee_changes": "计划调价", "fees.monthly_fee": "月费"}
    (change,) = describe_changes(
        BASELINE, load(SHIPPED / "fee_increase_with_notice.yaml"), "zh", label=lambda p: labels.get(p, p)
    )
    assert change.label == "月费" and change.sentence.startswith("月费：25 欧元 → 28 欧元")
