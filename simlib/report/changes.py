"""What a policy changes, in words: the parameters that differ from the baseline, shown for people.

`simlib diff`, `simlib describe` and the briefing's "What each policy changes" show values the way a
pricing manager reads them — "€28", "on", "lognormal, median 0.3", "none" — never Python values
(``{'monthly_fee': 28}``, ``False``, ``[]``). A scheduled fee change, a usage tariff, a review rule
and a joint-uncertainty block are each one change, described whole:
"Subscription fee: €25 → €28 from month 6, 30 days' notice".
"""

from __future__ import annotations

import re
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from simlib.keypaths import split_key_path, value_at
from simlib.model.distributions import DistributionBase
from simlib.model.parameters import (
    AdjustmentRule,
    FeeChange,
    Fees,
    ScenarioModel,
    UsageTier,
    fee_schedule_after,
    schema_extra,
)
from simlib.scenario.scenario import Scenario, diff
from simlib.style.numbers import Numbers, kind_of

#: Words by language. Units counted in days and months are written out; other units are appended.
WORDS: dict[str, dict[str, str]] = {
    "en": {
        # Choices of the schema (Literal fields), as a manager reads them.
        "choice_fine": "breaches are simulated and fined",
        "choice_validate": "a breaching scenario is refused",
        "choice_graduated": "graduated (each tier's price on its own units)",
        "choice_volume": "by volume (one price for all units)",
        "none": "none",
        "on": "on",
        "off": "off",
        "colon": ": ",
        "list": ", ",
        "day": "1 day",
        "days": "{n} days",
        "month_count": "1 month",
        "months": "{n} months",
        "month": "month {n}",
        "from_month": "from month {n}",
        "notice": "{n} days' notice",
        "notice_one": "1 day's notice",
        "no_notice": "no notice",
        "grandfathered": "existing customers keep their old fees",
        "segment": "{label}, {segment} segment",
        "per_unit": "{price} per unit",
        "band": "{price} per unit up to {up_to} units",
        "next_band": "{price} up to {up_to}",
        "last_band": "{price} beyond",
        "rule": "“{name}”: {parameter} {change}% when {metric} stays above {above} for {months}, {times}",
        "times_1": "at most once",
        "times_2": "at most twice",
        "times": "at most {n} times",
        "uniform": "uniform, {low} to {high}",
        "triangular": "triangular, {low} to {high}, mode {mode}",
        "lognormal": "lognormal, median {median}, sd of log {sd_log}",
        "normal": "normal, mean {mean}, sd {sd}",
        "normal_between": "normal, mean {mean}, sd {sd}, between {low} and {high}",
        "beta": "beta, a {a}, b {b}, {low} to {high}",
        "joint_multivariate_normal": "drawn together (multivariate normal): {parameters}",
        "joint_multivariate_lognormal": "drawn together (multivariate lognormal): {parameters}",
        "joint_empirical": "drawn together (table of joint draws): {parameters}",
        "complaints_per_1000": "complaints per 1,000 customers",
        "monthly_churn_percent": "monthly churn (%)",
        "escalations_per_100000": "escalations per 100,000 customers",
    },
    "zh": {
        "choice_fine": "模拟违规并罚款",
        "choice_validate": "违规情景直接拒绝",
        "choice_graduated": "累进计价（各档价格只用于该档用量）",
        "choice_volume": "全量计价（所有用量按同一档价格）",
        "none": "无",
        "on": "开",
        "off": "关",
        "colon": "：",
        "list": "，",
        "day": "1 天",
        "days": "{n} 天",
        "month_count": "1 个月",
        "months": "{n} 个月",
        "month": "第 {n} 个月",
        "from_month": "第 {n} 个月起",
        "notice": "提前 {n} 天通知",
        "notice_one": "提前 1 天通知",
        "no_notice": "不提前通知",
        "grandfathered": "现有客户保留原资费",
        "segment": "{label}（{segment}）",
        "per_unit": "每单位 {price}",
        "band": "{up_to} 单位以内每单位 {price}",
        "next_band": "{up_to} 单位以内 {price}",
        "last_band": "超出部分 {price}",
        "rule": "“{name}”：{metric}连续 {months}高于 {above} 时，{parameter}调整 {change}%，{times}",
        "times_1": "最多 1 次",
        "times_2": "最多 2 次",
        "times": "最多 {n} 次",
        "uniform": "均匀分布，{low} 至 {high}",
        "triangular": "三角分布，{low} 至 {high}，众数 {mode}",
        "lognormal": "对数正态分布，中位数 {median}，对数标准差 {sd_log}",
        "normal": "正态分布，均值 {mean}，标准差 {sd}",
        "normal_between": "正态分布，均值 {mean}，标准差 {sd}，介于 {low} 与 {high} 之间",
        "beta": "Beta 分布，a {a}，b {b}，{low} 至 {high}",
        "joint_multivariate_normal": "联合抽取（多元正态）：{parameters}",
        "joint_multivariate_lognormal": "联合抽取（多元对数正态）：{parameters}",
        "joint_empirical": "联合抽取（联合抽样表）：{parameters}",
        "complaints_per_1000": "每千名客户投诉",
        "monthly_churn_percent": "月流失率（%）",
        "escalations_per_100000": "每十万名客户升级投诉",
    },
}
# Units a number is shown without (the label or the unit column says what it is).
_PLAIN_UNITS = {"", "count", "integer", "dimensionless", "score", "ratio", "probability", "choice"}
# Lists whose items are described whole, one change per item; and the usage tariff, described whole.
_ITEM_LISTS = ("fee_changes", "adjustment_rules", "joint_uncertainty")
_TARIFF = "fees.usage_tiers"


