"""Message catalogues: the same keys and placeholders in every language, every key the code uses."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from simlib.errors import InputError
from simlib.report.briefing import KEY_COLUMNS, OBJECTIVES
from simlib.report.i18n import LANGUAGES, Messages, catalogue, placeholders
from simlib.run.metrics import CHURN_CAUSES, COMPLAINT_CAUSES

SOURCE = Path(__file__).resolve().parent.parent / "simlib" / "report" / "briefing.py"


def used_keys() -> set[str]:
    """Keys named literally in briefing.py, plus those it builds from metric and cause names."""
    literal = set(re.findall(r'self\.t\(\s*"(\w+)"', SOURCE.read_text()))
    built = {f"col_{m}" for m, _ in KEY_COLUMNS} | {f"cause_{c}" for c in CHURN_CAUSES + COMPLAINT_CAUSES}
    built |= {f"objective_{o}" for o in OBJECTIVES}
    built |= {f"{k}_baseline" for k in ("summary_tied", "summary_runner_up")}
    return literal | built


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
    assert Messages("zh")("headline_recommend", policy="X") == "推荐：X"
    assert Messages("en")("headline_recommend", policy="X") == "Recommended: X"
    with pytest.raises(KeyError, match="no_such_message"):
        Messages("en")("no_such_message")
    with pytest.raises(InputError, match="language must be one of"):
        Messages("fr")
