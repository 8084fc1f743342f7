"""The briefing's words: one message catalogue per language (``simlib/messages/<lang>.yaml``).

Every sentence, heading, table header and chart label of a briefing is looked up here by key and
filled with ``str.format`` placeholders; no text of the briefing lives in code.
"""

from __future__ import annotations

import string
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from simlib.errors import InputError

LANGUAGES = ("en", "zh")
_FOLDER = Path(__file__).resolve().parent / "messages"


@cache
def catalogue(language: str) -> dict[str, str]:
    """Every message of ``language`` by key."""
    if language not in LANGUAGES:
        raise InputError(f"language must be one of {', '.join(LANGUAGES)} (got {language!r})")
    with open(_FOLDER / f"{language}.yaml", encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def placeholders(text: str) -> set[str]:
    """The ``{name}`` fields a message expects."""
    return {field for _, field, _, _ in string.Formatter().parse(text) if field}


class Messages:
    """Messages of one language: ``messages("key", name=value)`` formats one."""

    def __init__(self, language: str = "en"):
        self.language = language
        self._messages = catalogue(language)

    def __call__(self, key: str, **values: Any) -> str:
        try:
            text = self._messages[key]
        except KeyError:
            raise KeyError(f"message {key!r} is missing from simlib/messages/{self.language}.yaml") from None
        return text.format(**values) if values or placeholders(text) else text

    def has(self, key: str) -> bool:
        return key in self._messages


# --- TEMPORARY SHIM (replaced by the zh lane) ---
from typing import NamedTuple as _NT


def localized(text, language):
    if not text:
        return ""
    if isinstance(text, str):
        return text
    return text.get(language) or text.get("en") or next(iter(text.values()))


class ParameterText(_NT):
    label: str
    unit: str
    source: str | None


def parameter_text(path, language):
    return ParameterText(path, "", None)