@dataclass(frozen=True)
class Change:
    """One thing a policy changes.

    Attributes
    ----------
    key_path : the parameter, list item or tariff changed ("fees.penalty_fee", "fee_changes[0]",
        "fees.usage_tiers").
    label : what it is, for people ("Subscription fee").
    before, after : its value in the base and in the reform, for people ("€25", "€28 from month 6,
        30 days' notice", "none").
    sentence : "label: before → after".
    """

    key_path: str
    label: str
    before: str
    after: str
    sentence: str


def schema_label(key_path: str) -> str:
    """The schema's English label of a parameter or list (list items and segment names skipped);
    the key path itself when the schema has none."""
    model: Any = ScenarioModel
    field = None
    for part in split_key_path(re.sub(r"\[[^\]]*\]", "", key_path)):
        if field is not None:
            nested = [field.annotation, *typing.get_args(field.annotation)]
            sections = [a for a in nested if isinstance(a, type) and issubclass(a, BaseModel)]
            if not sections or part not in sections[0].model_fields:
                return key_path
            model = sections[0]
        elif part not in model.model_fields:
            return key_path
        field = model.model_fields[part]
    return (field.description if field is not None else None) or key_path


class _Describer:
    """Values of one scenario pair in one language, with one labelling function."""

    def __init__(self, language: str, currency: str, label: Callable[[str], str], units: bool = True):
        if language not in WORDS:
            raise ValueError(f"language must be one of {sorted(WORDS)}, not {language!r}")
        self.words = WORDS[language]
        self.numbers = Numbers(language, currency)
        self.label = label
        self.units = units

    def number(self, value: float, unit: str) -> str:
        """A stated number with its unit, for people: "€28", "25%", "30 days", "month 6"."""
        w, n = self.words, self.numbers
        if unit in ("days", "months") and float(value).is_integer():
            key = {"days": ("day", "days"), "months": ("month_count", "months")}[unit]
            return w[key[0]] if value == 1 else w[key[1]].format(n=n.count(value))
        if unit == "month":
            return w["month"].format(n=n.count(value))
        kind = kind_of(unit)
        if kind in ("money", "share"):
            return n.stated(value, kind)
        text = n.stated(value, "rate")
        if unit == "%":
            return text + "%"
        return text if unit in _PLAIN_UNITS or not self.units else f"{text} {unit}"

    def value(self, value: Any, unit: str) -> str:
        """Any parameter value for people: numbers with units, on/off, none, distributions."""
        w = self.words
        if value is None or (isinstance(value, tuple | list | dict) and not value):
            return w["none"]
        if isinstance(value, bool):
            return w["on"] if value else w["off"]
        if isinstance(value, int | float):
            return self.number(value, unit)
        if isinstance(value, DistributionBase):
            return self.distribution(value, unit)
        if isinstance(value, BaseModel) and hasattr(value, "parameters"):
            return self.joint(value)
        if isinstance(value, tuple | list) and all(isinstance(v, UsageTier) for v in value):
            return self.tariff(value)
        if isinstance(value, dict):
            return w["list"].join(f"{key} {self.value(item, '')}" for key, item in value.items())
        if isinstance(value, tuple | list):
            return w["list"].join(self.value(item, unit) for item in value)
        return w.get(f"choice_{value}", str(value))

    def distribution(self, value: DistributionBase, unit: str) -> str:
        fields = value.model_dump()
        kind = fields.pop("distribution")
        shown = {
            k: self.number(v, "" if k in ("sd_log", "a", "b") else unit)
            for k, v in fields.items()
            if v is not None
        }
        if kind == "normal" and "low" in shown and "high" in shown:
            kind = "normal_between"
        template = self.words.get(kind)
        if template is None:  # a distribution this module does not know yet: its fields, in order
            return f"{kind}{self.words['list']}" + self.words["list"].join(
                f"{k} {v}" for k, v in shown.items()
            )
        return template.format(**shown)

    def tariff(self, tiers: typing.Sequence[UsageTier]) -> str:
        """A usage tariff: "€0.60 per unit up to 30 units, €0.40 up to 90, €0.25 beyond"."""
        w, n = self.words, self.numbers
        if len(tiers) == 1 and tiers[0].up_to is None:
            return w["per_unit"].format(price=n.stated(tiers[0].unit_price, "money"))
        parts = []
        for index, tier in enumerate(tiers):
            price = n.stated(tier.unit_price, "money")
            if tier.up_to is None:
                parts.append(w["last_band"].format(price=price))
            else:
                key = "band" if index == 0 else "next_band"
                parts.append(w[key].format(price=price, up_to=n.stated(tier.up_to, "rate")))
        return w["list"].join(parts)

    def fee_change(self, scenario: Scenario, index: int) -> tuple[str, str, str]:
        """(label, fees before, fees after with timing) of one scheduled fee change."""
        w, model = self.words, scenario.model
        fees: Fees = model.fees
        for earlier in model.fee_changes[:index]:
            fees = fee_schedule_after(fees, earlier.set)
        change: FeeChange = model.fee_changes[index]
        after_fees = fee_schedule_after(fees, change.set)
        keys = list(change.set)
        units = {
            key: str(schema_extra(f"fees.{key}").get("unit", "")).replace("{cur}", model.simulation.currency)
            for key in keys
        }
        label = w["list"].join(self.label(f"fees.{key}") for key in keys)
        before = w["list"].join(self.value(getattr(fees, key), units[key]) for key in keys)
        after = w["list"].join(self.value(getattr(after_fees, key), units[key]) for key in keys)
        if change.notice_days == 0:
            notice = w["no_notice"]
        else:
            notice = w["notice_one"] if change.notice_days == 1 else w["notice"].format(n=change.notice_days)
        timing = [w["from_month"].format(n=change.month), notice]
        if change.grandfather_existing:
            timing.append(w["grandfathered"])
        separator = " " if w is WORDS["en"] else w["list"]
        return label, before, after + separator + w["list"].join(timing)

    def rule(self, rule: AdjustmentRule) -> str:
        w, n = self.words, self.numbers
        parameter = _TARIFF if rule.parameter == "fees.usage_prices" else rule.parameter
        times = w.get(f"times_{rule.max_times}") or w["times"].format(n=rule.max_times)
        return w["rule"].format(
            name=rule.name,
            parameter=self.label(parameter),
            change=n.stated(rule.change_percent, "rate")
            if rule.change_percent < 0
            else "+" + n.stated(rule.change_percent, "rate"),
            metric=w[rule.metric],
            above=n.stated(rule.above, "rate"),
            months=self.number(rule.for_months, "months"),
            times=times,
        )

    def joint(self, block: Any) -> str:
        kind = type(block).__name__
        key = {
            "MultivariateNormal": "joint_multivariate_normal",
            "MultivariateLogNormal": "joint_multivariate_lognormal",
        }.get(kind, "joint_empirical")
        text = self.words[key].format(
            parameters=self.words["list"].join(self.label(p) for p in block.parameters)
        )
        return f"{block.name}{self.words['colon']}{text}" if block.name else text


