"""Message catalogues: the same keys and placeholders in every language, every key the code uses."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import simlib
from simlib.errors import InputError
from simlib.model.parameters import parameter_fields
from simlib.model.texts import Text
from simlib.report.briefing import KEY_COLUMNS, OBJECTIVES
from simlib.report.evidence import REVENUE_KINDS
from simlib.report.i18n import (
    LANGUAGES,
    Messages,
    ParameterText,
    catalogue,
    currency_name,
    executor_text,
    localized,
    metric_text,
    parameter_catalogue,
    parameter_text,
    placeholders,
    status_text,
    unit_text,
)
from simlib.run.metrics import CHURN_CAUSES, COMPLAINT_CAUSES

REPORT = Path(__file__).resolve().parent.parent / "simlib" / "report"
SOURCES = [REPORT / f"{name}.py" for name in ("briefing", "words", "figures")]
TEMPLATES = sorted((REPORT / "templates").glob("*.html"))


def used_keys() -> set[str]:
    """Keys named literally in the briefing's code and templates, plus those built from names."""
    literal: set[str] = set()
    for path in [*SOURCES, *TEMPLATES]:
        literal |= set(re.findall(r'\bt\(\s*"(\w+)"', path.read_text()))
    built = {f"col_{m}" for m in KEY_COLUMNS} | {f"cause_{c}" for c in CHURN_CAUSES + COMPLAINT_CAUSES}
    built |= {f"objective_{o}" for o in OBJECTIVES}
    built |= {f"money_{kind}" for kind, _ in REVENUE_KINDS}
    built |= {f"short_{c}" for c in ("churn", "complaints", "compliance")}
    built |= {f"q_{q}" for q in ("gains", "sure", "limits", "payers", "whys")}
    built |= {f"why_{k}" for k in ("no_behaviour_change", "costs_outweigh", "complaints_rise", "churn_rises")}
    built |= {f"assumptions_{g}" for g in ("uncertain", "fixed")}
    return {key for key in literal if not key.endswith("_")} | built


def test_every_language_has_the_same_messages_with_the_same_fields() -> None:
    english = catalogue("en")
    for language in LANGUAGES:
        other = catalogue(language)
        assert set(other) == set(english), language
        for key, text in english.items():
            assert placeholders(other[key]) == placeholders(text), (language, key)


def test_every_key_the_briefing_uses_exists() -> None:
    keys = used_keys()
    assert len(keys) > 60
    assert keys - set(catalogue("en")) == set()


def test_messages_are_filled_in_and_unknown_keys_fail_loudly() -> None:
    assert Messages("zh")("limits", policy="X", checks="Y") == "X：Y。"
    assert Messages("en")("limits", policy="X", checks="Y") == "X: Y."
    with pytest.raises(KeyError, match="no_such_message"):
        Messages("en")("no_such_message")
    with pytest.raises(InputError, match="language must be one of"):
        Messages("fr")


# --------------------------------------------------------------------------- Chinese in Chinese

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"

#: Latin words a Chinese text may hold: units, product and tool names, statistical names, and the
#: authors and bodies sources cite (their names are not translated).
ALLOWED_LATIN = {
    # units, codes and formats
    "pp", "EUR", "sha256", "PDF", "HTML", "CSV", "JSON",
    # products and tools
    "simlib", "Dask", "Ofcom", "TARP", "JMR",
    # statistical names
    "Beta", "sBG",
    # authors
    "Ascarza", "Iyengar", "Schleicher", "Fader", "Hardie", "Goodman", "Kalyanaram", "Winer",
    "Little", "Tversky", "Kahneman",
}  # fmt: skip
LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]+")
#: Stripped before looking for English: placeholders, `commands`, --options, key paths and field
#: names (identifiers a user types), and quoted titles of cited works (kept as published).
NOT_PROSE = re.compile(r"\{\w+\}|`[^`]*`|--\w[\w-]*|\b[a-z]\w*(?:[._]\w+)+|'[^']*'")


def english_words(text: str) -> set[str]:
    """Latin words of 2+ letters in ``text`` outside the allow-list, after stripping what is no prose."""
    return {word for word in LATIN_WORD.findall(NOT_PROSE.sub(" ", text)) if word not in ALLOWED_LATIN}


def chinese_texts() -> dict[str, str]:
    """Every Chinese text simlib ships, by where it comes from."""
    texts = {f"zh.yaml: {key}": text for key, text in catalogue("zh").items()}
    for path in parameter_fields():
        entry = parameter_text(path, "zh", currency="EUR")
        texts[f"parameters.zh.yaml: {path}"] = " ".join(filter(None, (entry.label, entry.unit, entry.source)))
    for file in sorted(SCENARIOS.glob("*.yaml")):
        scenario = simlib.load(file)
        texts[f"{file.name}: label"] = scenario.label_in("zh")
        texts[f"{file.name}: description"] = scenario.description_in("zh")
        for segment in scenario.population.segments:
            texts[f"{file.name}: segment {segment.name}"] = segment.label_in("zh")
    return texts


