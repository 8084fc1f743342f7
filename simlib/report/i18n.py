"""The briefing's words: one message catalogue per language (``simlib/report/messages/<lang>.yaml``).

Every sentence, heading, table header and chart label of a briefing is looked up here by key and
filled with ``str.format`` placeholders; no text of the briefing lives in code. The same catalogues
name currencies, units, run statuses, executors and metrics (:func:`unit_text`, :func:`status_text`,
:func:`executor_text`, :func:`metric_text`). Parameters are named in their own catalogue,
``parameters.<lang>.yaml``, keyed by key path (:func:`parameter_text`); English comes from the
schema itself. Scenario labels and descriptions carry their own languages
(:func:`~simlib.model.texts.localized`, re-exported here).
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from simlib.errors import InputError
from simlib.model.parameters import parameter_fields
from simlib.model.texts import LANGUAGES, localized

__all__ = [
    "LANGUAGES",
    "Messages",
    "ParameterText",
    "catalogue",
    "currency_name",
    "executor_text",
    "localized",
    "metric_text",
    "parameter_catalogue",
    "parameter_text",
    "placeholders",
    "status_text",
    "unit_text",
]
_FOLDER = Path(__file__).resolve().parent / "messages"


def _known(language: str) -> str:
    if language not in LANGUAGES:
        raise InputError(f"language must be one of {', '.join(LANGUAGES)} (got {language!r})")
    return language


@cache
def catalogue(language: str) -> dict[str, str]:
    """Every message of ``language`` by key."""
    with open(_FOLDER / f"{_known(language)}.yaml", encoding="utf-8") as handle:
        return yaml.safe_load(handle)


@dataclass(frozen=True)
class ParameterText:
    """A parameter's name, unit and source (None: a value the business sets) in one language."""

    label: str
    unit: str
    source: str | None


def catalogue_key(key_path: str) -> str:
    """The catalogue key of a parameter: list items as ``[]`` (``population.segments[heavy].share``
    and ``population.segments[0].share`` are ``population.segments[].share``)."""
    return re.sub(r"\[[^\]]*\]", "[]", key_path)


@cache
def parameter_catalogue(language: str) -> dict[str, dict[str, str]]:
    """The parameter texts of ``language`` by catalogue key; empty for English (the schema's)."""
    path = _FOLDER / f"parameters.{_known(language)}.yaml"
    if not path.exists():
        return {}
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def parameter_text(key_path: str, language: str, currency: str | None = None) -> ParameterText:
    """Label, unit and source of the parameter at ``key_path`` in ``language``.

    Parameters
    ----------
    key_path : as ``simlib describe`` lists it; list indices or segment names in brackets are
        allowed (``population.segments[heavy].churn_alpha``).
    language : a language code of :data:`LANGUAGES`.
    currency : a currency code; given, ``{cur}`` in the unit becomes its name in ``language``
        (:func:`currency_name`); else ``{cur}`` is kept.

    Whatever the language's catalogue lacks comes from the schema (English).

    Raises
    ------
    KeyError
        If ``key_path`` is no parameter of the schema.
    """
    key = catalogue_key(key_path)
    fields = parameter_fields()
    if key not in fields:
        raise KeyError(f"{key_path!r} is not a parameter of the scenario schema")
    field = fields[key]
    extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
    english = {
        "label": field.description or "",
        "unit": str(extra.get("unit", "")),
        "source": extra.get("source"),
    }
    text = {**english, **parameter_catalogue(language).get(key, {})}
    unit = text["unit"]
    if currency is not None:
        unit = unit.replace("{cur}", currency_name(currency, language))
    source = text["source"]
    return ParameterText(str(text["label"]), unit, None if source is None else str(source))


def currency_name(code: str, language: str) -> str:
    """A currency as ``language`` names it (``EUR`` is 欧元 in Chinese); unknown codes as given."""
    return catalogue(language).get(f"currency_{code}", code)


def unit_text(unit: str, language: str, currency: str | None = None) -> str:
    """A unit of the vocabulary (``{cur}/month``, ``share``, ``per 1,000/month``, …) in ``language``.

    ``{cur}`` is the scenario's currency (named as :func:`currency_name` names it); a unit the
    vocabulary lacks is returned as given.
    """
    key = "unit_" + re.sub(r"[^a-z0-9]+", "_", unit.replace("{cur}", "cur").replace("%", "percent").lower())
    text = catalogue(language).get(key.rstrip("_"))
    if text is None:
        return unit
    name = currency_name(currency, language) if currency is not None else "{cur}"
    return text.format(currency=name) if placeholders(text) else text


def status_text(status: str, language: str) -> str:
    """A run status (``succeeded``, ``timed_out``, …) in ``language``; an unknown one as given."""
    return catalogue(language).get("status_" + status.replace(" ", "_"), status)


_EXECUTORS = (
    (re.compile(r"local pool \((?P<workers>\d+) workers?\)"), "executor_local_pool"),
    (re.compile(r"dask LocalCluster \((?P<workers>\d+) workers?\)"), "executor_dask_local"),
    (re.compile(r"dask cluster at (?P<address>.+)"), "executor_dask_cluster"),
)


def executor_text(description: str, language: str) -> str:
    """Where a batch ran (as :func:`simlib.run.executors.describe` says it) in ``language``."""
    for pattern, key in _EXECUTORS:
        match = pattern.fullmatch(description)
        if match:
            return catalogue(language)[key].format(**match.groupdict())
    return description


def metric_text(metric: str, language: str) -> str:
    """The name of a metric (a column of the totals: ``net_revenue``, ``cost_audits``, …)."""
    return catalogue(language).get("metric_" + metric, metric)


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