def _group(path: str) -> str | None:
    """The list item or tariff a leaf path belongs to ("fee_changes[0]", "fees.usage_tiers")."""
    if path.startswith(_TARIFF):
        return _TARIFF
    match = re.match(rf"^({'|'.join(_ITEM_LISTS)})(\[\d+\])?", path)
    if match:
        return match.group(0)
    return None


def describe_changes(
    base: Scenario, reform: Scenario, language: str = "en", label: Callable[[str], str] | None = None
) -> list[Change]:
    """What ``reform`` changes against ``base``, one :class:`Change` per parameter, scheduled fee
    change, review rule, joint-uncertainty block or usage tariff, in schema order.

    Parameters
    ----------
    base, reform : the two scenarios (any two: ``simlib diff`` compares files).
    language : "en" or "zh".
    label : the label of a key path without list positions ("fees.monthly_fee",
        "population.segments.share", "fee_changes"); by default the schema's English label.
        Pass a translated catalogue for Chinese.
    """
    describer = _Describer(language, reform.simulation.currency, label or schema_label)
    w = describer.words
    changes: list[Change] = []
    done: set[str] = set()
    for before, after in diff(base, reform):
        path = (after or before).path
        group = _group(path)
        if group in done or group in _ITEM_LISTS:
            continue  # the list itself ([] against items): its items are the changes
        if group is None:
            unit = (after or before).unit
            name = describer.label(re.sub(r"\[[^\]]*\]", "", path))
            segment = re.match(r"^population\.segments\[(\d+)\]", path)
            if segment:
                holder = reform if after is not None and after.origin != "absent" else base
                segment_name = value_at(holder.model, f"population.segments[{segment.group(1)}].name")
                name = w["segment"].format(label=name, segment=segment_name)
            shown = [
                w["none"]
                if p is None or p.origin == "absent"
                else describer.value(value_at(s.model, path), unit)
                for p, s in ((before, base), (after, reform))
            ]
            changes.append(_change(path, name, *shown, w))
            continue
        done.add(group)
        index = int(group[group.index("[") + 1 : -1]) if "[" in group else 0
        if group == _TARIFF:
            name = describer.label(_TARIFF)
            shown = [describer.tariff(s.fees.usage_tiers) for s in (base, reform)]
        elif group.startswith("fee_changes"):
            present = [s for s in (base, reform) if index < len(s.fee_changes)]
            described = {id(s): describer.fee_change(s, index) for s in present}
            if len(present) == 1 and present[0] is reform:
                name, old, new = described[id(reform)]
                shown = [old, new]
            else:
                name = described[id(present[-1])][0]
                shown = [described[id(s)][2] if id(s) in described else w["none"] for s in (base, reform)]
        elif group.startswith("adjustment_rules"):
            name = describer.label("adjustment_rules")
            shown = [
                describer.rule(s.adjustment_rules[index]) if index < len(s.adjustment_rules) else w["none"]
                for s in (base, reform)
            ]
        else:
            name = describer.label("joint_uncertainty")
            shown = [
                describer.joint(s.joint_uncertainty[index]) if index < len(s.joint_uncertainty) else w["none"]
                for s in (base, reform)
            ]
        changes.append(_change(group, name, *shown, w))
    return changes


def _change(key_path: str, label: str, before: str, after: str, words: dict[str, str]) -> Change:
    return Change(key_path, label, before, after, f"{label}{words['colon']}{before} → {after}")


def describe_value(scenario: Scenario, key_path: str, language: str = "en", units: bool = True) -> str:
    """One parameter of a scenario for people ("€28", "on", "lognormal, median 0.3", "none").

    ``units=False`` leaves out units other than money, shares, days and months (for a table with a
    unit column).
    """
    currency = scenario.simulation.currency
    describer = _Describer(language, currency, schema_label, units=units)
    unit = str(schema_extra(key_path).get("unit", "")).replace("{cur}", currency)
    return describer.value(value_at(scenario.model, key_path), unit)