def test_the_word_test_catches_english() -> None:
    assert english_words("月费 per month") == {"per", "month"}
    assert (
        english_words("Fader & Hardie (2007), 'How to project customer retention'；参见 churn_alpha") == set()
    )
    assert english_words("用 `simlib batch` 和 --seed {seed} 运行") == set()


def test_chinese_is_entirely_in_chinese() -> None:
    found = {where: words for where, text in chinese_texts().items() if (words := english_words(text))}
    assert not found, found


def test_the_criminal_word_for_a_penalty_fee_is_not_used() -> None:
    assert not [where for where, text in chinese_texts().items() if "罚金" in text]


def test_every_parameter_has_a_chinese_label_and_unit() -> None:
    entries = parameter_catalogue("zh")
    fields = parameter_fields()
    assert len(fields) > 100
    missing = [p for p in fields if not (entries.get(p, {}).get("label") and entries.get(p, {}).get("unit"))]
    assert not missing, f"parameters.zh.yaml lacks a label or unit for {missing}"
    assert set(entries) <= set(fields), f"not parameters of the schema: {set(entries) - set(fields)}"
    # A source is translated where the schema gives one, and only there.
    for path, field in fields.items():
        has_source = bool((field.json_schema_extra or {}).get("source"))  # type: ignore[union-attr]
        assert has_source == ("source" in entries[path]), path


def test_parameter_text_by_key_path_with_fallback_to_the_schema() -> None:
    fee = parameter_text("fees.penalty_fee", "zh", currency="EUR")
    assert fee == ParameterText("扣款失败或逾期时每次收取的手续费（违约金）", "欧元/次", None)
    assert parameter_text("fees.penalty_fee", "en") == ParameterText(
        "Late / failed-deduction penalty fee per failed payment", "{cur}/event", None
    )
    heavy = parameter_text("population.segments[heavy].churn_alpha", "zh")
    assert heavy == parameter_text("population.segments[0].churn_alpha", "zh")
    assert heavy.source is not None and heavy.source.startswith("Fader & Hardie (2007)")
    assert parameter_text("behaviour.loss_aversion", "en").source == "Tversky & Kahneman (1992), λ ≈ 2.25"
    with pytest.raises(KeyError, match="not a parameter"):
        parameter_text("fees.no_such_fee", "zh")


def test_units_statuses_executors_and_metrics_have_chinese_names() -> None:
    from simlib.jupyter import execution
    from simlib.run.executors import describe
    from simlib.run.metrics import COSTS
    from simlib.run.results import SUMMARY_METRICS

    assert unit_text("{cur}/month", "zh", currency="EUR") == "欧元/月"
    assert unit_text("per 1,000/month", "zh") == "每千名客户每月"
    assert unit_text("share", "zh") == "比例"
    assert currency_name("EUR", "zh") == "欧元" and currency_name("XYZ", "zh") == "XYZ"
    for unit in {u for _, u in SUMMARY_METRICS.values()} | {"months", "per 1,000 customers"}:
        assert unit_text(unit, "zh", currency="EUR") not in (unit, unit.replace("{cur}", "EUR")), unit
    for metric in [*SUMMARY_METRICS, *COSTS]:
        assert metric_text(metric, "zh") != metric, metric
    statuses = [execution.SUCCEEDED, execution.FAILED, execution.TIMED_OUT, execution.KERNEL_DIED]
    statuses += [execution.COULD_NOT_START, execution.INTERRUPTED, "pending", "skipped"]
    for status in statuses:
        assert status_text(status, "zh") != status, status
    assert status_text("succeeded", "zh") == "成功" and status_text("timed out", "zh") == "超时"
    assert executor_text(describe(2, None), "zh") == "本机进程池（2 个工作进程）"
    assert executor_text(describe(3, "local"), "zh") == "本机 Dask 集群（3 个工作进程）"
    assert (
        executor_text(describe(None, "tcp://10.0.0.1:8786"), "zh") == "Dask 集群（地址 tcp://10.0.0.1:8786）"
    )
    assert executor_text(describe(2, None), "en") == describe(2, None)


def test_localized_falls_back_to_english_then_any_language() -> None:
    assert localized("plain", "zh") == "plain"
    assert localized({"en": "fee", "zh": "费用"}, "zh") == "费用"
    assert localized({"en": "fee", "zh": "费用"}, "fr") == "fee"
    assert localized({"zh": "费用"}, "en") == "费用"
    label = Text({"en": "fee", "zh": "费用"})
    assert label == "fee" and isinstance(label, str) and localized(label, "zh") == "费用"


def test_every_shipped_scenario_has_chinese_labels_and_descriptions() -> None:
    for file in sorted(SCENARIOS.glob("*.yaml")):
        scenario = simlib.load(file)
        assert scenario.label.translations.keys() == {"en", "zh"}, file.name
        assert scenario.description.translations.keys() == {"en", "zh"}, file.name
        assert scenario.label_in("en") == scenario.label  # the English stays what `label` reads
    segments = simlib.load(SCENARIOS / "baseline.yaml").population.segments
    assert [s.label_in("zh") for s in segments] == ["轻度用户", "标准用户", "重度用户"]
    assert [s.label_in("en") for s in segments] == ["light", "standard", "heavy"]
